"""Helpers for planting an error in a copy of a deployment file."""

from pathlib import Path

import pytest

from .checks import REPO_ROOT


@pytest.fixture
def plant(tmp_path):
    """plant("compose.yaml", old, new): a copy of the repository file in tmp_path with the text
    `old` replaced by `new` (which must occur exactly once, so the planted error is the one meant)."""

    def make_copy(relative: str, old: str, new: str, name: str | None = None) -> Path:
        text = (REPO_ROOT / relative).read_text()
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
        copy = tmp_path / (name or Path(relative).name)
        copy.write_text(text.replace(old, new))
        return copy

    return make_copy
