"""Live code (`make live`, tools/live.py): cells edited and run in the page on a local kernel.

The built site is served with live code, and a real chromium presses "Live code" in three
chapters, runs the cells before one of them, edits that cell by typing into its editor, runs it
with its own button and reads the new output. One of the edited cells starts a server. Every
request the browser makes is checked: only the site and the Jupyter server, both on 127.0.0.1.
Then `make live` and `make lab` themselves are started (as root here) and must answer.
Needs `make book` first, chromium, and npm once (thebe is fetched into _build/thebe/).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.imported_from import examples_location
from tools import live as live_tool
from tools.book_checks import REPO_ROOT
from tools.chromium import CHROMIUM, CHROMIUM_FLAGS
from tools.site_server import serve_site

pytestmark = pytest.mark.browser

SITE = Path(os.environ.get("BOOK_HTML", REPO_ROOT / "_build" / "html"))
# Messages the theme prints on every page (see TOOL-FACTS.md), harmless.
KNOWN_HARMLESS = ("Identifier 'THEBE_JS_URL' has already been declared", "invalid theme mode")


@dataclass(frozen=True)
class Edit:
    """In `chapter`, the cell containing `marker`: type `typed` over `replace`, expect `expect`."""

    chapter: str
    marker: str
    replace: str
    typed: str
    expect: str


EDITS = [
    # A plain cell, the first of its chapter.
    Edit(
        "04_json", '"wine": "Barolo"', "Barolo", "Nebbiolo, edited live", '"Nebbiolo, edited live"'
    ),
    # A cell that starts a Flask server on a free port, asks it, and stops it.
    Edit("09_hello_flask", 'params={"wine": "barolo"}', "barolo", "edited-live", "edited-live"),
    # A cell that sends an order to the model the chapter loaded in earlier cells, via a server.
    Edit(
        "01_waiter_end_to_end",
        'print("status:"',
        "status:",
        "status, edited live:",
        "status, edited live: 200",
    ),
]


@dataclass
class Requests:
    allowed_origins: tuple[str, ...]
    seen: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    # page.route sees HTTP only; thebe talks to the kernel over a WebSocket, recorded here.
    websockets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def guard(self, route) -> None:
        url = route.request.url
        self.seen.append(url)
        if url.startswith(self.allowed_origins) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[live_tool.Live]:
    if not (SITE / "index.html").exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed: run `make system-deps` as root")
    if not (live_tool.THEBE_ROOT / live_tool.THEBE_VERSION).exists() and not shutil.which("npm"):
        pytest.fail("make live fetches thebe once with npm: install npm (Debian package `npm`)")
    log = tmp_path_factory.mktemp("live") / "jupyter.log"
    with live_tool.live(site=SITE, log=log) as running:
        yield running


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(chromium, url: str, origins: tuple[str, ...]) -> tuple[object, Requests]:
    requests = Requests(allowed_origins=origins)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/*", requests.guard)

    def console(message) -> None:
        if message.type == "error" and not any(k in message.text for k in KNOWN_HARMLESS):
            requests.errors.append(message.text)

    page.on("console", console)
    page.on("websocket", lambda socket: requests.websockets.append(socket.url))
    page.on(
        "pageerror",
        lambda error: (
            None
            if any(k in str(error) for k in KNOWN_HARMLESS)
            else requests.errors.append(str(error))
        ),
    )
    page.goto(url, wait_until="load")
    return page, requests


FIND_CELL = """(marker) => {
  const cells = window.thebe.notebook.cells;
  const index = cells.findIndex(cell => cell.source.includes(marker));
  return index < 0 ? null : {index, id: cells[index].id, before: index ? cells[index - 1].id : null};
}"""

SELECT_TEXT = """([id, text]) => {
  const cm = document.querySelector(`[data-thebe-id="${id}"] .CodeMirror`).CodeMirror;
  const start = cm.getValue().indexOf(text);
  cm.focus();
  cm.setSelection(cm.posFromIndex(start), cm.posFromIndex(start + text.length));
}"""

OUTPUT_OF = """(id) => {
  const box = document.querySelector(`[data-thebe-id="${id}"]`);
  return box.closest('div.cell').querySelector('[data-output]').innerText;
}"""


@pytest.mark.parametrize("edit", EDITS, ids=[edit.chapter for edit in EDITS])
def test_live_code_runs_an_edited_cell_on_the_local_kernel(running, chromium, edit):
    origins = (running.site_url, running.jupyter_url)
    page, requests = open_page(
        chromium, f"{running.site_url}notebooks/{edit.chapter}.html", origins
    )
    try:
        page.click(".book-live-button")
        page.wait_for_selector('.book-live-button[data-state="ready"]', timeout=90_000)
        cell = page.evaluate(FIND_CELL, edit.marker)
        assert cell is not None, f"no cell with {edit.marker!r} in {edit.chapter}"
        if cell["before"]:  # the cells above it, as a reader would run them first
            page.evaluate("(id) => window.thebe.notebook.executeUpTo(id, false)", cell["before"])
        page.evaluate(SELECT_TEXT, [cell["id"], edit.replace])
        page.keyboard.type(edit.typed)  # typed into the editor, replacing the selection
        page.click(f'[data-thebe-id="{cell["id"]}"] .thebe-run-button')
        page.wait_for_function(
            f"(id) => ({OUTPUT_OF})(id).includes({edit.expect!r})", arg=cell["id"], timeout=90_000
        )
        output = page.evaluate(OUTPUT_OF, cell["id"])
        assert edit.expect in output
        if edit.chapter == "09_hello_flask":
            assert re.search(r"listening on http://127\.0\.0\.1:\d+", output), output
    finally:
        page.close()
    assert requests.external == []
    assert requests.errors == []
    assert any(url.startswith(f"{running.site_url}_thebe/index.js") for url in requests.seen)
    assert any(url.startswith(f"{running.jupyter_url}api/") for url in requests.seen)
    kernel_socket = running.jupyter_url.replace("http://", "ws://", 1) + "api/kernels/"
    assert requests.websockets, "thebe opened no WebSocket to the kernel"
    assert all(url.startswith(kernel_socket) for url in requests.websockets), requests.websockets


def test_the_kernel_imports_the_book_of_the_site_it_serves(tmp_path):
    """make live's kernel runs this repository's `examples`, whatever the venv's -e points at."""
    environment = live_tool.server_environment("a-token")
    assert environment["JUPYTER_TOKEN"] == "a-token"
    where = examples_location(tmp_path, environment)
    assert where.is_relative_to(REPO_ROOT), where


