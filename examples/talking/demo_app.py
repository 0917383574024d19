"""The small Flask app the Part I chapters talk to: a greeting, an echo, a slow, a flaky and a
busy endpoint, and a count of the requests and TCP connections it has seen.

`create_demo_app()` builds a fresh app with its own counters, so every notebook cell or test that
needs one starts from zero.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, jsonify, request

# Where each WSGI server puts the socket of the connection a request arrived on.
SOCKET_KEYS = ("werkzeug.socket", "gunicorn.socket")


@dataclass
class DemoState:
    """What the app remembers between requests, for the chapters to inspect."""

    failures_before_success: int = 2
    flaky_attempts: list[float] = field(default_factory=list)
    requests: int = 0
    # Requests that arrive on the same socket object came over one TCP connection. Keeping the
    # objects alive keeps their id() unique, so a new connection is never mistaken for an old one.
    sockets: dict[int, object] = field(default_factory=dict)
    # Set to end every sleep of /slow early, so that no request thread outlives its server.
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, environ: dict) -> None:
        connection = next((environ[key] for key in SOCKET_KEYS if key in environ), None)
        with self.lock:
            self.requests += 1
            if connection is not None:
                self.sockets.setdefault(id(connection), connection)

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {"requests": self.requests, "connections": len(self.sockets)}

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.sockets.clear()
            self.flaky_attempts.clear()


def create_demo_app(failures_before_success: int = 2) -> Flask:
    """A Flask app whose state lives in `app.extensions["demo"]` (a DemoState)."""
    app = Flask(__name__)
    state = DemoState(failures_before_success=failures_before_success)
    app.extensions["demo"] = state

    @app.before_request
    def count_request():
        # /stats is how a client reads the counts: it must not change them.
        if not request.path.startswith("/stats"):
            state.count(request.environ)

    @app.get("/hello")
    def hello():
        return "Hello from the server\n", 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.post("/echo")
    def echo():
        if not request.is_json:  # the Content-Type does not say JSON: we cannot read this body
            message = "send the body as JSON, with Content-Type: application/json"
            return jsonify(error=message), 415
        body = request.get_json(silent=True)
        if body is None:  # it says JSON, but the bytes do not parse as JSON
            return jsonify(error="the body is not valid JSON"), 400
        return jsonify(you_sent=body)

    @app.get("/slow")
    def slow():
        seconds = float(request.args.get("seconds", "2"))
        state.release.wait(timeout=min(seconds, 10.0))
        return jsonify(waited_seconds=seconds)

    @app.get("/flaky")
    def flaky():
        with state.lock:
            state.flaky_attempts.append(time.monotonic())
            attempt = len(state.flaky_attempts)
        if attempt <= state.failures_before_success:
            return jsonify(error="temporarily unavailable, try again", attempt=attempt), 503
        return jsonify(result="ok", attempt=attempt)

    @app.get("/busy")
    def busy():
        # Overloaded, and says so: come back in `retry_after` seconds (the Retry-After header).
        retry_after = request.args.get("retry_after", "3600")
        return jsonify(error="overloaded, try later"), 503, {"Retry-After": retry_after}

    @app.get("/stats")
    def stats():
        return jsonify(state.stats())

    @app.post("/stats/reset")
    def reset_stats():
        state.reset()
        return jsonify(state.stats())

    return app
