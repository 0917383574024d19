"""The built site, opened page by page in a real chromium (`make browser`, after `make book`).

The site is served from `_build/html` by a threaded http.server on a free 127.0.0.1 port, under
the same folder it has when published (the 404 page links its styles from there). Every request
the browser makes is recorded; any that would leave 127.0.0.1 is aborted and fails the test.
Each page in `_toc.yml` is visited once and what it showed is kept, so the tests below only read.
To check a build made elsewhere (`--path-output DIR`), set BOOK_HTML=DIR/_build/html.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit
from xml.etree import ElementTree

import pytest
import yaml

from tools.book_checks import REPO_ROOT, toc_files
from tools.chromium import CHROMIUM, CHROMIUM_FLAGS
from tools.site_server import serve_site

sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

import book_sitemap  # noqa: E402 - lives in book/_ext, which Sphinx loads by path

pytestmark = pytest.mark.browser

SITE = Path(os.environ.get("BOOK_HTML", REPO_ROOT / "_build" / "html"))
SCREENSHOTS = SITE.parent / "screenshots"
# Messages the theme itself prints on every page; both are harmless (see TOOL-FACTS.md).
KNOWN_HARMLESS = (
    "Identifier 'THEBE_JS_URL' has already been declared",  # sphinx-thebe declares it twice
    "Got invalid theme mode: . Resetting to auto.",  # pydata-sphinx-theme, first visit only
)
# Alt texts that say nothing about the picture.
MEANINGLESS_ALT = {"", "image", "figure", "picture", "diagram", "plot", "png", "svg", "img"}


def site_url() -> str:
    """Where the site is published, as book/_ext/book_sitemap.py derives it; "" when unset."""
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    explicit = config["sphinx"]["config"].get("site_url")
    return explicit or book_sitemap.published_address(config["repository"].get("url") or "")


def site_prefix() -> str:
    """The folder the site is served under (the 404 page's links start with it): '/' or '/NAME/'."""
    return book_sitemap.site_prefix(site_url())


@dataclass
class PageVisit:
    """What one page showed and asked for while it loaded."""

    name: str
    url: str
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    next_url: str | None = None
    previous_url: str | None = None
    launch_links: list[str] = field(default_factory=list)
    download_links: list[str] = field(default_factory=list)


PAGE_FACTS = """() => {
  const article = document.querySelector('article.bd-article') || document.body;
  return {
    images: [...document.images].map(img => ({
      src: img.getAttribute('src'), alt: (img.getAttribute('alt') || '').trim(),
      width: img.naturalWidth, complete: img.complete})),
    headings: [...article.querySelectorAll('h1, h2, h3, h4, h5, h6')]
      .map(h => [Number(h.tagName[1]), h.textContent.replace('#', '').trim()]),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    next: document.querySelector('a.right-next')?.href ?? null,
    previous: document.querySelector('a.left-prev')?.href ?? null,
    launch: [...document.querySelectorAll('.dropdown-launch-buttons a')].map(a => a.href),
    download: [...document.querySelectorAll('a.btn-download-source-button')].map(a => a.href),
  };
}"""

EAGER_IMAGES = """async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
}"""


class Browser:
    """One chromium with one page whose every request is checked against the local server."""

    def __init__(self, playwright, base_url: str) -> None:
        self.base_url = base_url
        self.origin = base_url.split("/", 3)[:3]
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        self.page = self.browser.new_page(viewport={"width": 1280, "height": 900})
        self.visit: PageVisit | None = None
        self.page.route("**/*", self._guard)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self._error(f"uncaught: {error}"))
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._request_failed)

    def _is_local(self, url: str) -> bool:
        return url.split("/", 3)[:3] == self.origin or url.startswith(("data:", "blob:", "about:"))

    def _guard(self, route) -> None:
        url = route.request.url
        if self._is_local(url):
            route.continue_()
        else:
            if self.visit is not None:
                self.visit.external.append(url)
            route.abort()

    def _error(self, text: str) -> None:
        if self.visit is not None and not any(known in text for known in KNOWN_HARMLESS):
            self.visit.errors.append(text)

    def _console(self, message) -> None:
        if message.type == "error":
            self._error(f"console: {message.text} ({message.location.get('url')})")

    def _response(self, response) -> None:
        if self.visit is not None and response.status >= 400 and self._is_local(response.url):
            self.visit.failed.append(f"{response.status} {response.url}")

    def _request_failed(self, request) -> None:
        if self.visit is not None and self._is_local(request.url):
            self.visit.failed.append(f"{request.failure} {request.url}")

    def open(self, name: str, path: str, wait_ms: int = 300) -> PageVisit:
        self.visit = PageVisit(name=name, url=self.base_url + path)
        self.page.goto(self.visit.url, wait_until="load")
        self.page.evaluate(EAGER_IMAGES)
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(wait_ms)  # late scripts (MathJax fonts) report their errors
        facts = self.page.evaluate(PAGE_FACTS)
        visit = self.visit
        visit.images = facts["images"]
        visit.headings = [tuple(heading) for heading in facts["headings"]]
        visit.links = facts["links"]
        visit.ids = set(facts["ids"])
        visit.next_url, visit.previous_url = facts["next"], facts["previous"]
        visit.launch_links, visit.download_links = facts["launch"], facts["download"]
        return visit

    def close(self) -> None:
        self.browser.close()


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (SITE / "index.html").exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first (make browser does not build)")
    with serve_site(SITE, site_prefix()) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(site) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed: run `make system-deps` as root")
    with sync_playwright() as playwright:
        opened = Browser(playwright, site)
        try:
            yield opened
        finally:
            opened.close()


