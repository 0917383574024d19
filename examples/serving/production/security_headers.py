"""Response headers that tell a browser to be careful with what this service sends.

An API is mostly read by programs, but a browser may open a URL too (the docs page certainly),
and these headers close the doors a browser would otherwise leave open. They are a few constant
strings, added as the response leaves by a small WSGI middleware (a wrapper around the app that
sees every response, errors included): setting them one by one on Flask's response object, which
checks each name and value, cost about 15 µs per request here; appending the ready-made pairs
costs about 2.

The Server header is the web server's business: gunicorn sends `Server: gunicorn` with no
version number; Flask's development server sends its versions, one more reason to keep it at home.
"""

from __future__ import annotations

from flask import Flask

# The docs page runs Swagger UI from our own files: scripts, styles and the OpenAPI document come
# from this origin only, and no inline script or style is allowed. Swagger UI draws its icons as
# data: images, the one exception. (Checked in chromium: the page, an expanded operation and the
# Authorize dialog raise no policy violation.)
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Everything else is JSON (or the metrics text): nothing in it may load or run anything.
API_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

ALWAYS = {
    # Believe the Content-Type we send; never guess ("sniff") that JSON is HTML or a script.
    "X-Content-Type-Options": "nosniff",
    # Do not tell other sites which of our URLs a visitor came from.
    "Referrer-Policy": "no-referrer",
    # Older browsers' version of frame-ancestors: no page may show ours inside a frame.
    "X-Frame-Options": "DENY",
    # Other origins' pages may not embed our responses.
    "Cross-Origin-Resource-Policy": "same-origin",
}


_OURS = {name.lower() for name in ALWAYS} | {"content-security-policy"}
_API_HEADERS = [*ALWAYS.items(), ("Content-Security-Policy", API_POLICY)]
_DOCS_HEADERS = [*ALWAYS.items(), ("Content-Security-Policy", DOCS_POLICY)]


def with_security_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A response's headers plus ours: the docs policy for HTML, the strict one for the rest."""
    kept, is_html, caching = [], False, False
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-type":
            is_html = value.startswith("text/html")
        elif lowered == "cache-control":
            caching = True
        if lowered not in _OURS:
            kept.append((name, value))
    kept += _DOCS_HEADERS if is_html else _API_HEADERS
    # A prediction is an answer for one client at one time: no cache, shared or private, may keep
    # it. Responses that chose their own caching (the docs' static files) keep their choice.
    if not caching:
        kept.append(("Cache-Control", "no-store"))
    return kept


class SecurityHeaders:
    """WSGI middleware: every response the app starts leaves with the headers."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, with_security_headers(headers), exc_info)

        return self.wsgi_app(environ, start)


def init_app(app: Flask) -> None:
    """Add the headers to every response, errors included."""
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
