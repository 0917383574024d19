"""`make git-textconv` shows a notebook's change as MyST text (CONTRIBUTING.md explains why the
book does not pair notebooks with text twins)."""

import subprocess
import sys
from pathlib import Path

from examples.toolbox import REPO_ROOT


def test_gitattributes_names_the_driver_for_the_chapters():
    assert "notebooks/*.ipynb diff=jupytext" in (REPO_ROOT / ".gitattributes").read_text()


def test_the_driver_renders_prose_and_code_without_outputs():
    make = (REPO_ROOT / "Makefile").read_text()
    assert '--to md:myst -o -"' in make
    jupytext = Path(sys.executable).with_name("jupytext")
    notebook = REPO_ROOT / "notebooks" / "09_hello_flask.ipynb"
    text = subprocess.run(
        [str(jupytext), "--quiet", "--to", "md:myst", "-o", "-", str(notebook)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert text.splitlines()[0] == "---" and "# Hello, Flask" in text
    assert "```{code-cell} ipython3" in text
    assert "outputs" not in text  # JSON keys are gone: only prose and code remain
