"""The framework ceiling: gunicorn + Flask answering every prediction with the same constant reply.

No model, no parsing: what one request costs before our code does anything. No service built on
the same stack can answer more requests per second than this on the same machine.
"""

from __future__ import annotations

from flask import Flask

from examples.production.contenders.flask_base import health_checked_app

CONSTANT_REPLY = {
    "prediction": "class_0",
    "probabilities": {"class_0": 0.97, "class_1": 0.02, "class_2": 0.01},
    "model_version": "1.0.0",
}


def create_app() -> Flask:
    app = health_checked_app(__name__)

    @app.post("/v1/predict")
    def predict():
        return CONSTANT_REPLY

    return app
