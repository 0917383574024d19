"""The execution-status record: `-p tools.nbval_report` writes each notebook's result and time."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from tools.book_checks import REPO_ROOT


def small_notebook(path: Path, printed: str, committed: str) -> None:
    """A two-cell notebook whose second cell prints `printed` but has `committed` saved."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    first = nbformat.v4.new_code_cell("x = 1")
    second = nbformat.v4.new_code_cell(f"print({printed!r})")
    first.execution_count, second.execution_count = 1, 2  # nbval skips unrun cells
    second.outputs = [nbformat.v4.new_output("stream", name="stdout", text=committed + "\n")]
    notebook.cells = [first, second]
    nbformat.write(notebook, path)


def test_the_plugin_records_each_notebook_under_xdist(tmp_path):
    small_notebook(tmp_path / "good.ipynb", "same", "same")
    small_notebook(tmp_path / "bad.ipynb", "fresh", "stale")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # make tmp_path the rootdir
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "tools.nbval_report",
        "--nbval",
        "-n",
        "2",
        "--dist",
        "loadfile",
        "-q",
        ".",
    ]
    environment = {"PYTHONPATH": str(REPO_ROOT), "PATH": str(Path(sys.executable).parent)}
    run = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stdout + run.stderr  # bad.ipynb must fail
    results = json.loads((tmp_path / "_build" / "status" / "nbval-results.json").read_text())
    notebooks = results["notebooks"]
    assert notebooks["good.ipynb"]["cells"] == notebooks["good.ipynb"]["passed"] == 2
    assert notebooks["bad.ipynb"]["failed"] == 1 and notebooks["bad.ipynb"]["passed"] == 1
    assert all(entry["seconds"] > 0 for entry in notebooks.values())
