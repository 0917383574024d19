"""The {nbval-status} directive: a table of every chapter's last nbval run, read at build time.

`tools/nbval_report.py` (enabled by `make nbval`) writes the results file; this extension turns it
into a table, so the status page is never typed by hand. A chapter missing from the file is shown
as "not run"; a missing file gives a note saying how to produce it.
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

RESULTS_FILE = "_build/status/nbval-results.json"


def _paragraph(text: str) -> nodes.paragraph:
    return nodes.paragraph(text=text)


def _table(header: list[str], rows: list[list[nodes.Node | str]]) -> nodes.table:
    table = nodes.table(classes=["nbval-status"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    head += nodes.row("", *[nodes.entry("", _paragraph(title)) for title in header])
    body = nodes.tbody()
    group += body
    for cells in rows:
        entries = []
        for cell in cells:
            entry = nodes.entry()
            entry += _paragraph(cell) if isinstance(cell, str) else cell
            entries.append(entry)
        body += nodes.row("", *entries)
    return table


class NbvalStatus(SphinxDirective):
    """Render the results of the last `make nbval` run as a table, one row per chapter."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        path = Path(self.env.srcdir) / self.config.nbval_status_file
        self.env.note_dependency(str(path))
        if not hasattr(self.env, "nbval_status_pages"):
            self.env.nbval_status_pages = set()
        self.env.nbval_status_pages.add(self.env.docname)
        chapters = sorted(name for name in self.env.found_docs if name.startswith("notebooks/"))
        if not path.exists():
            message = nodes.paragraph()
            message += nodes.Text("No nbval run is recorded in this build (")
            message += nodes.literal(text=self.config.nbval_status_file)
            message += nodes.Text(" does not exist): run ")
            message += nodes.literal(text="make nbval")
            message += nodes.Text(" before ")
            message += nodes.literal(text="make book")
            message += nodes.Text(".")
            return [message]
        results = json.loads(path.read_text())
        notebooks = results.get("notebooks", {})
        rows = []
        for name in chapters:
            result = notebooks.get(f"{name}.ipynb")
            reference = nodes.paragraph()
            reference += self._link(name)
            if result is None:
                rows.append([reference, "not run", "", ""])
                continue
            verdict = "passed" if result["failed"] == 0 else "FAILED"
            cells = f"{result['passed']} of {result['cells']} cells"
            rows.append([reference, verdict, cells, f"{result['seconds']:.1f} s"])
        summary = _paragraph(
            f"Last run finished {results.get('finished', 'at an unknown time')} with nbval "
            f"{results.get('nbval_version', '?')} on Python {results.get('python', '?')}; "
            f"total {results.get('seconds', 0):.0f} s of cell time."
        )
        return [summary, _table(["chapter", "result", "cells that matched", "run time"], rows)]

    def _link(self, docname: str) -> nodes.Node:
        from sphinx.addnodes import pending_xref

        xref = pending_xref(
            "",
            refdomain="std",
            reftype="doc",
            reftarget=f"/{docname}",
            refexplicit=False,
            refwarn=True,
            refdoc=self.env.docname,
        )
        xref += nodes.literal(text=docname)
        return xref


def _always_reread(app, env, added, changed, removed) -> list[str]:
    # The list of chapters comes from the whole toc, so re-read the status page on every build.
    return sorted(getattr(env, "nbval_status_pages", set()))


def setup(app):
    app.connect("env-get-outdated", _always_reread)
    app.add_config_value("nbval_status_file", RESULTS_FILE, "env")
    app.add_directive("nbval-status", NbvalStatus)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
