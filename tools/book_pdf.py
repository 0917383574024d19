"""`make pdf`: the whole book as one PDF, offline.

Jupyter Book builds every page into one long HTML page (the `singlehtml` builder); Debian's
chromium prints that page to PDF with the theme's print styles, after giving MathJax time to
typeset. The file lands in `_build/pdf/serving-ml-book.pdf`; the next `make book` copies it into
the site and links it from the welcome page and every download menu (book/_ext/code_archive.py).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.book_checks import REPO_ROOT
from tools.chromium import CHROMIUM_FLAGS

PDF_NAME = "serving-ml-book.pdf"
PDF_FLAGS = [
    *CHROMIUM_FLAGS,
    "--no-pdf-header-footer",
    "--virtual-time-budget=60000",  # let MathJax finish before printing
]


def page_count(pdf: Path) -> int:
    """Pages in a PDF chromium wrote: its page objects (`/Type /Page`, not `/Pages`)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf.read_bytes()))


def build_single_page(output: Path) -> Path:
    """Build the book as one HTML page under `output`; return that page."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run(  # noqa: S603 - our own fixed command line
        [
            str(jupyter_book),
            "build",
            str(REPO_ROOT),
            "--builder",
            "singlehtml",
            "--quiet",
            "--path-output",
            str(output),
        ],
        check=True,
        timeout=900,
    )
    return output / "_build" / "singlehtml" / "book" / "welcome.html"


def print_to_pdf(page: Path, target: Path, chromium: str = "/usr/bin/chromium") -> None:
    if not Path(chromium).exists():
        raise SystemExit(f"{chromium} is not installed: run `make system-deps` as root")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603 - our own fixed command line
            [
                chromium,
                *PDF_FLAGS,
                f"--user-data-dir={profile}",
                f"--print-to-pdf={target}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "_build" / "pdf" / PDF_NAME)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        page = build_single_page(Path(folder))
        print_to_pdf(page, args.output)
    print(f"{args.output}: {page_count(args.output)} pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
