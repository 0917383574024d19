"""One fact, one value: what several pages say about the service agrees with the service's code.

The single source is the code itself: `Settings` (examples/serving/settings.py), the gunicorn
configuration's bind default, and the status of each error code (examples/serving/errors.py).
book/_ext/settings_facts.py turns them into MyST substitutions (`{{ serving_busy_timeout }}`), so
a page that uses one cannot drift; the checks below cover pages that still type the value.
"""

import os
import re
import subprocess
import sys

import pytest
from text_guards import prose_texts

from tools.book_checks import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

import settings_facts  # noqa: E402 - lives in book/_ext, which Sphinx loads by path

FACTS = settings_facts.facts()
BUSY_MS = int(FACTS["serving_busy_timeout_ms"])

# Other busy timeouts a page may state on purpose, each a different fact with its own source:
# (page, milliseconds) -> why.
OTHER_BUSY_TIMEOUTS = {
    ("notebooks/19_storing_predictions", 5000): "Python's sqlite3 module's own default timeout",
    ("notebooks/19_storing_predictions", 100): "the value the chapter's exercise asks for",
    ("notebooks/19_storing_predictions", 300): "the demonstration engine's own value",
    ("book/reliability", 300): "the reliability suite's setting (tests/reliability/conftest.py)",
    ("book/reliability", 30000): "the broken copy the suite must catch (its table of mutations)",
}
# Pages that still contradict the settings, waiting for their author (notebooks are not ours to
# edit). This list may only SHRINK; each entry names the exact fix in the helper's report.
KNOWN_BUSY_TIMEOUT_ERRORS: set[tuple[str, int]] = set()
# A paragraph that names one of these statuses with a phrase from another status's rule.
STATUS_RULES = {
    "400": r"not valid JSON|invalid JSON|malformed|cannot even read|could not read",
    "413": r"too large|larger than|bigger than",
    "415": r"media type|Content-Type|labelled as",
    # "shape" alone would catch "the error shape"; the rule is about the request's shape.
    "422": r"not the shape|shape we expect|wrong shape|out of range|missing feature|breaks the "
    r"rules|breaks the schema",
}
# Sentences the status check flags wrongly or that wait for their author; may only SHRINK.
KNOWN_STATUS_PROBLEMS: set[tuple[str, str, str]] = set()
_BUSY = re.compile(r"busy.?timeout", re.I)
# Inline code that is not a role's target ({term}`400 <400 Bad Request>` stays): `10**400`.
_CODE_SPAN = re.compile(r"(?<!\})`[^`\n]+`")
# A stated time; a measured one is written after a tilde and is not a statement of the setting.
_TIME = re.compile(
    r"(?<!~)(?P<number>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>ms|milliseconds?|s|seconds?)\b"
    r"|(?P<one>\b(?:a|one) second\b)"
)


def paragraphs(text: str) -> list[str]:
    """Paragraphs, list items and table rows, each on one line."""
    parts = re.split(r"\n\s*\n|\n(?=\s*\|)|\n(?=\s*[-*] )", text)
    return [" ".join(part.split()) for part in parts if part.strip()]


def busy_timeouts(text: str) -> list[int]:
    """Milliseconds stated in each paragraph that talks about a busy timeout."""
    found = []
    for paragraph in paragraphs(text):
        # What follows each mention, within a couple of lines of text.
        windows = [paragraph[m.end() : m.end() + 250] for m in _BUSY.finditer(paragraph)]
        for match in (m for window in windows for m in _TIME.finditer(window)):
            if match["one"]:
                found.append(1000)
                continue
            value = float(match["number"].replace(",", ""))
            found.append(round(value if match["unit"].startswith("m") else value * 1000))
    return found


def status_conflicts(text: str) -> list[tuple[str, str]]:
    """(status named, status whose rule the paragraph describes) for contradicting paragraphs."""
    found = []
    for paragraph in paragraphs(_CODE_SPAN.sub("CODE", text)):
        named = [s for s in STATUS_RULES if re.search(rf"\b{s}\b", paragraph)]
        if len(named) != 1:
            continue
        (status,) = named
        found += [
            (status, other)
            for other, rule in STATUS_RULES.items()
            if other != status and re.search(rule, paragraph, re.I)
        ]
    return found


def test_the_facts_come_from_the_code():
    from examples.serving.errors import CODES
    from examples.serving.settings import Settings

    assert FACTS["serving_busy_timeout"] == f"{Settings().database_busy_timeout_ms} ms"
    assert FACTS["serving_bind"] == "127.0.0.1:8000"  # gunicorn.conf.py: loopback unless told
    assert FACTS["status_validation_error"] == "422" and CODES[422] == "validation_error"
    assert FACTS["status_bad_request"] == "400" and FACTS["status_payload_too_large"] == "413"
    assert FACTS["status_unsupported_media_type"] == "415"


