"""The code one click away: an archive of the repository in the site, and notebooks that say where
their package comes from.

At the end of every HTML build:

- ``serving-ml-book.tar.gz`` is written at the site's root: exactly the files git tracks. From a
  clean work tree it is ``git archive HEAD``, the commit itself. From a work tree with uncommitted
  changes it holds the same tracked files as they are on disk, because that is what the site was
  built from; the box on the page then says "with uncommitted changes". Outside a git checkout (an
  unpacked archive, say) there is nothing to archive, and the box says where the code comes from.
- Every downloadable chapter (``_sources/notebooks/*.ipynb``, what the download button serves)
  gets a first cell that explains how to get the ``examples`` package, and stops with that
  explanation instead of a ``ModuleNotFoundError`` when the package is missing. When the
  environment variable ``BOOK_CODE`` names the code (a folder, this archive or a git URL), or on
  Colab when the repository setting is filled in, the same cell installs the book from there.

The ``{code-archive}`` directive writes the "get the code, run two commands" box; each page's
download menu gets the archive (and the book's PDF once ``make pdf`` has made one) in place of the
theme's ".pdf" button, which only opened the print dialog.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)
ARCHIVE_NAME = "serving-ml-book.tar.gz"
ARCHIVE_FOLDER = "serving-ml-book"
PDF_NAME = "serving-ml-book.pdf"
SETUP_TAG = "book-package-check"


@dataclass(frozen=True)
class Snapshot:
    """What the archive holds: a commit, whether the work tree differs from it, and the files."""

    commit: str
    dirty: bool
    files: tuple[str, ...]


def _git(repo: Path, *args: str) -> str:
    git = shutil.which("git") or "git"
    command = [git, "-C", str(repo), *args]  # fixed arguments, our own repository
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout  # noqa: S603


def snapshot(repo: Path) -> Snapshot | None:
    """The tracked files of `repo` (those present on disk), or None outside a git checkout."""
    if shutil.which("git") is None:
        return None
    try:
        top = Path(_git(repo, "rev-parse", "--show-toplevel").strip())
        commit = _git(repo, "rev-parse", "HEAD").strip()
    except subprocess.CalledProcessError:
        return None
    if top.resolve() != repo.resolve():
        return None  # repo is a folder inside some other checkout, not the book's own
    dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no").strip())
    listed = _git(repo, "ls-files", "-z").split("\0")
    files = tuple(name for name in listed if name and (repo / name).is_file())
    return Snapshot(commit=commit, dirty=dirty, files=files)


def write_archive(repo: Path, target: Path) -> Snapshot | None:
    """Write the tracked files of `repo` to `target` (a .tar.gz under ARCHIVE_FOLDER/)."""
    state = snapshot(repo)
    if state is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    if not state.dirty:
        _git(
            repo,
            "archive",
            "--format=tar.gz",
            f"--prefix={ARCHIVE_FOLDER}/",
            "-o",
            str(target),
            "HEAD",
        )
        return state
    with tarfile.open(target, "w:gz") as archive:
        for name in state.files:
            archive.add(repo / name, arcname=f"{ARCHIVE_FOLDER}/{name}", recursive=False)
    return state


def missing_package_message(archive_hint: str) -> str:
    return (
        "This notebook needs the book's package `examples`, which comes with the book's code, "
        f"not from PyPI. Get the code ({archive_hint}), unpack it, and in its folder run "
        "`make book` (it creates .venv and installs the package), then `make lab` and open this "
        "chapter from the notebooks/ folder there."
    )


CODE_VARIABLE = "BOOK_CODE"


def setup_cell_source(repository_url: str, archive_hint: str) -> str:
    """The first cell of a downloadable chapter: how to get `examples`, checked before anything.

    When the package is missing and BOOK_CODE names the code (a folder, the site's .tar.gz or a
    git URL), or on Colab when the repository setting is filled in, the cell installs the book
    from there; otherwise it stops with the explanation.
    """
    message = missing_package_message(archive_hint)
    comment = "\n".join(
        "# " + line
        for line in textwrap.wrap(
            "Serving Machine Learning: this chapter imports the book's package `examples`, which "
            f"comes with the book's code: {archive_hint}. Unpack it, run `make book` in its "
            "folder (it creates .venv with the package), then `make lab`. Or set "
            f"{CODE_VARIABLE} to that archive, an unpacked copy or a git URL, and this cell "
            "installs the book into the running Python.",
            width=95,
        )
    )
    quoted = "\n".join(f"    {line!r}" for line in _chunks(message, 80))
    return f"""{comment}
