"""Where a new Python process imports the book's `examples` package from, for the tests that check
which copy of the book a kernel, a download or `make live` really runs."""

import subprocess
import sys
from pathlib import Path


def examples_location(cwd: Path, env: dict[str, str], python: str | Path = sys.executable) -> Path:
    """`examples.__file__` as a fresh `python` sees it in `cwd` with `env` (not this process's
    sys.path). Importing `examples.toolbox` too proves the package is whole, not just found."""
    printed = subprocess.run(
        [python, "-c", "import examples.toolbox; print(examples.__file__)"],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.strip()
    return Path(printed)
