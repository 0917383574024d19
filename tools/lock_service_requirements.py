"""Write requirements-service.txt: the service's runtime packages, pinned as in requirements.txt,
with the SHA-256 of every file pip would install on this platform (`pip install --require-hashes`).

Run after changing a pin: `.venv/bin/python tools/lock_service_requirements.py` (needs the package
index; it builds a throwaway virtual environment to find what the runtime packages pull in).
"""

from __future__ import annotations

import hashlib
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
]  # fmt: skip
HEADER = """\
# The reference service's runtime dependencies only: what the container image installs.
# Same pins as requirements.txt (tests/test_requirements.py checks it), with the SHA-256 of
# each file, so `pip install --require-hashes` refuses any file that is not the one we tested.
# The hashes are for CPython 3.11 on Linux x86-64 (the image's platform); regenerate with
# `python tools/lock_service_requirements.py` after changing a pin.
"""


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout  # noqa: S603


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        constraints = work_dir / "constraints.txt"
        pinned = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#")]  # fmt: skip
        constraints.write_text("\n".join(pinned) + "\n")
        run(sys.executable, "-m", "venv", str(work_dir / "venv"))
        pip = str(work_dir / "venv" / "bin" / "pip")
        run(pip, "install", "-qq", "-c", str(constraints), *RUNTIME_PACKAGES)
        frozen = [line for line in run(pip, "freeze").splitlines() if "==" in line]
        downloads = work_dir / "files"
        run(pip, "download", "-qq", "--no-deps", "-d", str(downloads), *frozen)
        hashes: dict[str, list[str]] = {}
        for file in downloads.iterdir():
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            hashes.setdefault(normalized(file.name.split("-")[0]), []).append(digest)
    entries = []
    for pin in sorted(frozen, key=str.lower):
        name = pin.split("==")[0]
        lines = [f"    --hash=sha256:{digest}" for digest in sorted(hashes[normalized(name)])]
        entries.append(" \\\n".join([pin, *lines]))
    (ROOT / "requirements-service.txt").write_text(HEADER + "\n".join(entries) + "\n")
    print(f"wrote requirements-service.txt: {len(entries)} packages")


if __name__ == "__main__":
    main()
