"""Launch links only when they can work: a small fixture book built with and without the setting.

The fixture copies the book's own `launch_buttons` and `repository` settings from `_config.yml`
and its `launch_links` extension, so the test checks the real configuration, not a copy of it.
A full build of the book takes about 20 s; two fixture builds take a few seconds.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tools.book_checks import REPO_ROOT

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
CONFIG = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
SET_URL = "https://github.com/example-owner/example-book"


def _notebook(path: Path, code: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell(code)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def build_fixture(folder: Path, repository_url: str) -> Path:
    """Build a two-chapter book with the book's launch settings; return its html folder."""
    _notebook(folder / "notebooks" / "01_plain.ipynb", "print(1 + 1)")
    _notebook(folder / "notebooks" / "02_proxy.ipynb", "with run_nginx([8001]) as proxy:\n    pass")
    (folder / "intro.md").write_text("# Welcome\n\nA fixture.\n")
    (folder / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        "  - file: notebooks/01_plain\n  - file: notebooks/02_proxy\n"
    )
    repository = copy.deepcopy(CONFIG["repository"])
    repository["url"] = repository_url
    config = {
        "title": "Fixture",
        "execute": {"execute_notebooks": "off"},
        "launch_buttons": CONFIG["launch_buttons"],
        "repository": repository,
        "sphinx": {"local_extensions": {"launch_links": str(REPO_ROOT / "book" / "_ext")}},
    }
    (folder / "_config.yml").write_text(yaml.safe_dump(config))
    subprocess.run(
        [str(JUPYTER_BOOK), "build", str(folder), "--warningiserror", "--quiet"],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return folder / "_build" / "html"


def launch_links(page: Path) -> list[str]:
    html = page.read_text()
    menu = re.search(r"dropdown-launch-buttons.*?</ul>", html, re.S)
    return re.findall(r'href="([^"]+)"', menu.group(0)) if menu else []


@pytest.fixture(scope="module")
def unset_site(tmp_path_factory) -> Path:
    return build_fixture(tmp_path_factory.mktemp("unset"), CONFIG["repository"]["url"])


@pytest.fixture(scope="module")
def set_site(tmp_path_factory) -> Path:
    return build_fixture(tmp_path_factory.mktemp("set"), SET_URL)


def test_the_book_ships_with_the_repository_unset():
    # github.com/serving-ml/serving-ml-book does not exist: no link may point there.
    assert CONFIG["repository"]["url"] == ""
    assert "serving-ml/serving-ml-book" not in (REPO_ROOT / "_config.yml").read_text()


def test_unset_repository_builds_no_launch_links_at_all(unset_site):
    for page in ("notebooks/01_plain.html", "notebooks/02_proxy.html"):
        html = (unset_site / page).read_text()
        assert launch_links(unset_site / page) == []
        assert "mybinder.org" not in html and "colab.research.google.com" not in html
        assert "binder-note" not in html
        assert "launch-thebe" not in html  # no dead "Live code" button either


def test_set_repository_links_binder_and_the_colab_ready_copy(set_site):
    links = launch_links(set_site / "notebooks" / "01_plain.html")
    branch = CONFIG["repository"]["branch"]
    assert links == [
        f"https://mybinder.org/v2/gh/example-owner/example-book/{branch}"
        "?urlpath=lab/tree/notebooks/01_plain.ipynb",
        "https://colab.research.google.com/github/example-owner/example-book/blob/gh-pages/"
        "_sources/notebooks/01_plain.ipynb",
    ]


def test_a_chapter_binder_cannot_run_says_so_only_when_binder_is_offered(set_site):
    assert "binder-note" not in (set_site / "notebooks" / "01_plain.html").read_text()
    proxy = (set_site / "notebooks" / "02_proxy.html").read_text()
    assert "binder-note" in proxy and "start nginx fail" in proxy


def test_binder_environment_installs_the_pinned_book_and_its_package():
    assert (REPO_ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    lines = [
        line.strip()
        for line in (REPO_ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-r ../requirements.txt"]
    # pip reads -r relative to the file, and `-e .` relative to where it runs: the repository root.
    assert (REPO_ROOT / "requirements.txt").read_text().splitlines()[-1] == "-e ."


def test_a_malformed_repository_url_stops_the_build(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as failure:
        build_fixture(tmp_path, "https://example.org/not-github")
    assert "OWNER/NAME" in failure.value.stderr.decode() + failure.value.stdout.decode()


def test_the_chapters_binder_cannot_run_are_recognised():
    sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))
    import launch_links

    notebooks = REPO_ROOT / "notebooks"
    assert launch_links.chapter_needs(notebooks / "14_api_contract.ipynb") == ["chromium"]
    assert "nginx" in launch_links.chapter_needs(notebooks / "23_scaling_out.ipynb")
    assert launch_links.chapter_needs(notebooks / "04_json.ipynb") == []
