"""Response headers that tell a browser to be careful with what this service sends.

An API is mostly read by programs, but a browser may open a URL too (the docs page certainly),
and these headers close the doors a browser would otherwise leave open. None of them slows a
request down: they are a few constant strings added to each response.

The Server header is the web server's business: gunicorn sends `Server: gunicorn` with no
version number; Flask's development server sends its versions, one more reason to keep it at home.
"""

from __future__ import annotations

from flask import Flask, Response

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


def add_security_headers(response: Response) -> Response:
    response.headers.update(ALWAYS)
    is_html = response.mimetype == "text/html"
    response.headers["Content-Security-Policy"] = DOCS_POLICY if is_html else API_POLICY
    # A prediction is an answer for one client at one time: no cache, shared or private, may keep
    # it. Responses that chose their own caching (the docs' static files) keep their choice.
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Add the headers to every response, errors included."""
    app.after_request(add_security_headers)
