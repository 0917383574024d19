"""Which code each chapter runs or shows, and which tests cover that code (issue 20's map).

    python -m tools.chapter_map write           # regenerate the table in examples/README.md
    python -m tools.chapter_map check           # exit 1 when the table there is stale
    python -m tools.chapter_map affected FILE   # the notebooks to re-execute after editing FILE

A chapter *uses* a file when one of its code cells imports the file's module (`from examples.x
import y`, `import examples.x`) or names its path in a string (`show_source("examples/x.py")`).
The table lists those direct uses. `affected` follows imports further: a notebook that imports
`examples.serving` also runs every module that package imports, so an edit to any of them can
change the notebook's outputs. The tests of a file are found the way the tests are laid out: in the
mirrored folder (examples/a/b.py -> tests/a/).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "examples" / "README.md"
BEGIN, END = "<!-- chapter-map:begin -->", "<!-- chapter-map:end -->"
MODULE_NAME = re.compile(r"\bexamples(?:\.\w+)+")
PATH_NAME = re.compile(r"\bexamples/[\w/.-]+\.(?:py|R|mako)\b")


def chapters() -> list[Path]:
    """The notebooks in the table of contents' order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry and entry["file"].startswith("notebooks/"):
                files.append(ROOT / (entry["file"] + ".ipynb"))
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def module_file(name: str) -> Path | None:
    """The file that holds module `name` (a dotted name, possibly ending in an attribute)."""
    parts = name.split(".")
    while parts:
        base = ROOT.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        parts.pop()
    return None


def _names_in(text: str) -> set[Path]:
    found = {module_file(m) for m in MODULE_NAME.findall(text)}
    found |= {ROOT / p for p in PATH_NAME.findall(text) if (ROOT / p).is_file()}
    return {f for f in found if f is not None}


def _code_of(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def direct_files(notebook: Path) -> set[Path]:
    """The files a notebook's code cells import or name."""
    return _names_in(_code_of(notebook))


@cache
def imports_of(path: Path) -> frozenset[Path]:
    """The example files a Python file imports (absolute `examples.` imports; the book uses no
    relative ones), a package's __init__ included."""
    if path.suffix != ".py":
        return frozenset()
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("examples"):
            found.add(module_file(node.module))
            found |= {module_file(f"{node.module}.{alias.name}") for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {module_file(a.name) for a in node.names if a.name.startswith("examples")}
    return frozenset(f for f in found if f is not None and f != path)


def closure(files: set[Path]) -> set[Path]:
    """The files plus everything they import, transitively."""
    seen, todo = set(), list(files)
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(imports_of(path))
    return seen


def tests_for(path: Path) -> list[Path]:
    """The tests of a file: tests mirror the code (examples/a/b.py -> tests/a/), so they are the
    test modules in the nearest mirrored folder that name the file's module (its stem, or the
    package it sits in); for a package's __init__.py, every test module in that folder."""
    relative = path.relative_to(ROOT / "examples")
    names = [part for part in relative.with_suffix("").parts if part != "__init__"]
    folder, below = ROOT / "tests" / relative.parent, []
    while not folder.is_dir():
        below.insert(0, folder.name)
        folder = folder.parent
    tests = sorted(folder.glob("test_*.py"))
    if path.name == "__init__.py" and not below:
        return tests
    wanted = [names[-1], *below]
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, wanted)) + r")\b")
    return [test for test in tests if pattern.search(test.read_text())]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def table() -> str:
    rows = ["| chapter | code it runs or shows | tests of that code |", "|---|---|---|"]
    for notebook in chapters():
        files = sorted(direct_files(notebook))
        tests = sorted({t for f in files for t in tests_for(f)})
        code = "<br>".join(f"`{_rel(f)}`" for f in files) or "-"
        covered = "<br>".join(f"`{_rel(t)}`" for t in tests) or "-"
        rows.append(f"| `{notebook.stem}` | {code} | {covered} |")
    return "\n".join(rows) + "\n"


def affected(file: str) -> list[str]:
    """Notebooks whose outputs an edit to `file` can change."""
    target = (ROOT / file).resolve()
    return [_rel(nb) for nb in chapters() if target in closure(direct_files(nb))]


def _readme_parts() -> tuple[str, str, str]:
    text = README.read_text()
    head, _, rest = text.partition(BEGIN + "\n")
    current, _, tail = rest.partition(END)
    return head, current, tail


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "write":
        head, _, tail = _readme_parts()
        README.write_text(head + BEGIN + "\n" + table() + END + tail)
        return 0
    if command == "check":
        if _readme_parts()[1] != table():
            print("examples/README.md's chapter map is stale: run `make chapter-map`")
            return 1
        return 0
    if command == "affected" and len(argv) == 2:
        print("\n".join(affected(argv[1])) or f"no chapter runs or shows {argv[1]}")
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
