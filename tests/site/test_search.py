"""The site's search box finds what a reader types on the page that explains it, first.

Each phrase is typed into the built site's own search page in chromium, so the ranking is exactly
Sphinx's (searchtools.js), not a copy of it. Phrases that Sphinx's word splitting cannot find
("0.0.0.0") get a main index entry from book/_ext/search_aliases.py. Phrases whose page is still
being written are listed as pending and skipped with the page that ranks first today.
"""

import os
from pathlib import Path
from urllib.parse import quote, urldefrag

import pytest

from tools.book_checks import REPO_ROOT

pytestmark = pytest.mark.browser

SITE = Path(os.environ.get("BOOK_HTML", REPO_ROOT / "_build" / "html"))
CHROMIUM = "/usr/bin/chromium"

# phrase -> the page that explains it, which must be the first result.
EXPECTED = {
    "0.0.0.0": "notebooks/02_processes_and_ports",
    "127.0.0.1": "notebooks/02_processes_and_ports",
    "localhost": "notebooks/02_processes_and_ports",
    "HTTPS": "notebooks/03_http_by_hand",
    "async": "notebooks/17b_async_or_a_serving_framework",
    "alert": "notebooks/18_logging_and_metrics",  # its section on alerting rules
}
# phrase -> the page being written for it (issue 17 E). When it lands, move the phrase to
# EXPECTED (with an alias in book/_ext/search_aliases.py if the word search alone misses it).
PENDING = {
    "CORS": (None, "a page on browsers calling the service (cross-origin requests)"),
    "TLS": (
        None,
        "the chapter that puts TLS in front of the service (chapter 3 only introduces it)",
    ),
    # The R page is being written as a notebook; its alias is in place already.
    "R client": ("notebooks/r_phrasebook", "the runnable R client (How do I call my API from R?)"),
}


@pytest.fixture(scope="module")
def search():
    """A function: phrase -> the page paths of the first results, in the order shown."""
    if not (SITE / "searchindex.js").exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed: run `make system-deps` as root")
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM_FLAGS, serve_site, site_prefix

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

        def first_results(phrase: str, count: int = 3) -> list[str]:
            page.goto(f"{base_url}search.html?q={quote(phrase)}", wait_until="load")
            page.wait_for_selector("#search-results p.search-summary", timeout=20_000)
            hrefs = page.eval_on_selector_all(
                "#search-results ul.search li a", "links => links.map(a => a.href)"
            )
            return [
                urldefrag(href).url.removeprefix(base_url).removesuffix(".html")
                for href in hrefs[:count]
            ]

        try:
            yield first_results
        finally:
            browser.close()


@pytest.mark.parametrize("phrase", sorted(EXPECTED))
def test_the_page_that_explains_a_phrase_ranks_first(search, phrase):
    results = search(phrase)
    assert results, f"searching {phrase!r} finds nothing"
    assert results[0] == EXPECTED[phrase], f"{phrase!r}: first results {results}"


@pytest.mark.parametrize("phrase", sorted(PENDING))
def test_pending_phrases(search, phrase):
    page, what = PENDING[phrase]
    results = search(phrase)
    if page and results and results[0] == page:
        pytest.skip(f"READY: {phrase!r} now finds {page} first; move it to EXPECTED")
    pytest.skip(f"pending: no page yet for {phrase!r} ({what}); first results: {results or 'none'}")