@pytest.fixture(scope="module")
def visits(browser) -> dict[str, PageVisit]:
    """Every page in _toc.yml, visited once, in reading order."""
    return {name: browser.open(name, f"{name}.html") for name in toc_files()}


def page_path(url: str, site: str) -> str:
    """'notebooks/01_x' for a URL of a page on the local site."""
    path = urldefrag(url).url
    assert path.startswith(site), f"{url} is not on the site"
    return unquote(path[len(site) :]).removesuffix(".html")


def test_no_console_errors(visits):
    problems = {name: visit.errors for name, visit in visits.items() if visit.errors}
    assert problems == {}


def test_no_request_leaves_the_machine(visits):
    problems = {name: visit.external for name, visit in visits.items() if visit.external}
    assert problems == {}


def test_every_resource_loads(visits):
    problems = {name: visit.failed for name, visit in visits.items() if visit.failed}
    assert problems == {}


def test_every_image_loads_and_has_meaningful_alt_text(visits):
    problems = []
    for name, visit in visits.items():
        for image in visit.images:
            if image["width"] == 0:
                problems.append(f"{name}: {image['src']} did not load")
            alt = image["alt"]
            file_name = Path(urlsplit(image["src"] or "").path).name
            if alt.lower() in MEANINGLESS_ALT or alt in {file_name, Path(file_name).stem}:
                problems.append(f"{name}: {image['src']} has no meaningful alt text ({alt!r})")
    assert problems == []


def test_headings_start_at_h1_and_never_skip_a_level(visits):
    problems = []
    for name, visit in visits.items():
        levels = [level for level, _ in visit.headings]
        if levels[:1] != [1] or levels.count(1) != 1:
            problems.append(f"{name}: expected exactly one h1, first; got levels {levels}")
        for (before, _), (level, title) in zip(visit.headings, visit.headings[1:], strict=False):
            if level > before + 1:
                problems.append(f"{name}: h{before} is followed by h{level} ({title!r})")
    assert problems == []


def test_next_and_previous_links_walk_the_book_in_toc_order(visits, site):
    order = toc_files()
    forward = [order[0]]
    while (following := visits[forward[-1]].next_url) is not None and len(forward) <= len(order):
        forward.append(page_path(following, site))
    assert forward == order
    backward = [order[-1]]
    while (preceding := visits[backward[-1]].previous_url) is not None:
        backward.append(page_path(preceding, site))
        if len(backward) > len(order):
            break
    assert backward == order[::-1]


