"""A tiny WSGI app whose requests take as long as the client asks: for showing gunicorn's timeout
and its graceful shutdown (chapter 16). `GET /sleep?seconds=2` sleeps, then says which worker
answered; `GET /healthz` answers at once."""

from __future__ import annotations

import os
import time

from flask import Flask, request

# A request may not ask for more than this, so a typo cannot hold a worker for an hour.
LONGEST_SLEEP_SECONDS = 30.0


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "worker_pid": os.getpid()}

    @app.get("/sleep")
    def sleep():
        seconds = min(float(request.args.get("seconds", "1")), LONGEST_SLEEP_SECONDS)
        time.sleep(seconds)
        return {"slept_seconds": seconds, "worker_pid": os.getpid()}

    return app