import importlib
import importlib.util
import os
import subprocess
import sys
import tarfile

BOOK_REPOSITORY = {repository_url!r}
MISSING = (
{quoted}
)
try:  # the book's own package, not any other package that happens to be called `examples`
    found = importlib.util.find_spec("examples.toolbox") is not None
except ModuleNotFoundError:
    found = False
source = os.environ.get({CODE_VARIABLE!r}) or ("google.colab" in sys.modules and BOOK_REPOSITORY)
if not found and not source:
    raise RuntimeError(MISSING)
if not found:
    folder = os.path.abspath(source if os.path.isdir(source) else {ARCHIVE_FOLDER!r})
    if not os.path.isdir(folder) and source.endswith((".tar.gz", ".tgz")):
        with tarfile.open(source) as archive:  # holds {ARCHIVE_FOLDER}/...
            archive.extractall(os.path.dirname(folder), filter="data")
    elif not os.path.isdir(folder):
        subprocess.run(["git", "clone", "--depth", "1", source, folder], check=True)
    # The pinned requirements; their last line, -e ., installs the book itself.
    pip = [sys.executable, "-m", "pip", "install", "-q", "-r", "requirements.txt"]
    subprocess.run(pip, cwd=folder, check=True)
    sys.path.insert(0, folder)  # for this kernel; a new one finds the editable install
    importlib.invalidate_caches()
    os.chdir(os.path.join(folder, "notebooks"))
    print(f"installed the book from {{source}} into {{sys.prefix}}")
    print("If Colab or Jupyter offers to restart the session, accept, then run this cell again.")
import examples.toolbox

print("the book's package is available")"""


def _chunks(text: str, width: int) -> list[str]:
    """`text` cut into pieces of about `width` characters at spaces, spaces kept."""
    return [line + " " for line in textwrap.wrap(text, width)[:-1]] + textwrap.wrap(text, width)[
        -1:
    ]


def add_setup_cell(notebook_path: Path, repository_url: str, archive_hint: str) -> bool:
    """Insert the setup cell at the top of a notebook file, once; True if it was added."""
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    if cells and SETUP_TAG in cells[0].get("metadata", {}).get("tags", []):
        return False
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "book-package-check",
        "metadata": {"tags": [SETUP_TAG]},
        "outputs": [],
        "source": setup_cell_source(repository_url, archive_hint).splitlines(keepends=True),
    }
    notebook["cells"] = [cell, *cells]
    notebook.setdefault("nbformat_minor", 5)
    notebook["nbformat_minor"] = max(notebook["nbformat_minor"], 5)  # cell ids need 4.5
    notebook_path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return True


def _repository_url(app) -> str:
    return (app.config.html_theme_options.get("repository_url") or "").strip().rstrip("/")


def _archive_hint(app) -> str:
    hint = f"the archive {ARCHIVE_NAME}, linked from the welcome page of the book's site"
    if _repository_url(app):
        hint += f", or `git clone {_repository_url(app)}`"
    return hint


def pdf_source(app) -> Path:
    """Where `make pdf` leaves the book's PDF (tools/book_pdf.py)."""
    return Path(app.outdir).parent / "pdf" / PDF_NAME


def pdf_is_current(app) -> bool:
    """A PDF exists and is newer than every page's source: an older one is not this book."""
    pdf = pdf_source(app)
    if not pdf.exists():
        return False
    sources = [Path(app.env.doc2path(name)) for name in app.env.found_docs]
    newest = max((source.stat().st_mtime for source in sources if source.exists()), default=0)
    return pdf.stat().st_mtime >= newest


