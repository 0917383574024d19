"""Search aliases: phrases a reader types that Sphinx's word search cannot find on the right page.

Sphinx's search splits a query into words at every character that is not a letter or a digit, so
"0.0.0.0" becomes four zeros that match every page. The search does, however, match the whole
query against index entries first, and ranks a *main* entry above everything else. This extension
places a main index entry for each alias on the section that explains it; a section that is
renamed or removed stops the build (a warning, and the book builds with -W), so an alias cannot
silently point nowhere. tests/site/test_search.py checks the ranking on the built site.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

# phrase -> (page, id of the section that explains it). Add one when a reader's phrase does not
# find its page; the section id is the heading's slug (the part after # in the page's link).
ALIASES = {
    "0.0.0.0": ("notebooks/02_processes_and_ports", "addresses-and-ports"),  # noqa: S104 - a phrase
    "127.0.0.1": ("notebooks/02_processes_and_ports", "addresses-and-ports"),
    "localhost": ("notebooks/02_processes_and_ports", "addresses-and-ports"),
    # Chapter 3 only names HTTPS; chapter 23 puts TLS in front of the service and shows HTTPS.
    "HTTPS": ("notebooks/23_scaling_out", "tls-ends-at-nginx"),
    "TLS": ("notebooks/23_scaling_out", "tls-ends-at-nginx"),
    # Without these the glossary's one-line definitions rank above the sections that explain.
    "CORS": ("notebooks/23_scaling_out", "pages-from-other-sites-cors"),
    "R client": ("notebooks/r_phrasebook", "how-do-i-call-my-api-from-r"),
}


def add_alias_entries(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    for phrase, (page, section_id) in ALIASES.items():
        if page != docname:
            continue
        sections = list(doctree.findall(nodes.section))
        if section_id is None and sections:
            section = sections[0]
        else:
            section = next((s for s in sections if section_id in s["ids"]), None)
        if section is None or not section["ids"]:
            logger.warning(
                "search alias %r: %s has no section #%s; update book/_ext/search_aliases.py",
                phrase,
                page,
                section_id,
                location=docname,
            )
            continue
        entry = ("single", phrase, section["ids"][0], "main", None)
        section.insert(1, addnodes.index(entries=[entry]))
        app.env.get_domain("index").entries.setdefault(docname, []).append(entry)


def rewrite_alias_pages(app: Sphinx, env) -> list[str]:
    """Pages with an alias, written again on every build. Sphinx 7.4 rebuilds the search index's
    index entries only from the pages it writes, so an incremental build would drop the aliases
    of the pages that did not change. Writing is enough: the entries live in the stored doctree,
    so the pages are not read again (env-get-updated, not env-get-outdated)."""
    return sorted({page for page, _ in ALIASES.values()} & set(env.found_docs))


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", add_alias_entries)
    app.connect("env-get-updated", rewrite_alias_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
