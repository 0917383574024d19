"""book/reliability.md shows the suite's recorded figures, none typed by hand: every substitution
it uses is defined by book/_ext/reliability_figures.py, and the committed record holds them all."""

from __future__ import annotations

import os
import re
import sys

import pytest

from examples.toolbox import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))
import reliability_figures  # noqa: E402

PAGE = REPO_ROOT / "book" / "reliability.md"


def test_the_page_uses_only_recorded_figures():
    used = set(re.findall(r"\{\{\s*(reliability_[a-z0-9_]+)\s*\}\}", PAGE.read_text()))
    defined = {reliability_figures.substitution_name(name) for name in reliability_figures.EXPECTED}
    assert used and used <= defined, used - defined


@pytest.mark.skipif(
    bool(os.environ.get("RELIABILITY_FIGURES")), reason="the record is being written by this run"
)
def test_the_committed_record_says_when_where_and_how_it_went():
    found = reliability_figures.figures()
    missing = [name for name, text in found.items() if text == "not recorded"]
    header = [f"reliability_run_{part}" for part in ("started", "commit", "machine", "outcome")]
    assert reliability_figures.RECORD.exists() and not set(header) & set(missing), missing
    # A figure may be missing only when its test failed before recording it (the page says so).
    assert not missing or not found["reliability_run_outcome"].endswith(" 0 failed"), missing


def test_a_record_line_becomes_a_substitution(tmp_path):
    record = tmp_path / "run.txt"
    record.write_text("load c=32: 300 requests in ~2.8 s\nrun commit: abc1234\n")
    found = reliability_figures.figures(record)
    assert found["reliability_load_c_32"] == "300 requests in ~2.8 s"
    assert found["reliability_run_commit"] == "abc1234"
    assert found["reliability_sigkill_worker"] == "not recorded"
