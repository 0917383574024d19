"""The glossary leads back to the chapters, and the index lists the chapters' sections.

book/_ext/glossary_backlinks.py appends "Explained in: ..." to every glossary entry from the
{term} references Sphinx saw, and gives every chapter section an index entry. It is tested on a
tiny planted book (always), then on the built site in _build/html (skipped when there is none).
"""

import os
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tools.book_checks import (
    REPO_ROOT,
    defined_terms,
    markdown_cells,
    normalise_term,
    referenced_terms,
    source_path,
    toc_files,
)
from tools.mini_sphinx import build_html

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))
SITE = Path(os.environ.get("BOOK_HTML", REPO_ROOT / "_build" / "html"))

# Terms that only the welcome, setup or reliability pages link, not a chapter. This list may only
# SHRINK: link each from the chapter that explains it (the lead's edit), then remove it here.
LINKED_ONLY_FROM_OTHER_PAGES = {
    "fault injection",  # reliability page only; chapter 26 breaks a worker on purpose
}

GLOSSARY_PAGE = """# Glossary

```{glossary}
port
   A number.

socket
   One end.
```

```{glossary}
loner
   Linked from nowhere.
```
"""


def build_tiny_book(tmp_path) -> Path:
    """Three pages in reading order: two chapters under notebooks/ and the glossary."""
    source = tmp_path / "source"
    (source / "notebooks").mkdir(parents=True)
    (source / "index.md").write_text(
        "# Book\n\n```{toctree}\nnotebooks/01_a\nnotebooks/02_b\nglossary\n```\n"
    )
    (source / "notebooks" / "01_a.md").write_text(
        "# First chapter\n\n## Ports explained\n\nA {term}`port` here, and a {term}`socket`.\n"
    )
    (source / "notebooks" / "02_b.md").write_text(
        "# Second chapter\n\n## Sockets\n\nA {term}`socket`.\n\n## Again\n\n{term}`Ports <port>`.\n"
    )
    (source / "glossary.md").write_text(GLOSSARY_PAGE)
    (source / "conf.py").write_text("extensions = ['myst_parser', 'glossary_backlinks']\n")
    warnings = build_html(source, tmp_path)
    assert "WARNING" not in warnings, warnings
    return tmp_path / "html"


def entries(glossary_html: str) -> dict[str, BeautifulSoup | None]:
    """term -> its 'Explained in' paragraph (None when the entry has none)."""
    soup = BeautifulSoup(glossary_html, "html.parser")
    found = {}
    for term in soup.select("dl.glossary > dt"):
        definition = term.find_next_sibling("dd")
        for anchor in term.select("a.headerlink"):
            anchor.decompose()
        name = term.get_text(strip=True)
        found[name] = definition.select_one("p.glossary-backlinks")
    return found


def test_each_entry_links_the_first_section_that_uses_it_then_other_chapters(tmp_path):
    html = build_tiny_book(tmp_path)
    found = entries((html / "glossary.html").read_text())
    links = [(a["href"], a.get_text()) for a in found["port"].find_all("a")]
    assert links == [
        ("notebooks/01_a.html#ports-explained", "First chapter, section “Ports explained”"),
        ("notebooks/02_b.html#again", "Second chapter"),
    ]
    # Used in passing in chapter 1, explained under a heading that names it in chapter 2.
    assert [a["href"] for a in found["socket"].find_all("a")] == [
        "notebooks/02_b.html#sockets",
        "notebooks/01_a.html#ports-explained",
    ]
    assert "First used in" in found["socket"].get_text()
    assert found["loner"] is None  # the planted violation: the site test below fails on it


def test_glossaries_in_one_section_become_one_sorted_list(tmp_path):
    html = build_tiny_book(tmp_path)
    soup = BeautifulSoup((html / "glossary.html").read_text(), "html.parser")
    (glossary,) = soup.select("dl.glossary")
    assert [dt["id"] for dt in glossary.select("dt")] == ["term-loner", "term-port", "term-socket"]


def test_the_index_lists_chapter_sections(tmp_path):
    html = build_tiny_book(tmp_path)
    index = BeautifulSoup((html / "genindex.html").read_text(), "html.parser")
    hrefs = {a["href"] for a in index.select("a")}
    assert {"notebooks/01_a.html#ports-explained", "notebooks/02_b.html#sockets"} <= hrefs


def test_every_glossary_term_is_linked_from_a_chapter():
    chapters = [name for name in toc_files() if name.startswith("notebooks/")]
    linked = {
        normalise_term(target)
        for name in chapters
        for cell in markdown_cells(source_path(name))
        for target in referenced_terms(cell)
    }
    defined = {
        normalise_term(term)
        for fragment in sorted((REPO_ROOT / "book" / "glossary").glob("*.md"))
        for term in defined_terms(fragment.read_text())
    }
    unlinked = defined - linked
    print("linked only from other pages, to shrink:", sorted(LINKED_ONLY_FROM_OTHER_PAGES))
    assert unlinked - LINKED_ONLY_FROM_OTHER_PAGES == set(), "link these from a chapter"
    assert LINKED_ONLY_FROM_OTHER_PAGES <= unlinked, "now linked: remove from the list"


# The built-site checks run with the browser tests (`make browser`, after `make book`), so that
# they never read a site older than the sources.
built_site = pytest.mark.browser


@pytest.fixture(scope="module")
def built_glossary() -> dict:
    page = SITE / "book" / "glossary.html"
    if not page.exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first")
    return entries(page.read_text())


@built_site
def test_every_entry_of_the_built_glossary_has_a_back_link(built_glossary):
    missing = sorted(term for term, backlinks in built_glossary.items() if backlinks is None)
    assert len(built_glossary) > 100
    assert not missing, f"entries without 'Explained in': {missing}"


@built_site
def test_every_back_link_resolves_to_a_section_of_the_built_site(built_glossary):
    broken = []
    for term, backlinks in built_glossary.items():
        for link in backlinks.find_all("a") if backlinks else []:
            path, _, anchor = link["href"].partition("#")
            target = (SITE / "book" / (path or "glossary.html")).resolve()
            if not target.exists() or f'id="{anchor}"' not in target.read_text():
                broken.append(f"{term}: {link['href']}")
    assert not broken, broken


@built_site
def test_each_part_of_the_built_glossary_is_one_list():
    page = SITE / "book" / "glossary.html"
    if not page.exists():
        pytest.skip(f"no built site in {SITE}")
    soup = BeautifulSoup(page.read_text(), "html.parser")
    for section in soup.select("section > section"):
        assert len(section.select("dl.glossary")) == 1, section.h2.get_text()


@built_site
def test_the_built_index_lists_chapter_sections():
    index = SITE / "genindex.html"
    if not index.exists():
        pytest.skip(f"no built site in {SITE}")
    hrefs = {a["href"] for a in BeautifulSoup(index.read_text(), "html.parser").select("a")}
    chapters_with_sections = {href.split("#")[0] for href in hrefs if href.startswith("notebooks/")}
    assert len(chapters_with_sections) >= 20, sorted(chapters_with_sections)
