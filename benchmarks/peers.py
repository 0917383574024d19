"""The serving frameworks a reader might pick instead of ours, each in its own virtual environment.

BentoML and LitServe bring some 400 MB of packages the book does not otherwise need. The harness
makes one virtual environment for both, outside the repository, the first time a run needs it,
from the pins in benchmarks/peer-requirements.txt; later runs reuse it while the pins are the same.
The peers import `examples` from the repository they are measured from (PYTHONPATH), so a cached
environment never serves another clone's code.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

from examples.toolbox import REPO_ROOT

PINS = REPO_ROOT / "benchmarks" / "peer-requirements.txt"
INSTALL_TIMEOUT_S = 900


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "serving-ml-book"


def environment_dir() -> Path:
    """One folder per set of pins and Python version: a changed pin makes a new environment."""
    key = hashlib.sha256(PINS.read_bytes() + sys.version.encode()).hexdigest()[:16]
    return cache_root() / f"peers-{key}"


def peer_python(log=print) -> Path:
    """The peers' interpreter, installing their environment first if it is not complete. Raises
    RuntimeError with uv's last lines when the packages cannot be installed."""
    folder = environment_dir()
    python, done = folder / "bin" / "python", folder / ".complete"
    if done.exists():
        return python
    log(f"installing the framework peers' environment into {folder} (once)")
    venv.EnvBuilder(with_pip=False, clear=True).create(folder)
    # uv, from the book's own environment (requirements.txt pins it), installs into the new one,
    # compiled to bytecode as pip does (else every peer's first start compiles its imports).
    finished = subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--compile-bytecode",
         "--python", str(python), "-r", str(PINS)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    if finished.returncode != 0:
        raise RuntimeError(f"uv could not install the peers: {finished.stderr.strip()[-400:]}")
    done.write_text(PINS.read_text())
    return python


def peer_env() -> dict[str, str]:
    """What every peer process needs: our package importable, and no telemetry."""
    return {"PYTHONPATH": str(REPO_ROOT), "BENTOML_DO_NOT_TRACK": "True",
            "BENTOML_HOME": str(cache_root() / "bentoml-home"), "PEER_WORKERS": "2"}  # fmt: skip


def bentoml_command(python: Path) -> list[str]:
    return [str(python), "-m", "bentoml", "serve", "examples.production.contenders.bentoml_peer:WineClassifier",
            "--host", "127.0.0.1", "--port", "{port}"]  # fmt: skip


def litserve_command(python: Path) -> list[str]:
    return [str(python), "-m", "examples.production.contenders.litserve_peer", "--port", "{port}"]


def describe() -> dict | None:
    """What the peers' environment weighs and holds, for the report; None if it is not built."""
    folder = environment_dir()
    if not (folder / ".complete").exists():
        return None
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    pinned = dict(line.split("==", 1) for line in PINS.read_text().splitlines()
                  if "==" in line and not line.startswith("#"))  # fmt: skip
    return {"environment_mb": round(size / 2**20), "packages": len(pinned),
            "versions": {name: pinned[name] for name in ("bentoml", "litserve") if name in pinned}}  # fmt: skip
