"""The code one click away: the site's archive of the repository, and downloadable chapters that
say where their package comes from (book/_ext/code_archive.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.imported_from import examples_location
from tools.book_checks import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

import code_archive  # noqa: E402 - lives in book/_ext, which Sphinx loads by path

SITE = Path(os.environ.get("BOOK_HTML", REPO_ROOT / "_build" / "html"))
PREFIX = f"{code_archive.ARCHIVE_FOLDER}/"


def tracked_files(repo: Path) -> set[str]:
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], check=True, capture_output=True, text=True
    ).stdout.split("\0")
    return {name for name in listed if name and (repo / name).is_file()}


def archived_files(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as opened:
        return {
            member.name.removeprefix(PREFIX): opened.extractfile(member).read()
            for member in opened.getmembers()
            if member.isfile()
        }


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def toy_repo(tmp_path) -> Path:
    repo = tmp_path / "repo"
    (repo / "examples").mkdir(parents=True)
    (repo / "examples" / "__init__.py").write_text("VERSION = 1\n")
    (repo / "README.md").write_text("toy\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "toy")
    (repo / "untracked.txt").write_text("not part of the code\n")
    return repo


def test_the_archive_of_this_repository_holds_exactly_its_tracked_files(tmp_path):
    state = code_archive.write_archive(REPO_ROOT, tmp_path / "code.tar.gz")
    assert state is not None
    with tarfile.open(tmp_path / "code.tar.gz") as opened:
        names = opened.getnames()
    assert all(name.startswith(PREFIX) or name == PREFIX.rstrip("/") for name in names)
    assert set(archived_files(tmp_path / "code.tar.gz")) == tracked_files(REPO_ROOT)
    assert set(state.files) == tracked_files(REPO_ROOT)


def test_a_clean_tree_is_archived_as_its_commit(toy_repo, tmp_path):
    state = code_archive.write_archive(toy_repo, tmp_path / "code.tar.gz")
    assert state is not None and not state.dirty
    files = archived_files(tmp_path / "code.tar.gz")
    assert set(files) == {"README.md", "examples/__init__.py"}  # not the untracked file


def test_a_dirty_tree_is_archived_as_built_and_says_so(toy_repo, tmp_path):
    (toy_repo / "examples" / "__init__.py").write_text("VERSION = 2\n")
    state = code_archive.write_archive(toy_repo, tmp_path / "code.tar.gz")
    assert state is not None and state.dirty
    files = archived_files(tmp_path / "code.tar.gz")
    assert set(files) == {"README.md", "examples/__init__.py"}
    assert files["examples/__init__.py"] == b"VERSION = 2\n"


def test_outside_a_checkout_there_is_no_archive(tmp_path):
    (tmp_path / "plain").mkdir()
    assert code_archive.write_archive(tmp_path / "plain", tmp_path / "code.tar.gz") is None
    assert not (tmp_path / "code.tar.gz").exists()


def test_the_unpacked_archive_passes_the_books_own_check_of_a_chapter(tmp_path):
    """Strict nbval of chapter 4 from the unpacked copy, with that copy's `examples` package.

    The third-party packages come from this repository's .venv (installing them again would take
    minutes); the book's own code comes from the unpacked copy, put first on PYTHONPATH, and the
    kernel's `examples.__file__` is checked to be the unpacked one.
    """
    code_archive.write_archive(REPO_ROOT, tmp_path / "code.tar.gz")
    with tarfile.open(tmp_path / "code.tar.gz") as opened:
        opened.extractall(tmp_path, filter="data")
    copy = tmp_path / code_archive.ARCHIVE_FOLDER
    env = {**os.environ, "PYTHONPATH": str(copy)}
    where = examples_location(copy / "notebooks", env)
    assert where.is_relative_to(copy), where
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval",
            "--nbval-sanitize-with",
            "nbval_sanitize.cfg",
            "notebooks/04_json.ipynb",
        ],
        env=env,
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def _chapter_copy(tmp_path: Path) -> Path:
    target = tmp_path / "04_json.ipynb"
    shutil.copy(REPO_ROOT / "notebooks" / "04_json.ipynb", target)
    assert code_archive.add_setup_cell(target, "", "the archive serving-ml-book.tar.gz")
    return target


def test_the_setup_cell_is_added_once_and_first(tmp_path):
    target = _chapter_copy(tmp_path)
    assert not code_archive.add_setup_cell(target, "", "the archive")  # a second build: no change
    notebook = nbformat.read(target, as_version=4)
    nbformat.validate(notebook)
    original = nbformat.read(REPO_ROOT / "notebooks" / "04_json.ipynb", as_version=4)
    assert len(notebook.cells) == len(original.cells) + 1
    assert notebook.cells[0].metadata["tags"] == [code_archive.SETUP_TAG]
    assert [cell.source for cell in notebook.cells[1:]] == [cell.source for cell in original.cells]


def test_a_downloaded_chapter_without_the_package_says_how_to_get_it(tmp_path):
    """The first cell, run by a Python without `examples` (Debian's python3), stops with the how-to."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        pytest.skip("no /usr/bin/python3 to play a reader's machine")
    missing = subprocess.run(
        [python, "-I", "-c", "import examples"], capture_output=True, cwd=tmp_path
    )
    assert missing.returncode != 0, "the system python has the package; pick another"
    source = nbformat.read(_chapter_copy(tmp_path), as_version=4).cells[0].source
    result = subprocess.run(
        [python, "-I", "-c", source],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_without_book_code(),
    )
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("RuntimeError: This notebook needs the book's package `examples`")
    assert "make book" in last_line and "serving-ml-book.tar.gz" in last_line
    assert "ModuleNotFoundError" not in result.stderr


def _without_book_code() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"BOOK_CODE", "PYTHONPATH"}}


