"""The book's structural rules: every notebook is in the table of contents and was run cleanly."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 30
FORBIDDEN_MAGICS = re.compile(r"^\s*(!pip|%pip|%store|%%writefile)", re.MULTILINE)


def toc_files(node=None) -> list[str]:
    """Every `file:` entry of _toc.yml, in reading order."""
    if node is None:
        node = yaml.safe_load((ROOT / "_toc.yml").read_text())
        return [node["root"], *toc_files(node)]
    found = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []) or []:
                found.extend(toc_files(child))
    return found


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no chapter"


def test_every_toc_entry_exists():
    for entry in toc_files():
        candidates = [ROOT / f"{entry}{suffix}" for suffix in (".md", ".ipynb", "")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry}, which does not exist"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_toc(notebook):
    assert notebook.relative_to(ROOT).with_suffix("").as_posix() in toc_files()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_the_python3_kernel(notebook):
    kernelspec = json.loads(notebook.read_text())["metadata"].get("kernelspec", {})
    assert kernelspec.get("name") == "python3"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_was_run_top_to_bottom(notebook):
    counts = [cell["execution_count"] for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), "restart the kernel and run all, then save"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_only_in_cells_meant_to_fail(notebook):
    for index, cell in enumerate(code_cells(notebook)):
        failed = any(output["output_type"] == "error" for output in cell["outputs"])
        meant_to = "raises-exception" in cell["metadata"].get("tags", [])
        assert failed == meant_to, f"code cell {index}: error output {failed}, tagged {meant_to}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_are_short_and_clean(notebook):
    for index, cell in enumerate(code_cells(notebook)):
        source = "".join(cell["source"])
        assert len(source.splitlines()) <= MAX_CELL_LINES, f"code cell {index} is too long"
        assert not FORBIDDEN_MAGICS.search(source), f"code cell {index} installs or stores things"
