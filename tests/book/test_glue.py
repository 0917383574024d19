"""Numbers a cell measured reach the prose only through myst-nb's glue.

The build runs with execution off, so a paste is filled from the notebook's saved outputs: a name
pasted but never glued in an output renders as a warning, and a glued name nothing pastes is a
measurement the text forgot. Both fail here, on the real book and on a copy with each planted.
"""

import json
import shutil

import pytest
from text_guards import glue_problems, glue_uses

from tools.book_checks import REPO_ROOT


def book_copy(tmp_path):
    """The book's table of contents, notebooks and pages, copied to a temporary folder."""
    shutil.copy(REPO_ROOT / "_toc.yml", tmp_path / "_toc.yml")
    shutil.copytree(REPO_ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copytree(REPO_ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_ext"))
    return tmp_path


def new_problems(root, before):
    """What the planted change added (the real book may be mid-edit by others)."""
    return [problem for problem in glue_problems(root) if problem not in before]


def add_cells(path, *cells):
    notebook = json.loads(path.read_text())
    notebook["cells"].extend(cells)
    path.write_text(json.dumps(notebook))


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def glued_output(name):
    """A code cell as myst_nb.glue(name, value, display=False) leaves it after execution."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "source": f'glue("{name}", "1.5", display=False)',
        "outputs": [
            {
                "output_type": "display_data",
                "data": {"text/plain": "'1.5'"},
                "metadata": {"scrapbook": {"name": name, "mime_prefix": ""}},
            }
        ],
    }


def test_the_parser_reads_every_form_of_paste():
    text = (
        "{glue}`ch1-a` {glue:}`ch1-b` {glue:text}`ch1-c:.2f` {glue:md}`ch1-d`\n"
        "{glue:text}`../notebooks/17_x.ipynb::ch17-e:.1f`\n"
        "```{glue:figure} ch1-f\n```\n:::{glue} ch1-g\n:::\n"
    )
    uses = {(u.notebook, u.key) for u in glue_uses("book/page", text)}
    assert uses == {
        ("book/page", "ch1-a"),
        ("book/page", "ch1-b"),
        ("book/page", "ch1-c"),
        ("book/page", "ch1-d"),
        ("notebooks/17_x", "ch17-e"),
        ("book/page", "ch1-f"),
        ("book/page", "ch1-g"),
    }


def test_every_paste_has_a_glued_output_and_every_glued_output_is_pasted():
    problems = glue_problems(REPO_ROOT)
    assert not problems, "\n".join(problems)


def test_a_planted_paste_without_a_glue_fails(tmp_path):
    root = book_copy(tmp_path)
    before = glue_problems(root)
    add_cells(
        root / "notebooks/17_measuring_performance.ipynb", markdown("{glue:text}`ch17-nowhere`")
    )
    problems = new_problems(root, before)
    assert problems == [
        "notebooks/17_measuring_performance: pastes 'ch17-nowhere', which no cell of "
        "notebooks/17_measuring_performance glues"
    ]


def test_a_planted_glue_nobody_pastes_fails(tmp_path):
    root = book_copy(tmp_path)
    before = glue_problems(root)
    add_cells(root / "notebooks/08_faster_runtime_onnx.ipynb", glued_output("ch08-orphan"))
    assert new_problems(root, before) == [
        "notebooks/08_faster_runtime_onnx: glues 'ch08-orphan', which no page pastes"
    ]


def test_a_page_may_paste_from_a_notebook_by_path_and_a_wrong_path_fails(tmp_path):
    root = book_copy(tmp_path)
    before = glue_problems(root)
    add_cells(root / "notebooks/08_faster_runtime_onnx.ipynb", glued_output("ch08-shared"))
    page = root / "book/reliability.md"
    page.write_text(
        page.read_text() + "\n{glue:text}`../notebooks/08_faster_runtime_onnx.ipynb::ch08-shared`\n"
    )
    assert new_problems(root, before) == []
    page.write_text(page.read_text() + "\n{glue:text}`ch08-shared`\n")
    (problem,) = new_problems(root, before)
    assert problem.startswith("book/reliability: pastes 'ch08-shared' from book/reliability")


@pytest.mark.parametrize("source", ['glue("ch05-late", x)', "glue('ch05-late', x, display=False)"])
def test_a_glue_call_not_yet_in_the_saved_outputs_fails(tmp_path, source):
    root = book_copy(tmp_path)
    before = glue_problems(root)
    cell = {**glued_output("ch05-other"), "source": source, "outputs": []}
    add_cells(root / "notebooks/05_requests_client.ipynb", cell)
    assert new_problems(root, before) == [
        "notebooks/05_requests_client: a cell calls glue('ch05-late') but no saved output holds "
        "it: execute the notebook and save it"
    ]