def test_another_package_called_examples_is_not_taken_for_the_books(tmp_path):
    """Debian's python3 (without the book) in a folder that holds someone else's `examples`."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        pytest.skip("no /usr/bin/python3 to play a reader's machine")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "__init__.py").write_text("")
    source = nbformat.read(_chapter_copy(tmp_path), as_version=4).cells[0].source
    result = subprocess.run(
        [python, "-E", "-s", "-c", source],  # -c: the current folder comes first on the path
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_without_book_code(),
    )
    assert result.returncode == 1
    assert "RuntimeError: This notebook needs the book's package" in result.stderr


def test_the_first_cell_installs_the_book_from_the_archive_into_a_fresh_venv(tmp_path):
    """The Colab path, offline as far as it can be: a fresh venv without the book, BOOK_CODE
    pointing at the site's archive. The venv sees this .venv's third-party packages through a
    path file (installing them again would take minutes), so pip installs only the book; pip
    still fetches setuptools from the package index to build it (pyproject.toml asks for
    setuptools>=68, newer than the one a venv starts with). The real Colab is not tested here."""
    archive = tmp_path / code_archive.ARCHIVE_NAME
    code_archive.write_archive(REPO_ROOT, archive)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A plain path entry: the .pth files in that folder (the book's editable install) stay unread.
    theirs = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (Path(purelib) / "book_dependencies.pth").write_text(theirs + "\n")
    reader = tmp_path / "reader"
    reader.mkdir()
    environment = _without_book_code()
    check = [python, "-c", "import examples"]
    assert subprocess.run(check, cwd=reader, env=environment, capture_output=True).returncode
    source = nbformat.read(_chapter_copy(tmp_path), as_version=4).cells[0].source
    result = subprocess.run(
        [python, "-c", source],
        capture_output=True,
        text=True,
        cwd=reader,
        env={**environment, "BOOK_CODE": str(archive)},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"installed the book from {archive}" in result.stdout
    assert result.stdout.endswith("the book's package is available\n")
    where = examples_location(tmp_path, environment, python)  # the editable install's copy
    assert where.is_relative_to(reader / code_archive.ARCHIVE_FOLDER), where


def test_a_downloaded_chapter_with_the_package_runs_its_first_cell_quietly(tmp_path):
    notebook = nbformat.read(_chapter_copy(tmp_path), as_version=4)
    notebook.cells = notebook.cells[:1]
    NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert notebook.cells[0].outputs[0]["text"] == "the book's package is available\n"


# With the browser tests (`make browser`, after `make book`): `make test` runs the other tests
# before it builds the site, so there this test would always find no site and skip.
@pytest.mark.browser
def test_the_built_site_offers_the_archive_and_ready_chapters():
    if not (SITE / "index.html").exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first")
    assert (SITE / code_archive.ARCHIVE_NAME).stat().st_size > 100_000
    chapters = sorted((SITE / "_sources" / "notebooks").glob("*.ipynb"))
    assert chapters
    for chapter in chapters:
        first = json.loads(chapter.read_text())["cells"][0]
        assert first["metadata"]["tags"] == [code_archive.SETUP_TAG], chapter.name
    for page in ("book/welcome.html", "book/setup.html", "notebooks/04_json.html"):
        assert f'href="../{code_archive.ARCHIVE_NAME}"' in (SITE / page).read_text(), page
    assert "download-pdf-button" not in (SITE / "notebooks" / "04_json.html").read_text()
    assert (SITE / ".nojekyll").exists()  # published on GitHub Pages, _static/ and _sources/ stay


def test_the_site_offers_the_pdf_only_when_it_is_newer_than_every_page(tmp_path):
    from types import SimpleNamespace

    page = tmp_path / "chapter.ipynb"
    page.write_text("{}")
    env = SimpleNamespace(found_docs={"chapter"}, doc2path=lambda name: tmp_path / f"{name}.ipynb")
    app = SimpleNamespace(outdir=tmp_path / "_build" / "html", env=env)
    assert not code_archive.pdf_is_current(app)  # no PDF at all
    pdf = code_archive.pdf_source(app)
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-")
    os.utime(page, (pdf.stat().st_mtime + 10,) * 2)  # the chapter changed after the PDF
    assert not code_archive.pdf_is_current(app)
    os.utime(pdf, (page.stat().st_mtime + 10,) * 2)
    assert code_archive.pdf_is_current(app)


def test_every_page_is_written_again_when_the_pdf_appears_or_goes(tmp_path):
    from types import SimpleNamespace

    for name in ("welcome", "chapter"):
        (tmp_path / f"{name}.md").write_text("# page\n")
    env = SimpleNamespace(
        found_docs={"welcome", "chapter"},
        code_archive_pages={"welcome"},
        doc2path=lambda name: tmp_path / f"{name}.md",
    )
    app = SimpleNamespace(outdir=tmp_path / "_build" / "html", env=env)
    reread = code_archive._always_reread
    assert reread(app, env, set(), set(), set()) == ["chapter", "welcome"]  # first build
    assert reread(app, env, set(), set(), set()) == ["welcome"]  # nothing changed
    pdf = code_archive.pdf_source(app)
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-")
    os.utime(pdf, (pdf.stat().st_mtime + 10,) * 2)
    assert reread(app, env, set(), set(), set()) == ["chapter", "welcome"]  # `make pdf` ran
    assert reread(app, env, set(), set(), set()) == ["welcome"]