def test_every_internal_link_resolves(visits, site):
    """Each link to the site answers 200, and a link to a #fragment of a book page finds its id."""
    problems = []
    checked: dict[str, int] = {}
    for name, visit in visits.items():
        for link in visit.links:
            if not link.startswith(site):
                continue
            target, fragment = urldefrag(link)
            if target not in checked:
                try:
                    with urllib.request.urlopen(target, timeout=10) as response:
                        checked[target] = response.status
                except urllib.error.HTTPError as error:
                    checked[target] = error.code
            if checked[target] != 200:
                problems.append(f"{name}: {link} answers {checked[target]}")
                continue
            page = page_path(target, site)
            if fragment and page in visits and unquote(fragment) not in visits[page].ids:
                problems.append(f"{name}: {link} points to a missing #{fragment}")
    assert problems == []


def test_chapters_offer_the_notebook_download_and_only_launch_links_that_work(visits, site):
    """Binder and Colab links exist only when `repository.url` is set (test_launch_links.py)."""
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    chapters = [name for name in visits if name.startswith("notebooks/")]
    assert chapters, "no chapter in _toc.yml yet"
    for name in chapters:
        visit = visits[name]
        assert any(link.endswith(f"{Path(name).name}.ipynb") for link in visit.download_links)
        hosts = {urlsplit(link).hostname for link in visit.launch_links}
        if config["repository"]["url"]:
            assert {"mybinder.org", "colab.research.google.com"} <= hosts, visit.launch_links
        else:
            assert not hosts & {"mybinder.org", "colab.research.google.com"}, visit.launch_links


def test_search_finds_a_chapter_by_a_word_in_it(browser, site):
    chapter = next(name for name in toc_files() if name.startswith("notebooks/"))
    word = "waiter" if "waiter" in chapter else Path(chapter).name.split("_")[1]
    browser.open("search", f"search.html?q={word}")
    browser.page.wait_for_selector("#search-results p.search-summary", timeout=15_000)
    found = browser.page.eval_on_selector_all("#search-results li a", "as => as.map(a => a.href)")
    assert f"{site}{chapter}.html" in [urldefrag(link).url for link in found], found


def test_not_found_page_is_styled_and_stays_local(browser, site):
    visit = browser.open("404", "no-such-chapter.html")
    assert browser.page.title().startswith("Page not found")
    missing = f"{site}no-such-chapter.html"
    assert visit.failed == [f"404 {missing}"]  # the page itself, and nothing it loads
    assert [error for error in visit.errors if missing not in error] == []
    assert visit.external == []
    stylesheets = browser.page.evaluate("() => document.styleSheets.length")
    assert stylesheets > 3, "the 404 page loaded without the theme's styles"
    # Its links are absolute (it is served at any depth): each must reach a real page.
    targets = {urldefrag(link).url for link in visit.links if link.startswith(site)} - {missing}
    for link in targets:
        with urllib.request.urlopen(link, timeout=10) as response:
            assert response.status == 200, link


def test_welcome_page_screenshot(browser, site):
    visit = browser.open("welcome", f"{toc_files()[0]}.html")
    assert visit.errors == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.page.screenshot(path=str(SCREENSHOTS / "welcome.png"), full_page=False)
    assert (SCREENSHOTS / "welcome.png").stat().st_size > 10_000


def test_the_guard_aborts_and_records_a_request_to_another_host(browser):
    """The checks above are only as good as the request guard: plant an outside image."""
    browser.visit = PageVisit(name="planted", url="about:blank")
    browser.page.set_content('<img alt="a planted outside picture" src="http://192.0.2.1/x.png">')
    browser.page.wait_for_timeout(300)
    assert browser.visit.external == ["http://192.0.2.1/x.png"]


def test_sitemap_lists_every_page_of_the_book_and_nothing_else(site):
    published = site_url()
    if not published:  # no repository, so no published address to list pages under
        assert not (SITE / "sitemap.xml").exists()
        return
    tree = ElementTree.parse(SITE / "sitemap.xml")  # noqa: S314 - our own build output
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    listed = {element.text for element in tree.getroot().findall("s:url/s:loc", namespace)}
    assert listed == {f"{published}{name}.html" for name in toc_files()}
