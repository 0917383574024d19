"""Fixtures for the production features: a small Flask app with one fake prediction route, so
each feature is tested on its own, and helpers to read the JSON log lines."""

from __future__ import annotations

import contextlib
import io
import logging

import pytest
from flask import Flask, g

from examples.serving import errors
from examples.serving.production.request_logging import LOGGER_NAME, JsonFormatter
from examples.serving.routes import PredictionResult

FEATURES = {"alcohol": 13.2, "proline": 1050.0}


def fake_result(prediction: str = "class_0") -> PredictionResult:
    probabilities = {"class_0": 0.1, "class_1": 0.1, "class_2": 0.1} | {prediction: 0.8}
    return PredictionResult(dict(FEATURES), prediction, probabilities, "1.0.0")


def make_app() -> Flask:
    """An app with the contract's error handling and two routes shaped like the real ones."""
    app = Flask("production-test")
    app.config["TESTING"] = True
    # These tests check the 500 the service answers; with TESTING alone Flask would raise the bug
    # into the test instead (chapter 13).
    app.config["PROPAGATE_EXCEPTIONS"] = False
    errors.init_app(app)

    @app.post("/v1/predict")
    def predict():
        g.predictions = [fake_result()]
        return {"prediction": "class_0", "model_version": "1.0.0"}

    @app.post("/v1/predict/batch")
    def predict_batch():
        g.predictions = [fake_result(name) for name in ("class_0", "class_1", "class_1")]
        return {"count": 3}

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    return app


@pytest.fixture
def mini_app() -> Flask:
    return make_app()


@contextlib.contextmanager
def captured_log(name: str = LOGGER_NAME):
    """Collect the JSON lines one logger writes, formatted exactly as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    lines: list[str] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        lines.extend(stream.getvalue().splitlines())


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A trained model in a temporary folder, once per test session."""
    from examples.model import ensure_model

    directory = tmp_path_factory.mktemp("model")
    ensure_model(directory)
    return directory
