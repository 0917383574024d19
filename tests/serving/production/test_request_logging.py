"""One JSON line per request, with a request id the client may choose (if it is well-formed)."""

import json
import logging
import sys

import pytest

from examples.serving.production import request_logging
from tests.serving.production.conftest import captured_log


@pytest.fixture
def client(mini_app):
    request_logging.init_app(mini_app)
    return mini_app.test_client()


def test_one_json_line_per_request_with_the_fields(client):
    with captured_log() as lines:
        response = client.post("/v1/predict", json={}, headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    [line] = [json.loads(text) for text in lines]
    assert line["event"] == "request"
    assert line["request_id"] == "abc-123"
    assert line["method"] == "POST"
    assert line["path"] == "/v1/predict"
    assert line["status"] == 200
    assert line["model_version"] == "1.0.0"
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO"


@pytest.mark.parametrize(
    "sent", ["", "x" * 65, "has space", 'quote"d', "new\nline", "é", "<script>"]
)
def test_a_malformed_request_id_is_replaced(sent):
    generated = request_logging.request_id_from(sent)
    assert generated != sent
    assert len(generated) == 32 and generated.isalnum()


def test_a_request_without_an_id_gets_a_fresh_one(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second and len(first) == 32


def test_unmatched_paths_are_not_logged_verbatim(client):
    with captured_log() as lines:
        client.get("/secret-token-in-path")
    [line] = [json.loads(text) for text in lines]
    assert line["status"] == 404
    assert "secret-token-in-path" not in lines[0]


def test_a_failure_logs_no_traceback_at_info(client, caplog):
    with captured_log() as request_lines, captured_log("production-test") as app_lines:
        response = client.get("/boom")
    assert response.status_code == 500
    assert json.loads(request_lines[0])["status"] == 500
    # The error handler's record carries the exception; at INFO the formatter leaves it out.
    for text in app_lines:
        assert "Traceback" not in text and "secret internals" not in text


def test_tracebacks_appear_only_when_asked_for():
    try:
        raise ValueError("detail")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    quiet = json.loads(request_logging.JsonFormatter().format(record))
    assert quiet["exception"] == "ValueError" and "traceback" not in quiet
    verbose = json.loads(request_logging.JsonFormatter(tracebacks=True).format(record))
    assert "ValueError: detail" in verbose["traceback"]


def test_configuring_twice_adds_one_handler():
    logger = request_logging.configure_json_logging()
    before = len(logger.handlers)
    request_logging.configure_json_logging()
    assert len(logger.handlers) == before
