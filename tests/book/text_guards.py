"""Readers of the book's sources for the guards that keep the text true (tests/book/test_*.py).

Every reader takes a folder (the repository, or a temporary copy with a planted mistake) so that
a test can show a guard fails before it trusts the guard's silence on the real book.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from tools.book_checks import toc_files

# Roles: {glue}`key`, {glue:}`key`, {glue:any}`key`, {glue:text}`key:fmt`, {glue:md}`key`; a key
# may name another page first: `../notebooks/17_x.ipynb::key` (myst-nb's pending references).
GLUE_ROLE = re.compile(r"\{glue(?::(?P<kind>any|text|md)?)?\}`(?P<body>[^`]+)`")
# Directives: ```{glue} key, :::{glue:figure} key, {glue:math}, {glue:md}, {glue:any}.
GLUE_DIRECTIVE = re.compile(
    r"^[ \t]*(?:`{3,}|:{3,})\{glue(?::(?:any|figure|math|md)?)?\}[ \t]+(?P<body>\S+)", re.M
)
# A glue() call in a code cell whose name is a plain string literal (f-strings are read from the
# outputs instead, which is what the book is built from: execution is off).
GLUE_CALL = re.compile(r"\bglue\(\s*(?P<quote>[\"'])(?P<name>[^\"'{}]+)(?P=quote)")


@dataclass(frozen=True)
class GlueUse:
    page: str  # the toc name of the page that pastes the value
    notebook: str  # the toc name of the notebook that must define it
    key: str


def read_cells(path: Path) -> list[dict]:
    """A notebook's cells as plain dicts, with `source` joined to one string."""
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    return cells


def pages(root: Path) -> dict[str, Path]:
    """Every page the book builds (toc name -> file), from root's _toc.yml."""
    found = {}
    for name in toc_files(root / "_toc.yml"):
        for suffix in (".ipynb", ".md"):
            if (root / f"{name}{suffix}").exists():
                found[name] = root / f"{name}{suffix}"
                break
    return found


def prose_texts(root: Path) -> dict[str, str]:
    """toc name -> the MyST text a reader sees: a notebook's markdown cells, or the .md page with
    the glossary fragments it includes."""
    texts = {}
    for name, path in pages(root).items():
        if path.suffix == ".ipynb":
            texts[name] = "\n\n".join(
                c["source"] for c in read_cells(path) if c["cell_type"] == "markdown"
            )
        else:
            text = path.read_text()
            for include in re.findall(r"\{include\}\s+(\S+)", text):
                included = path.parent / include
                if included.exists():
                    text += "\n\n" + included.read_text()
            texts[name] = text
    return texts


def _target_notebook(page: str, reference: str) -> str:
    """The toc name a `path::key` reference points at, resolved as myst-nb does (relative to the
    page's folder, or to the book's root when it starts with '/')."""
    if reference.startswith("/"):
        joined = reference.lstrip("/")
    else:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(page), reference))
    return posixpath.splitext(joined)[0]


def glue_uses(page: str, text: str) -> list[GlueUse]:
    """Every glue paste in a page's text, with the notebook that must define its key."""
    found = []
    bodies = [(m["kind"], m["body"]) for m in GLUE_ROLE.finditer(text)]
    bodies += [("directive", m["body"]) for m in GLUE_DIRECTIVE.finditer(text)]
    for kind, body in bodies:
        notebook = page
        if "::" in body:
            reference, body = body.split("::", 1)
            notebook = _target_notebook(page, reference)
        if kind == "text" and ":" in body:
            body = body.rsplit(":", 1)[0]  # {glue:text}`key:.1f` carries a format spec
        found.append(GlueUse(page, notebook, body.strip()))
    return found


def glue_definitions(path: Path) -> tuple[set[str], set[str]]:
    """(names glued in the saved outputs, names glue()d by string literal in the code)."""
    in_outputs: set[str] = set()
    in_code: set[str] = set()
    for cell in read_cells(path):
        if cell["cell_type"] != "code":
            continue
        in_code.update(m["name"] for m in GLUE_CALL.finditer(cell["source"]))
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook", {})
            if "name" in scrap:
                in_outputs.add(scrap["name"])
    return in_outputs, in_code


def glue_problems(root: Path) -> list[str]:
    """Pastes of a name no saved output defines, and glued names that no page pastes."""
    book = pages(root)
    texts = prose_texts(root)
    uses = [use for page, text in texts.items() for use in glue_uses(page, text)]
    problems = []
    defined: dict[str, set[str]] = {}
    for name, path in book.items():
        if path.suffix != ".ipynb":
            continue
        in_outputs, in_code = glue_definitions(path)
        defined[name] = in_outputs
        for key in sorted(in_code - in_outputs):
            problems.append(
                f"{name}: a cell calls glue({key!r}) but no saved output holds it: "
                "execute the notebook and save it"
            )
    for use in uses:
        if use.notebook not in defined:
            problems.append(
                f"{use.page}: pastes {use.key!r} from {use.notebook}, which is not a notebook "
                "of the book (a page outside a notebook must write `path.ipynb::key`)"
            )
        elif use.key not in defined[use.notebook]:
            problems.append(
                f"{use.page}: pastes {use.key!r}, which no cell of {use.notebook} glues"
            )
    pasted = {(use.notebook, use.key) for use in uses}
    for notebook, keys in defined.items():
        for key in sorted(keys):
            if (notebook, key) not in pasted:
                problems.append(f"{notebook}: glues {key!r}, which no page pastes")
    return problems


# A number followed by a unit of time, or a ratio or percentage: "2190 µs", "~1.55 ms", "3 s",
# "40%", "2.9×", "3x", "12 times". Words such as "seconds" count too.
NUMBER_WITH_UNIT = re.compile(
    r"(?<![\w.])(?<![Cc]hapter )(?<![Cc]hapters )~?\d[\d,]*(?:\.\d+)?\s*"
    r"(?:µs|μs|us|ms|(?<=\s)s|sec|secs|seconds?|milliseconds?|microseconds?|minutes?|%|×|"
    r"(?<=\d)x|times)"
    r"(?![\w])",
)
_FENCED = re.compile(r"^(`{3,}|~{3,}).*?^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"``?[^`]+``?")
_GLUE_OR_SUBSTITUTION = re.compile(r"\{glue(?::\w*)?\}`[^`]+`|\{\{[^}]+\}\}")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z(*`~\d-])|\n\s*\n|\n\s*[-*]\s+|\n\s*\|")


def prose_sentences(markdown: str) -> list[str]:
    """The sentences of a markdown text, with code, math, glue pastes and substitutions removed
    (what they show does not come from a hand-typed number)."""
    text = _FENCED.sub(" ", markdown)
    text = _GLUE_OR_SUBSTITUTION.sub("GLUED", text)
    text = _INLINE_CODE.sub("CODE", text)
    text = _MATH.sub("MATH", text)
    sentences = (" ".join(part.split()) for part in _SENTENCE_END.split(text))
    return [sentence for sentence in sentences if sentence]


def numbers_in_prose(root: Path, width: int = 90) -> list[str]:
    """'NN: sentence' (cut at `width` characters) for each notebook sentence that types a time,
    a ratio or a percentage by hand."""
    found = []
    for name, path in pages(root).items():
        if path.suffix != ".ipynb":
            continue
        chapter = Path(name).name.split("_")[0]
        for cell in read_cells(path):
            if cell["cell_type"] != "markdown":
                continue
            for sentence in prose_sentences(cell["source"]):
                if NUMBER_WITH_UNIT.search(sentence):
                    found.append(f"{chapter}: {sentence[:width]}")
    return found
