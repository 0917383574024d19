"""Checks on the book's sources that Sphinx does not make: glossary coverage and chapter shape.

Each checker takes plain text (or a list of markdown cells) and returns a list of problems, so a
test can feed it a small planted violation as easily as the real book.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent

# A directive opens with three or more backticks or colons followed by {name}.
_FENCE_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$")
# {term}`text` or {term}`text <target>`; the target is what must exist in the glossary.
_TERM_ROLE = re.compile(r"\{term\}`(?P<body>[^`]+)`")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$")


@dataclass(frozen=True)
class Directive:
    """One MyST directive found in a text: its name, argument, options and body lines."""

    name: str
    argument: str
    options: dict[str, str]
    body: list[str]


def iter_directives(text: str) -> list[Directive]:
    """Every top-level directive in a MyST text, fenced with backticks or colons."""
    lines = text.splitlines()
    found: list[Directive] = []
    index = 0
    while index < len(lines):
        match = _FENCE_OPEN.match(lines[index].strip())
        if not match:
            index += 1
            continue
        fence = match["fence"]
        closing = index + 1
        while closing < len(lines) and lines[closing].strip() != fence:
            closing += 1
        inner = lines[index + 1 : closing]
        options: dict[str, str] = {}
        while inner and inner[0].startswith(":") and not inner[0].startswith(":::"):
            key, _, value = inner.pop(0)[1:].partition(":")
            options[key.strip()] = value.strip()
        found.append(Directive(match["name"], match["argument"].strip(), options, inner))
        index = closing + 1
    return found


def normalise_term(term: str) -> str:
    """Sphinx matches glossary terms ignoring case; we also ignore runs of spaces."""
    return " ".join(term.split()).lower()


def defined_terms(text: str) -> list[str]:
    """The terms a glossary fragment defines: unindented lines inside a {glossary} directive."""
    terms = []
    for directive in iter_directives(text):
        if directive.name != "glossary":
            continue
        for line in directive.body:
            if line.strip() and not line[0].isspace():
                terms.append(line.split(" : ")[0].strip())
    return terms


def referenced_terms(text: str) -> list[str]:
    """The glossary targets of every {term} role in a text (the part in <...> when present)."""
    targets = []
    for match in _TERM_ROLE.finditer(text):
        body = match["body"]
        explicit = re.search(r"<([^<>]+)>\s*$", body)
        targets.append((explicit[1] if explicit else body).strip())
    return targets


def glossary_problems(definitions: dict[str, str], pages: dict[str, str]) -> list[str]:
    """Terms defined twice, defined but never linked from a page, and links to undefined terms.

    `definitions` maps a glossary fragment's name to its text; `pages` maps a page's name to the
    text whose {term} links count (markdown cells of a notebook, or a markdown page).
    """
    problems = []
    defined: dict[str, tuple[str, str]] = {}  # normalised term -> (term as written, source)
    for source, text in definitions.items():
        for term in defined_terms(text):
            key = normalise_term(term)
            if key in defined:
                problems.append(f"'{term}' is defined twice: in {defined[key][1]} and {source}")
            defined[key] = (term, source)
    used: set[str] = set()
    for source, text in {**pages, **definitions}.items():
        for target in referenced_terms(text):
            key = normalise_term(target)
            if key not in defined:
                problems.append(f"{source} links {{term}}`{target}`, which no glossary defines")
            elif source in pages:
                used.add(key)
    for key, (term, source) in defined.items():
        if key not in used:
            problems.append(f"'{term}' (defined in {source}) is linked from no page or chapter")
    return problems


def headings(cell_text: str) -> list[tuple[int, str]]:
    """(level, title) of each markdown heading outside code fences."""
    found = []
    in_fence = False
    for line in cell_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            found.append((len(match["hashes"]), match["title"]))
    return found


def chapter_problems(name: str, markdown_cells: list[str], top_cells: int = 4) -> list[str]:
    """A chapter's shape: 'What you will build' near the top, 'What you can do now' last, and
    at least two exercises, each with a solution-start and a solution-end of its own."""
    problems = []
    top = "\n".join(markdown_cells[:top_cells])
    if not any(
        d.name == "admonition" and d.argument.lower() == "what you will build"
        for d in iter_directives(top)
    ):
        problems.append(
            f"{name}: no 'What you will build' admonition in its first {top_cells} markdown cells"
        )
    all_headings = [h for cell in markdown_cells for h in headings(cell)]
    sections = [title for level, title in all_headings if level == 2]
    if not sections or sections[-1].lower() != "what you can do now":
        last = sections[-1] if sections else "none"
        problems.append(
            f"{name}: the last section must be '## What you can do now' (it is {last!r})"
        )

    exercises: list[str] = []
    open_solution: str | None = None
    solved: list[str] = []
    for cell in markdown_cells:
        for directive in iter_directives(cell):
            if directive.name == "exercise":
                label = directive.options.get("label", "")
                if not label:
                    problems.append(f"{name}: an exercise without a :label:")
                exercises.append(label)
            elif directive.name == "solution-start":
                if open_solution is not None:
                    problems.append(f"{name}: solution {open_solution!r} is never ended")
                open_solution = directive.argument
                if open_solution not in exercises:
                    problems.append(
                        f"{name}: solution-start {open_solution!r} comes before, or "
                        "without, its exercise"
                    )
                solved.append(open_solution)
            elif directive.name == "solution-end":
                if open_solution is None:
                    problems.append(f"{name}: a solution-end without a solution-start")
                open_solution = None
    if open_solution is not None:
        problems.append(f"{name}: solution {open_solution!r} is never ended")
    if len(exercises) < 2:
        problems.append(f"{name}: {len(exercises)} exercise(s); a chapter needs at least two")
    for label in exercises:
        if label and label not in solved:
            problems.append(f"{name}: exercise {label!r} has no solution-start")
    return problems


def toc_files(toc_path: Path = REPO_ROOT / "_toc.yml") -> list[str]:
    """The files `_toc.yml` lists, in reading order, without extensions."""
    toc = yaml.safe_load(toc_path.read_text())
    files = [toc["root"]]

    def walk(entries: Iterable[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return files


def source_path(name: str, root: Path = REPO_ROOT) -> Path:
    """The .md or .ipynb file behind a toc entry."""
    for suffix in (".ipynb", ".md"):
        candidate = root / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"_toc.yml lists {name}, but neither {name}.md nor {name}.ipynb exists")


def markdown_cells(path: Path) -> list[str]:
    """A notebook's markdown cells, or a markdown page as one cell."""
    if path.suffix == ".md":
        return [path.read_text()]
    notebook = json.loads(path.read_text())
    return [
        "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for cell in notebook["cells"]
        if cell["cell_type"] == "markdown"
    ]


def notebook_cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of every cell of a notebook."""
    notebook = json.loads(path.read_text())
    return [
        (
            cell["cell_type"],
            "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"],
        )
        for cell in notebook["cells"]
    ]


def prose_problems(name: str, cells: list[tuple[str, str]]) -> list[str]:
    """Every code cell comes right after a markdown cell that says what it does and why."""
    problems = []
    for index, (kind, source) in enumerate(cells):
        before = cells[index - 1] if index else ("none", "")
        if kind == "code" and (before[0] != "markdown" or not before[1].strip()):
            first_line = source.strip().splitlines()[0] if source.strip() else ""
            problems.append(
                f"{name}: cell {index} is code with no prose right before it ({first_line[:60]!r})"
            )
    return problems