def test_the_plain_site_shows_no_live_button_and_loads_no_thebe(running, chromium):
    with serve_site(SITE, "/") as url:
        page, requests = open_page(chromium, f"{url}notebooks/04_json.html", (url,))
        try:
            page.wait_for_load_state("networkidle")
            assert page.locator(".book-live-button").count() == 0
            assert page.locator('meta[name="book-notebook"]').count() == 1
        finally:
            page.close()
    assert requests.external == []
    assert not any("thebe/index.js" in seen or "/_thebe/" in seen for seen in requests.seen)
    # sphinx-thebe's leftovers (an unrelated Binder repository, thebe 0.8 on a CDN) are gone.
    html = (SITE / "notebooks" / "04_json.html").read_text()
    for leftover in ("x-thebe-config", "jupyter-stacks-datascience", "unpkg.com", "THEBE_JS_URL"):
        assert leftover not in html


def _answer(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_the_live_site_answers_only_requests_addressed_to_this_machine(running):
    page = running.site_url + "notebooks/04_json.html"
    assert _answer(page)[0] == 200
    assert _answer(page, {"Host": "rebound.example.org"})[0] == 403


def test_the_jupyter_server_needs_the_token_and_serves_only_the_sites_origin(running):
    kernels = running.jupyter_url + "api/kernels"
    assert _answer(kernels)[0] == 403
    token = {"Authorization": f"token {running.token}"}
    assert _answer(kernels, token)[0] == 200
    site_origin = running.site_url.rstrip("/")
    for origin, allowed in ((site_origin, True), ("http://127.0.0.1:9", False)):
        preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        _, headers = _answer(kernels, preflight, method="OPTIONS")
        assert (headers.get("Access-Control-Allow-Origin") == origin) is allowed, headers


@contextlib.contextmanager
def make_target(*arguments: str) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        ["make", *arguments],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 90) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"make exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, b""
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def test_make_live_starts_and_answers(running):
    site_port = live_tool.free_port()
    jupyter_port = next(port for port in iter(live_tool.free_port, None) if port != site_port)
    with make_target("live", f"LIVE_PORT={site_port}", f"LIVE_JUPYTER_PORT={jupyter_port}") as made:
        status, page = _wait_for(f"http://127.0.0.1:{site_port}/notebooks/04_json.html", made)
        assert status == 200 and b"window.BOOK_LIVE" in page
        token = re.search(rb'"token": "([^"]+)"', page).group(1).decode()
        status, _ = _wait_for(f"http://127.0.0.1:{jupyter_port}/api/status?token={token}", made)
        assert status == 200


def test_make_lab_starts_and_answers_even_as_root():
    """...and serves the chapter where each page's "Jupyter Lab (make lab)" link points."""
    if not (SITE / "notebooks" / "04_json.html").exists():
        pytest.skip(f"no built site in {SITE}: run `make book` first")
    port = live_tool.free_port()
    token = "test-token-for-make-lab"
    arguments = f"LAB_ARGS=--no-browser --IdentityProvider.token={token}"
    with make_target("lab", f"LAB_PORT={port}", arguments) as made:
        status, page = _wait_for(f"http://127.0.0.1:{port}/login", made)
        assert status == 200 and b"Jupyter" in page
        link = re.search(
            r'href="http://127\.0\.0\.1:8888/lab/tree/([^"]+)"',
            (SITE / "notebooks" / "04_json.html").read_text(),
        )
        assert link is not None and link.group(1) == "04_json.ipynb"
        contents = f"http://127.0.0.1:{port}/api/contents/{link.group(1)}?token={token}"
        assert _wait_for(contents, made)[0] == 200
        assert (
            _wait_for(f"http://127.0.0.1:{port}/lab/tree/{link.group(1)}?token={token}", made)[0]
            == 200
        )