def test_the_checkers_find_planted_contradictions():
    assert busy_timeouts("The busy timeout waits up to 300 ms, or a second.\n\nNo 5 s here.") == [
        300,
        1000,
    ]
    assert status_conflicts(
        "| 400 | Bad Request | not valid JSON, or not the shape we expect |"
    ) == [("400", "422")]
    assert status_conflicts("| 422 | valid JSON that breaks the schema, out of range |") == []


def test_the_reliability_suite_sets_the_busy_timeout_its_page_states():
    conftest = (REPO_ROOT / "tests" / "reliability" / "conftest.py").read_text()
    assert '"SERVING_DATABASE_BUSY_TIMEOUT_MS": "300"' in conftest


def test_every_page_states_the_busy_timeout_of_the_settings():
    wrong = set()
    for page, text in prose_texts(REPO_ROOT).items():
        for ms in busy_timeouts(text):
            if ms != BUSY_MS and (page, ms) not in OTHER_BUSY_TIMEOUTS:
                wrong.add((page, ms))
    print("still contradicting, to be fixed by the chapter's author:", KNOWN_BUSY_TIMEOUT_ERRORS)
    assert wrong - KNOWN_BUSY_TIMEOUT_ERRORS == set(), f"the settings say {BUSY_MS} ms"
    assert KNOWN_BUSY_TIMEOUT_ERRORS <= wrong, "fixed: remove it from KNOWN_BUSY_TIMEOUT_ERRORS"


def test_every_page_gives_each_status_its_own_rule():
    found = {
        (page, *conflict)
        for page, text in prose_texts(REPO_ROOT).items()
        for conflict in status_conflicts(text)
    }
    print("known, waiting for the chapter's author:", KNOWN_STATUS_PROBLEMS)
    assert found - KNOWN_STATUS_PROBLEMS == set()
    assert KNOWN_STATUS_PROBLEMS <= found, "fixed: remove it from KNOWN_STATUS_PROBLEMS"


def test_env_example_restates_the_defaults():
    """Each `# SERVING_X=value` line of .env.example shows the default the code really has."""
    defaults = settings_facts.settings_defaults()
    lines = re.findall(r"^# (SERVING_\w+)=(\S*)", (REPO_ROOT / ".env.example").read_text(), re.M)
    checked = 0
    for name, value in lines:
        field = name.removeprefix("SERVING_").lower()
        if name == "SERVING_BIND":
            assert value == FACTS["serving_bind"], name
            checked += 1
        elif isinstance(defaults.get(field), bool):
            assert value == str(defaults[field]).lower(), name
            checked += 1
        elif isinstance(defaults.get(field), int):
            assert int(value) == defaults[field], name
            checked += 1
    assert checked >= 8, "the .env.example lines were not found"


@pytest.mark.parametrize("suffix", [".md", ".ipynb"])
def test_the_extension_fills_substitutions_in_pages_and_notebooks(tmp_path, suffix):
    source = tmp_path / "source"
    source.mkdir()
    text = "# Facts\n\nThe service waits {{ serving_busy_timeout }} and binds {{ serving_bind }}.\n"
    if suffix == ".md":
        (source / "index.md").write_text(text)
    else:
        import nbformat

        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(notebook, source / "index.ipynb")
    (source / "conf.py").write_text(
        "extensions = ['myst_nb', 'settings_facts']\n"
        "myst_enable_extensions = ['substitution']\n"
        "nb_execution_mode = 'off'\n"
    )
    # A separate process: myst-nb registers its parser globally, which would break the other
    # tests' in-process Sphinx builds.
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source), str(tmp_path / "html")],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "book" / "_ext")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert build.returncode == 0 and "WARNING" not in build.stderr, build.stderr
    html = (tmp_path / "html" / "index.html").read_text()
    assert f"waits {BUSY_MS} ms and binds 127.0.0.1:8000." in html


def bind_statements(text: str) -> list[str]:
    """Paragraphs that state a default address to bind or listen on, with the address they name."""
    found = []
    for paragraph in paragraphs(text):
        if re.search(r"\bdefault", paragraph, re.I) and re.search(r"\b(bind|listen)", paragraph):
            found += re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}:(?:\d+|\$\w+)", paragraph)
    return found


def test_every_page_states_the_default_bind_of_gunicorn_conf():
    assert bind_statements("By default it binds `0.0.0.0:8000`.\n\nIt listens.") == ["0.0.0.0:8000"]
    # The cheat sheet's row for gunicorn's own `bind` setting names both addresses and gunicorn's
    # PORT rule; the service's default (gunicorn.conf.py) must be among them.
    for page, text in prose_texts(REPO_ROOT).items():
        addresses = bind_statements(text)
        if addresses:
            assert FACTS["serving_bind"] in addresses, f"{page} states a default bind {addresses}"
