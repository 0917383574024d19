"""Lead from the glossary back to the chapters, and list chapter sections in the index.

Every {term} reference is recorded as the book is read: the page, and the section it sits in.
When the glossary page is written, each entry gets a last line, "Explained in: ...", linking the
section of the first page (in reading order) that refers to the term, then the other chapters that
link it. When a later section's title names the term, that section is where it is explained, and
the first use is linked as well. Every section of a chapter also gets an index entry, so the
general index lists the chapters' sections and not only the glossary's terms. Glossaries side by side in one section (one
per included fragment) are merged into one sorted list. Loaded by settings_facts.py.
"""

from __future__ import annotations

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

MAX_OTHER_PAGES = 4
# Pages whose sections are chapters' sections (the general index lists them).
CHAPTER_PREFIX = "notebooks/"


def _normalise(term: str) -> str:
    """Sphinx matches terms ignoring case; the glossary's text has typographic apostrophes."""
    return " ".join(term.replace("\u2019", "'").split()).lower()


def _section_of(node: nodes.Node) -> nodes.section | None:
    while node is not None and not isinstance(node, nodes.section):
        node = node.parent
    return node


def record_references(app: Sphinx, doctree: nodes.document) -> None:
    """Remember where each glossary term is referred to, and index the chapter's sections."""
    env = app.env
    references = env.__dict__.setdefault("glossary_backlinks", {})
    docname = env.docname
    for xref in doctree.findall(addnodes.pending_xref):
        if xref.get("reftype") != "term":
            continue
        section = _section_of(xref)
        if section is None or not section["ids"]:
            continue
        title = section.next_node(nodes.title)
        references.setdefault(_normalise(xref["reftarget"]), []).append(
            (docname, section["ids"][0], title.astext() if title else "")
        )
    if docname.startswith(CHAPTER_PREFIX):
        _index_sections(env, doctree)
    _merge_glossaries(doctree)


def _merge_glossaries(doctree: nodes.document) -> None:
    """Glossaries that sit in one section (one per included fragment) become one sorted list, so
    each part of the glossary page reads as a single alphabetical list under its heading."""
    for section in doctree.findall(nodes.section):
        glossaries = [child for child in section.children if isinstance(child, addnodes.glossary)]
        if len(glossaries) < 2:
            continue
        first = glossaries[0].next_node(nodes.definition_list)
        for other in glossaries[1:]:
            first.extend(other.next_node(nodes.definition_list).children)
            other.parent.remove(other)
        first.children.sort(key=lambda item: item.next_node(nodes.term).astext().lower())


def _index_sections(env: BuildEnvironment, doctree: nodes.document) -> None:
    """An index entry 'chapter; section' for each section below the chapter's title."""
    sections = list(doctree.findall(nodes.section))
    if not sections:
        return
    chapter = sections[0].next_node(nodes.title).astext()
    # The index domain has already collected this page's index nodes (Sphinx does that just
    # before doctree-read), so the entries are handed to it as well as placed in the page.
    collected = env.get_domain("index").entries.setdefault(env.docname, [])
    for section in sections[1:]:
        title = section.next_node(nodes.title)
        if title is None or not section["ids"]:
            continue
        entry = ("single", f"{chapter}; {title.astext()}", section["ids"][0], "", None)
        section.insert(1, addnodes.index(entries=[entry]))
        collected.append(entry)


def purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    for places in env.__dict__.get("glossary_backlinks", {}).values():
        places[:] = [place for place in places if place[0] != docname]


def merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment):
    mine = env.__dict__.setdefault("glossary_backlinks", {})
    for term, places in other.__dict__.get("glossary_backlinks", {}).items():
        mine.setdefault(term, []).extend(p for p in places if p[0] in docnames)


def reading_order(env: BuildEnvironment) -> list[str]:
    """Every page in the order of the table of contents, starting from the root."""
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            walk(child)

    walk(env.config.root_doc)
    return order


def backlinks(env: BuildEnvironment, term: str) -> list[tuple[str, str, str]]:
    """(page, section id, section title): the first reference in reading order, then the first
    reference on each other page that links the term (chapters before other pages)."""
    rank = {name: i for i, name in enumerate(reading_order(env))}
    places = sorted(
        env.__dict__.get("glossary_backlinks", {}).get(_normalise(term), []),
        key=lambda place: rank.get(place[0], len(rank)),
    )
    chosen, seen = [], set()
    for place in places:
        if place[0] not in seen and place[0] in rank:
            seen.add(place[0])
            chosen.append(place)
    return chosen


def explaining_section(env: BuildEnvironment, term: str, glossary_page: str):
    """The first reference, in reading order, that sits in a section whose title names the term
    (its first word-stem: 'Ports explained' names 'port'); None when no title does."""
    rank = {name: i for i, name in enumerate(reading_order(env))}
    key = _normalise(term)
    stem = key[: max(4, len(key) - 2)]
    places = sorted(
        (p for p in env.__dict__.get("glossary_backlinks", {}).get(key, []) if p[0] in rank),
        key=lambda place: rank[place[0]],
    )
    return next(
        (p for p in places if p[0] != glossary_page and stem in _normalise(p[2])),
        None,
    )


def add_backlinks(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    """Append 'Explained in: ...' to each entry of each glossary on the page."""
    env = app.env
    for glossary in doctree.findall(addnodes.glossary):
        for item in glossary.findall(nodes.definition_list_item):
            terms = [t for t in item.findall(nodes.term)]
            definition = item.next_node(nodes.definition)
            if not terms or definition is None:
                continue
            # The glossary's own entries link each other; those are not where a term is taught.
            places = [p for p in backlinks(env, terms[0].astext()) if p[0] != fromdocname]
            if not places:
                continue
            first = places[0]
            explained = explaining_section(env, terms[0].astext(), fromdocname) or first
            paragraph = nodes.paragraph(classes=["glossary-backlinks"])
            paragraph += nodes.strong(text="Explained in: ")
            paragraph += _link(app, fromdocname, explained, with_section=True)
            if explained[:2] != first[:2]:
                paragraph += nodes.Text(". First used in: ")
                paragraph += _link(app, fromdocname, first, with_section=True)
            others = [p for p in places if p[0] not in {first[0], explained[0]}]
            if others:
                paragraph += nodes.Text(". Also linked from: ")
                for index, place in enumerate(others[:MAX_OTHER_PAGES]):
                    if index:
                        paragraph += nodes.Text(", ")
                    paragraph += _link(app, fromdocname, place, with_section=False)
            paragraph += nodes.Text(".")
            definition += paragraph


def _link(app: Sphinx, fromdocname: str, place, with_section: bool) -> nodes.reference:
    docname, section_id, section_title = place
    page_title = app.env.titles[docname].astext() if docname in app.env.titles else docname
    text = page_title
    if with_section and section_title and section_title != page_title:
        text = f"{page_title}, section “{section_title}”"
    uri = app.builder.get_relative_uri(fromdocname, docname) + f"#{section_id}"
    return nodes.reference("", text, internal=True, refuri=uri)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", record_references)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("doctree-resolved", add_backlinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
