"""`make pdf`: the whole book printed to one PDF by chromium (tools/book_pdf.py).

Uses the PDF `make pdf` left in `_build/pdf/` when it is newer than every page of the book;
otherwise prints a fresh one into a temporary folder (a few minutes: a single-page build of the
book, then chromium prints it), so an old PDF cannot pass for the book as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools import book_pdf
from tools.book_checks import REPO_ROOT, source_path, toc_files

pytestmark = pytest.mark.browser


def newest_source() -> float:
    """When the newest page of the book (or the table of contents) last changed."""
    sources = [source_path(name) for name in toc_files()] + [REPO_ROOT / "_toc.yml"]
    return max(path.stat().st_mtime for path in sources)


@pytest.fixture(scope="module")
def pdf(tmp_path_factory) -> Path:
    made = Path(os.environ.get("BOOK_PDF", REPO_ROOT / "_build" / "pdf" / book_pdf.PDF_NAME))
    if made.exists() and made.stat().st_mtime > newest_source():
        return made
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is not installed: run `make system-deps` as root")
    target = tmp_path_factory.mktemp("pdf") / book_pdf.PDF_NAME
    book_pdf.main(["--output", str(target)])
    return target


def test_the_pdf_is_a_real_pdf_of_the_whole_book(pdf):
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # Every page of the book, at least three printed pages each on average (157 here).
    assert book_pdf.page_count(pdf) >= 3 * len(toc_files())


def test_page_count_reads_page_objects_not_the_page_tree(tmp_path):
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.4\n<< /Type /Pages /Count 2 >>\n<< /Type /Page >>\n<</Type/Page>>\n")
    assert book_pdf.page_count(fake) == 2
