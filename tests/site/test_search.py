"""The site's search box finds what a reader types on the page that explains it, first.

Each phrase is typed into the built site's own search page in chromium, so the ranking is exactly
Sphinx's (searchtools.js), not a copy of it. Phrases that Sphinx's word splitting cannot find
("0.0.0.0") get a main index entry from book/_ext/search_aliases.py. Every phrase has the page it
must find first: the test fails when another page ranks first, or nothing is found.
"""

import os
import sys
from pathlib import Path
from urllib.parse import quote, urldefrag

import pytest

from tools.book_checks import REPO_ROOT
from tools.chromium import CHROMIUM, CHROMIUM_FLAGS

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

from search_aliases import ALIASES  # noqa: E402 - lives in book/_ext, which Sphinx loads by path

pytestmark = pytest.mark.browser

SITE = Path(os.environ.get("BOOK_HTML", REPO_ROOT / "_build" / "html"))

# phrase -> the page that explains it, which must be the first result.
EXPECTED = {
    "0.0.0.0": "notebooks/02_processes_and_ports",
    "127.0.0.1": "notebooks/02_processes_and_ports",
    "localhost": "notebooks/02_processes_and_ports",
    "HTTPS": "notebooks/23_scaling_out",  # its section "TLS ends at nginx"
    "TLS": "notebooks/23_scaling_out",  # the same section
    "CORS": "notebooks/23_scaling_out",  # its section "Pages from other sites: CORS"
    "async": "notebooks/17b_async_or_a_serving_framework",
    "alert": "notebooks/18_logging_and_metrics",  # its section on alerting rules
    "R client": "notebooks/r_phrasebook",  # its section "How do I call my API from R?"
}


@pytest.fixture(scope="module")
def search():
    """A function: phrase -> the first results as (page path, section id), in the order shown."""
    if not (SITE / "searchindex.js").exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed: run `make system-deps` as root")
    from playwright.sync_api import sync_playwright
    from test_browser import site_prefix

    from tools.site_server import serve_site

    with serve_site(SITE, site_prefix()) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        # Only the local site: anything else is refused, so a search cannot leave the machine.
        origin = "/".join(base_url.split("/", 3)[:3]) + "/"
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(origin) else route.abort()
            ),
        )

        def first_results(phrase: str, count: int = 3) -> list[tuple[str, str]]:
            page.goto(f"{base_url}search.html?q={quote(phrase)}", wait_until="load")
            page.wait_for_selector("#search-results p.search-summary", timeout=20_000)
            hrefs = page.eval_on_selector_all(
                "#search-results ul.search li a", "links => links.map(a => a.href)"
            )
            found = [urldefrag(href) for href in hrefs[:count]]
            return [
                (url.removeprefix(base_url).removesuffix(".html"), fragment)
                for url, fragment in found
            ]

        try:
            yield first_results
        finally:
            browser.close()


@pytest.mark.parametrize("phrase", sorted(EXPECTED))
def test_the_page_that_explains_a_phrase_ranks_first(search, phrase):
    results = search(phrase)
    print(f"{phrase!r} finds first: {results[0] if results else 'nothing'}")
    assert results, f"searching {phrase!r} finds nothing"
    assert results[0][0] == EXPECTED[phrase], f"{phrase!r}: first results {results}"
    if phrase in ALIASES:  # an alias leads to the section itself, not only to its page
        assert results[0] == ALIASES[phrase], f"{phrase!r}: first results {results}"


def test_every_alias_is_a_phrase_the_test_checks():
    assert set(ALIASES) <= set(EXPECTED)
