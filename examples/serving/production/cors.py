"""Cross-origin requests (CORS): which other web sites' pages a browser lets call the API.

A browser sends a page's requests to any server, but lets the page read an answer from another
origin (scheme, host and port) only when the answer says that origin may; before a request that a
plain HTML form could not send (JSON, an API key header), it first asks with an OPTIONS request,
the preflight. flask-cors answers both. The service names each allowed origin exactly
(SERVING_CORS_ORIGINS) and never sends credentials' permission (`supports_credentials` stays
False): our clients authenticate with headers a script sets, not with the browser's cookies.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

# The request headers a page may send, and the response headers it may read, beyond the basic ones.
ALLOWED_HEADERS = ["Content-Type", "Authorization", "X-API-Key", "Idempotency-Key", "X-Request-ID"]
EXPOSED_HEADERS = ["Retry-After", "X-Request-ID", "Idempotent-Replayed"]


def init_app(app: Flask, origins: list[str]) -> None:
    """Let pages from `origins` call /v1/*; with no origins, add nothing (the browser's default
    refusal stands)."""
    if not origins:
        return
    CORS(
        app,
        resources={r"/v1/*": {"origins": origins}},
        methods=["GET", "POST"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        supports_credentials=False,
        max_age=600,  # a browser may reuse a preflight's answer for 10 minutes
    )
