"""The book's sources: every glossary term is linked and defined, every chapter has its shape.

Each checker is first run on a small planted violation, so a checker that silently accepts
everything cannot pass.
"""

import pytest

from tools.book_checks import (
    REPO_ROOT,
    chapter_problems,
    defined_terms,
    glossary_problems,
    markdown_cells,
    notebook_cells,
    prose_problems,
    referenced_terms,
    source_path,
    toc_files,
)

FAKE_GLOSSARY = """```{glossary}
:sorted:

port
   A number that picks one program on a machine.

socket
   One end of a connection.
```
"""

GOOD_CHAPTER = [
    "# Ports\n\nIntro.\n\n:::{admonition} What you will build\nA server.\n:::\n",
    "## A section\n\nA {term}`port <Port>`.\n\n```python\n# not a heading\n```\n",
    "```{exercise}\n:label: ex-a\n\nDo a.\n```",
    "```{solution-start} ex-a\n:class: dropdown\n```",
    "```{solution-end}\n```",
    "```{exercise}\n:label: ex-b\n\nDo b.\n```",
    "```{solution-start} ex-b\n:class: dropdown\n```",
    "```{solution-end}\n```",
    "## What you can do now\n\n- Things.",
]


def test_glossary_parser_reads_terms_and_links():
    assert defined_terms(FAKE_GLOSSARY) == ["port", "socket"]
    assert referenced_terms("a {term}`ports <port>` and {term}`socket`.") == ["port", "socket"]


def test_glossary_checker_accepts_a_clean_book():
    pages = {"ch1": "{term}`Port` and {term}`sockets <socket>`"}
    assert glossary_problems({"g.md": FAKE_GLOSSARY}, pages) == []


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        ({"ch1": "{term}`port`"}, "'socket' (defined in g.md) is linked from no page"),
        ({"ch1": "{term}`port` {term}`socket` {term}`worker`"}, "ch1 links {term}`worker`"),
    ],
)
def test_glossary_checker_finds_planted_violations(pages, expected):
    problems = glossary_problems({"g.md": FAKE_GLOSSARY}, pages)
    assert any(expected in problem for problem in problems), problems


def test_glossary_checker_finds_a_term_defined_twice():
    pages = {"ch1": "{term}`port` {term}`socket`"}
    problems = glossary_problems({"g.md": FAKE_GLOSSARY, "h.md": FAKE_GLOSSARY}, pages)
    assert any("defined twice" in problem for problem in problems), problems


def test_chapter_checker_accepts_a_well_formed_chapter():
    assert chapter_problems("ch", GOOD_CHAPTER) == []


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (GOOD_CHAPTER[1:], "no 'What you will build'"),
        (GOOD_CHAPTER[:-1], "last section must be '## What you can do now'"),
        (GOOD_CHAPTER[:-1] + ["## What you can do now", "## Appendix"], "it is 'Appendix'"),
        (GOOD_CHAPTER[:2] + GOOD_CHAPTER[5:], "1 exercise(s)"),
        (GOOD_CHAPTER[:6] + GOOD_CHAPTER[8:], "'ex-b' has no solution-start"),
        (GOOD_CHAPTER[:7] + GOOD_CHAPTER[8:], "'ex-b' is never ended"),
        (GOOD_CHAPTER[:4] + GOOD_CHAPTER[5:], "'ex-a' is never ended"),
        (GOOD_CHAPTER[:3] + GOOD_CHAPTER[4:], "solution-end without a solution-start"),
        ([c.replace(":label: ex-b\n", "") for c in GOOD_CHAPTER], "without a :label:"),
    ],
)
def test_chapter_checker_finds_planted_violations(broken, expected):
    problems = chapter_problems("ch", broken)
    assert any(expected in problem for problem in problems), problems


def test_every_toc_entry_has_a_source_file():
    for name in toc_files():
        assert source_path(name).exists()


EXTS = (".md", ".ipynb")


def test_every_glossary_term_is_linked_and_every_link_is_defined():
    fragments = {
        str(path.relative_to(REPO_ROOT)): path.read_text()
        for path in sorted((REPO_ROOT / "book" / "glossary").glob("*.md"))
    }
    pages = {
        name: "\n".join(markdown_cells(source_path(name)))
        for name in toc_files()
        if name != "book/glossary" and any((REPO_ROOT / f"{name}{ext}").exists() for ext in EXTS)
    }
    problems = glossary_problems(fragments, pages)
    assert not problems, "\n".join(problems)


CHAPTERS = [name for name in toc_files() if name.startswith("notebooks/")]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_has_its_shape_and_exercises(chapter):
    problems = chapter_problems(chapter, markdown_cells(source_path(chapter)))
    assert not problems, "\n".join(problems)


def test_prose_checker_finds_code_without_prose_before_it():
    good = [
        ("markdown", "# Title"),
        ("markdown", "Why."),
        ("code", "x = 1"),
        ("markdown", "Then."),
        ("code", "y = 2"),
    ]
    assert prose_problems("ch", good) == []
    planted = good + [("code", "z = 3")]
    assert prose_problems("ch", planted) == [
        "ch: cell 5 is code with no prose right before it ('z = 3')"
    ]
    assert prose_problems("ch", [("code", "first = 0")]) != []
    assert prose_problems("ch", [("markdown", "  "), ("code", "x")]) != []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_code_cell_follows_prose(chapter):
    problems = prose_problems(chapter, notebook_cells(source_path(chapter)))
    assert not problems, "\n".join(problems)
