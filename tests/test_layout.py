"""The house layout (examples/README.md): tests mirror the code, the service's modules stay small,
and no module is both a library and a script."""

import re

from examples.toolbox import REPO_ROOT

EXAMPLES, TESTS = REPO_ROOT / "examples", REPO_ROOT / "tests"
# Test folders for the book as a whole, not for one code folder.
BOOK_WIDE = {"book", "site", "reliability", "deploy", "benchmarks"}
LARGEST_SERVICE_MODULE = 250


def _code_folders():
    return sorted(
        p.parent.relative_to(EXAMPLES)
        for p in EXAMPLES.rglob("*.py")
        if "__pycache__" not in p.parts and p.parent != EXAMPLES
    )


def test_every_code_folder_has_its_test_folder():
    """examples/a/b/ is tested in tests/a/b/, or in tests/a/ when b is one small package."""
    missing = [str(f) for f in _code_folders() if not (TESTS / f.parts[0]).is_dir()]
    assert missing == []


def test_every_test_folder_mirrors_a_code_folder_or_is_book_wide():
    code = {str(f) for f in _code_folders()}
    stray = [
        str(folder.relative_to(TESTS))
        for folder in sorted(TESTS.rglob("*"))
        if folder.is_dir()
        and "__pycache__" not in folder.parts
        and folder.relative_to(TESTS).parts[0] not in BOOK_WIDE
        and str(folder.relative_to(TESTS)) not in code
    ]
    assert stray == []


def test_no_module_of_the_service_is_longer_than_a_screenful_or_two():
    long = {
        str(p.relative_to(REPO_ROOT)): n
        for p in (EXAMPLES / "serving").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > LARGEST_SERVICE_MODULE
    }
    assert long == {}


def test_no_module_is_both_a_library_and_a_script():
    """A module that runs as a program (`if __name__ == "__main__"`) other than a package's
    __main__.py must not be imported by anything else in the repository."""
    scripts = [
        p
        for p in EXAMPLES.rglob("*.py")
        if p.name != "__main__.py" and 'if __name__ == "__main__"' in p.read_text()
    ]
    sources = [
        p.read_text()
        for folder in ("examples", "tests", "benchmarks", "notebooks", "tools")
        for p in (REPO_ROOT / folder).rglob("*")
        if p.suffix in {".py", ".ipynb"} and "__pycache__" not in p.parts
    ]
    imported = []
    for script in scripts:
        dotted = ".".join(script.relative_to(REPO_ROOT).with_suffix("").parts)
        parent, name = dotted.rsplit(".", 1)
        pattern = re.compile(
            rf"(from {re.escape(dotted)} import|import {re.escape(dotted)}\b"
            rf"|from {re.escape(parent)} import [^\n]*\b{name}\b)"
        )
        if any(pattern.search(source) for source in sources):
            imported.append(dotted)
    assert imported == []
