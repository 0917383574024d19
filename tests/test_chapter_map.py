"""The chapter -> code -> tests map in examples/README.md is current, and `make affected` finds
the notebooks an edit can change."""

import shutil
import subprocess
import sys

from examples.toolbox import REPO_ROOT
from tools import chapter_map


def test_the_map_in_examples_readme_is_current():
    assert chapter_map.main(["check"]) == 0, "run `make chapter-map`"


def test_a_stale_entry_is_caught(tmp_path, monkeypatch):
    """Plant a wrong row in a copy of the README: the check must fail."""
    stale = tmp_path / "README.md"
    shutil.copy(chapter_map.README, stale)
    text = stale.read_text().replace("`examples/talking/echo.py`", "`examples/talking/gone.py`", 1)
    stale.write_text(text)
    monkeypatch.setattr(chapter_map, "README", stale)
    assert chapter_map.main(["check"]) == 1


def test_the_map_lists_what_a_chapter_shows_and_the_tests_beside_it():
    rows = {line.split("|")[1].strip(" `"): line for line in chapter_map.table().splitlines()[2:]}
    assert "`examples/talking/echo.py`" in rows["02_processes_and_ports"]
    assert "`tests/talking/test_networking.py`" in rows["02_processes_and_ports"]
    assert "`examples/serving/production/storage/writer.py`" in rows["19_storing_predictions"]


def test_affected_follows_imports():
    """An edit deep inside the service changes every chapter that starts the service, not only
    the one that shows the file; an edit to chapter 2's echo server changes chapter 2 alone."""
    deep = chapter_map.affected("examples/serving/production/storage/writer.py")
    assert "notebooks/19_storing_predictions.ipynb" in deep
    assert "notebooks/26_capstone.ipynb" in deep
    assert "notebooks/02_processes_and_ports.ipynb" not in deep
    assert chapter_map.affected("examples/talking/echo.py") == [
        "notebooks/02_processes_and_ports.ipynb"
    ]


def test_make_affected_needs_a_file():
    done = subprocess.run(
        ["make", "-s", "affected", f"PYTHON={sys.executable}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "usage: make affected FILE=" in done.stdout
