"""Chapter 21's check on the requirement files: every package pinned to one exact version."""

from __future__ import annotations

import re
from pathlib import Path

# name==version, optionally with extras and an environment marker; nothing looser.
PINNED = re.compile(r"^[A-Za-z0-9_.\-]+(\[[A-Za-z0-9_,\-]+\])?==[^=<>~*\s]+(\s*;.*)?$")


def unpinned_requirements(path: Path | str) -> list[str]:
    """Lines of a requirements file that name a package without one exact version."""
    loose = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#") or line.startswith("-e ") or line == "-e .":
            continue
        if line.startswith("-"):  # options such as --index-url are not packages
            continue
        if not PINNED.match(line):
            loose.append(line)
    return loose
