"""What every Flask contender starts from: an app that answers the harness's health check."""

from __future__ import annotations

from flask import Flask


def health_checked_app(import_name: str) -> Flask:
    """A Flask app whose `GET /healthz` answers {"status": "ok"}: the address the harness polls
    before it measures, the same in every contender."""
    app = Flask(import_name)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
