"""A web page from one origin calling the API on another, in a real browser (Debian's chromium
driven by Playwright), to show what CORS lets through. Chapter 23 and tests/production/scaling use it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from examples.toolbox import serve_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

# What the page's script does: POST one wine as JSON (a content type a plain HTML form cannot
# send, so the browser asks first with a preflight), then report what it could read.
CALL = """async ([url, body]) => {
    try {
        const response = await fetch(url, {method: "POST",
            headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
        const answer = await response.json();
        return {read: true, status: response.status, predicted: answer.prediction ?? null};
    } catch (error) {
        return {read: false, error: String(error)};
    }
}"""


class RecordRequests:
    """WSGI middleware that notes each request's method and path, as the API's server saw them."""

    def __init__(self, app):
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        origin = environ.get("HTTP_ORIGIN", "-")
        self.seen.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')} from {origin}")
        return self.app(environ, start_response)


def page_app() -> Flask:
    page = Flask("other_origin")
    page.get("/")(lambda: "<!doctype html><title>another site</title><p>a page elsewhere</p>")
    return page


def call_from_another_origin(api_url: str, features: dict, page_port: int) -> dict:
    """Serve a page on `page_port` (its origin is http://127.0.0.1:page_port), open it in
    chromium, and let its script POST `features` to `api_url`/v1/predict: what the script saw.
    Playwright's sync API refuses to run where an asyncio loop runs (a notebook's kernel), so the
    browser is driven from a thread of its own."""
    from playwright.sync_api import sync_playwright

    def drive() -> dict:
        with serve_app(page_app(), port=page_port) as page_server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page()
                page.goto(page_server.url + "/")
                return page.evaluate(CALL, [api_url + "/v1/predict", {"features": features}])
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(drive).result(timeout=120)
