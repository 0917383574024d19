"""Write requirements-service.txt: the service's runtime packages, pinned as in requirements.txt,
plus the build backend that installs the app, with the SHA-256 of the file pip would install for
CPython 3.11 on Linux x86-64 and on Linux arm64 (aarch64), so `pip install --require-hashes` works
on both (an Apple Silicon laptop builds arm64 images).

Run after changing a pin: `.venv/bin/python tools/lock_service_requirements.py` (needs the package
index). pip resolves once per platform without installing anything (`--dry-run --report`) and
reports the file it chose and the index's digest of it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What examples/serving and examples/model import (chapter 22's last exercise lists them).
RUNTIME_PACKAGES = [
    "alembic", "flask", "gunicorn", "numpy", "onnxruntime", "orjson", "pandas", "prometheus-client",
    "pydantic", "PyJWT", "scikit-learn", "skl2onnx", "skops", "SQLAlchemy", "swagger-ui-bundle",
    "argon2-cffi", "flask-cors",
    # The shared-state setup (compose.yaml's profile, Kubernetes): SQLAlchemy's PostgreSQL driver
    # for a postgresql+psycopg:// SERVING_DATABASE_URL, and the Redis client.
    "psycopg[binary]", "redis",
]  # fmt: skip
# The build backend pyproject.toml names: the image installs the app with --no-build-isolation,
# so pip uses this hashed copy instead of fetching whatever setuptools is newest.
BUILD_BACKEND = "setuptools==84.0.0"
# The image's base is Debian bookworm (glibc 2.36): pip there accepts manylinux wheels built for
# glibc 2.36 down to 2.17 (manylinux2014, which pip widens to older ones), most specific first.
GLIBC_MINORS = range(36, 16, -1)
ARCHITECTURES = ("x86_64", "aarch64")
HEADER = """\
# The reference service's runtime dependencies only: what the container image installs.
# Same pins as requirements.txt (tests/test_requirements.py checks it), plus the build backend
# (setuptools) that installs the app itself, with the SHA-256 of each file, so
# `pip install --require-hashes` refuses any file that is not the one we locked.
# The hashes cover CPython 3.11 on Linux x86-64 AND Linux arm64 (aarch64): a package with compiled
# code has one file per architecture, so two hashes; a pure-Python package has one file for both.
# The comment lines under each entry name the file each hash belongs to (the tests read them).
# Regenerate with `python tools/lock_service_requirements.py` after changing a pin.
"""


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(architecture: str, constraints: Path, work_dir: Path) -> dict[str, tuple[str, dict]]:
    """What pip would install on Linux `architecture`: {name: (version, {file name: sha256})}."""
    platforms = [f"manylinux_2_{minor}_{architecture}" for minor in GLIBC_MINORS]
    report = work_dir / f"{architecture}.json"
    args = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
            "--report", str(report), "--only-binary=:all:", "--python-version", "3.11",
            "--implementation", "cp", "--abi", "cp311", "--target", str(work_dir / "target"),
            *(f"--platform={platform}" for platform in platforms),
            f"--platform=manylinux2014_{architecture}",
            "-c", str(constraints), *RUNTIME_PACKAGES, BUILD_BACKEND]  # fmt: skip
    subprocess.run(args, check=True)  # noqa: S603 - our own arguments, no shell
    chosen = {}
    for item in json.loads(report.read_text())["install"]:
        download = item["download_info"]
        file_name = download["url"].rsplit("/", 1)[-1]
        digest = download["archive_info"]["hashes"]["sha256"]
        chosen[item["metadata"]["name"]] = (item["metadata"]["version"], {file_name: digest})
    return chosen


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        constraints = work_dir / "constraints.txt"
        pinned = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#")]  # fmt: skip
        constraints.write_text("\n".join(pinned) + "\n")
        per_architecture = [resolve(arch, constraints, work_dir) for arch in ARCHITECTURES]
    names = {normalized(name): name for chosen in per_architecture for name in chosen}
    entries = []
    for key in sorted(names):
        versions = {chosen[name][0] for chosen in per_architecture for name in chosen
                    if normalized(name) == key}  # fmt: skip
        if len(versions) != 1:
            raise SystemExit(f"{names[key]}: different versions per architecture: {versions}")
        files: dict[str, str] = {}
        for chosen in per_architecture:
            for name, (_, found) in chosen.items():
                if normalized(name) == key:
                    files.update(found)
        pin = f"{names[key]}=={versions.pop()}"
        digests = sorted(set(files.values()))
        lines = [pin, *(f"    --hash=sha256:{digest}" for digest in digests)]
        notes = [f"    # sha256:{digest[:16]}  {name}" for name, digest in sorted(files.items())]
        entries.append(" \\\n".join(lines) + "\n" + "\n".join(notes))
    (ROOT / "requirements-service.txt").write_text(HEADER + "\n".join(entries) + "\n")
    print(f"wrote requirements-service.txt: {len(entries)} packages")


if __name__ == "__main__":
    main()
