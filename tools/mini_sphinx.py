"""Building a small Sphinx project in a test (the site tests of the book's own extensions)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util.docutils import docutils_namespace


def build_html(source: Path, out: Path, config: dict | None = None, fresh: bool = True) -> str:
    """Build the project in `source` (its conf.py) into out/html; return the warnings' text.
    Several Sphinx apps may be built in one process: each gets clean docutils registries."""
    warnings = StringIO()
    with docutils_namespace():
        app = Sphinx(
            str(source),
            str(source),
            str(out / "html"),
            str(out / "doctrees"),
            "html",
            confoverrides=config or {},
            status=None,
            warning=warnings,
            freshenv=fresh,
        )
        app.build()
    return warnings.getvalue()
