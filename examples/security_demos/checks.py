"""Checks of the security checklist (chapter 21) that read files rather than run the service."""

from __future__ import annotations

import re
from pathlib import Path

from examples.model import ModelMetadata

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


def middle_of_domain(metadata: ModelMetadata) -> dict[str, float]:
    """A valid wine: each feature at the middle of its allowed range."""
    return {
        name: round((limits["allowed_min"] + limits["allowed_max"]) / 2, 3)
        for name, limits in metadata.domain.items()
    }
