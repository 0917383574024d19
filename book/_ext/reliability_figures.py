"""MyST substitutions for book/reliability.md, read from the reliability suite's last recorded run.

`RELIABILITY_FIGURES=tests/reliability/last-run.txt pytest tests/reliability` writes one
`name: text` line per figure (tests/reliability/conftest.py), starting with when, where and on
which commit the run took place. The record is committed, and the page shows it through
`{{ reliability_load_c_1 }}` and the like, so that no figure on it is typed by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORD = REPO_ROOT / "tests" / "reliability" / "last-run.txt"
# The names the page uses; each gets a placeholder when the record lacks it.
EXPECTED = (
    "run started", "run commit", "run machine", "run scale", "run duration", "run outcome",
    "schemathesis", "hypothesis bodies", "load c=1", "load c=8", "load c=32",
    "SIGKILL worker", "SIGTERM master", "locked database", "rate limit", "scaled out",
)  # fmt: skip


def substitution_name(name: str) -> str:
    """'load c=32' -> 'reliability_load_c_32'."""
    return "reliability_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def figures(record: Path = RECORD) -> dict[str, str]:
    """Substitution name -> recorded text; a figure the record lacks reads 'not recorded'."""
    found = {substitution_name(name): "not recorded" for name in EXPECTED}
    if record.exists():
        for line in record.read_text().splitlines():
            name, separator, text = line.partition(": ")
            if separator:
                found[substitution_name(name)] = text.strip()
    return found


def add_substitutions(app: Sphinx, config: Config) -> None:
    config.myst_substitutions = {**figures(), **(config.myst_substitutions or {})}


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", add_substitutions, priority=450)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