class CodeArchive(SphinxDirective):
    """The "get the code, run two commands" box."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        pages = self.env.code_archive_pages = getattr(self.env, "code_archive_pages", set())
        pages.add(self.env.docname)
        depth = self.env.docname.count("/")
        prefix = "../" * depth
        state = self.env.app.code_archive_state
        box = nodes.admonition(classes=["tip", "code-archive"])
        box += nodes.title(text="Get the code, run two commands")
        intro = nodes.paragraph()
        if state is None:
            intro += nodes.Text(
                "This copy of the site was built outside a git checkout, so it carries no archive "
                "of the code: build the site from the book's repository to get one."
            )
        else:
            changes = " with uncommitted changes" if state.dirty else ""
            intro += nodes.Text("Download ")
            intro += nodes.reference(text=ARCHIVE_NAME, refuri=prefix + ARCHIVE_NAME)
            intro += nodes.Text(
                f": the {len(state.files)} files of the book's repository at commit "
            )
            intro += nodes.literal(text=state.commit[:12])
            intro += nodes.Text(f"{changes}, the one this site was built from. Then:")
        box += intro
        commands = (
            f"tar xzf {ARCHIVE_NAME} && cd {ARCHIVE_FOLDER}\n"
            "make book   # creates .venv and builds this site\n"
            "make lab    # Jupyter Lab with every chapter"
        )
        box += nodes.literal_block(commands, commands, language="console")
        box += self._pdf_paragraph(prefix)
        return [box]

    def _pdf_paragraph(self, prefix: str) -> nodes.paragraph:
        paragraph = nodes.paragraph()
        if pdf_is_current(self.env.app):
            paragraph += nodes.Text("The whole book as one file: ")
            paragraph += nodes.reference(text=PDF_NAME, refuri=prefix + PDF_NAME)
            paragraph += nodes.Text(" (made by ")
            paragraph += nodes.literal(text="make pdf")
            paragraph += nodes.Text(").")
        else:
            paragraph += nodes.literal(text="make pdf")
            paragraph += nodes.Text(" prints the whole book into one PDF file, offline.")
        return paragraph


def _always_reread(app, env, added, changed, removed) -> list[str]:
    # The commit, the file count and the PDF change without the page's source changing.
    pages = set(getattr(env, "code_archive_pages", set()))
    # Every page's download menu offers the PDF or not: when that changes (`make pdf` made one,
    # or a page changed after it), every page is written again, not only the changed ones.
    offered = pdf_is_current(app)
    if getattr(env, "code_archive_pdf_offered", None) != offered:
        env.code_archive_pdf_offered = offered
        pages |= set(env.found_docs)
    return sorted(pages - added - changed)


def _take_snapshot(app) -> None:
    app.code_archive_state = snapshot(Path(app.srcdir))


def _download_menu(app, pagename, templatename, context, doctree) -> None:
    if app.builder.name != "html" or app.code_archive_state is None:
        return
    pathto = context["pathto"]
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = [b for b in group["buttons"] if b.get("label") != "download-pdf-button"]
        buttons.append(
            {
                "type": "link",
                "url": pathto(ARCHIVE_NAME, 1),
                "text": "code .tar.gz",
                "tooltip": "Download the book's code (every file of its repository)",
                "icon": "fas fa-file-archive",
                "label": "download-archive-button",
            }
        )
        if pdf_is_current(app):
            buttons.append(
                {
                    "type": "link",
                    "url": pathto(PDF_NAME, 1),
                    "text": "book .pdf",
                    "tooltip": "Download the whole book as one PDF",
                    "icon": "fas fa-file-pdf",
                    "label": "download-book-pdf-button",
                }
            )
        group["buttons"] = buttons


def _finish(app, exception) -> None:
    if exception is not None or app.builder.name != "html":
        return
    outdir = Path(app.outdir)
    state = write_archive(Path(app.srcdir), outdir / ARCHIVE_NAME)
    if state is None:
        LOGGER.info("code archive: not a git checkout, no archive written")
    if pdf_is_current(app):
        shutil.copy2(pdf_source(app), outdir / PDF_NAME)
    else:  # none, or older than the pages: the site offers `make pdf` instead of an old copy
        (outdir / PDF_NAME).unlink(missing_ok=True)
    hint = _archive_hint(app)
    for notebook in sorted((outdir / "_sources").glob("notebooks/*.ipynb")):
        add_setup_cell(notebook, _repository_url(app), hint)


def setup(app):
    app.add_directive("code-archive", CodeArchive)
    app.connect("builder-inited", _take_snapshot)
    app.connect("env-get-outdated", _always_reread)
    app.connect("html-page-context", _download_menu, priority=600)
    app.connect("build-finished", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
