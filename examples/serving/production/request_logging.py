"""One JSON log line per request, tied together by a request id the client can send or we make.

A log line is a record a program can parse: `{"event": "request", "method": "POST", ...}`.
The request id is echoed in the `X-Request-ID` response header, so a client that reports a
problem can quote it, and we can find every line (and the stored prediction) it belongs to.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

import orjson
from flask import Flask, Response, g, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept from a client: short, and only characters that cannot break a log line or a
# header (no spaces, quotes, newlines). Anything else is replaced by an id we generate.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
LOGGER_NAME = "examples.serving.requests"


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON: the message plus the fields passed in `extra={"fields": ...}`.

    Stack traces are left out unless `tracebacks` is true (SERVING_LOG_LEVEL=DEBUG): they can show
    file paths, settings or the data being processed.
    """

    def __init__(self, tracebacks: bool = False):
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,  # which gunicorn worker wrote it
            "event": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = record.exc_info[0].__name__
            if self.tracebacks:
                line["traceback"] = self.formatException(record.exc_info)
        # orjson: about ten times faster than json.dumps here; default=str writes what JSON has no
        # type for (a path, an exception) as its text.
        return orjson.dumps(line, default=str).decode()


def configure_json_logging(level: str | None = None, stream=None) -> logging.Logger:
    """Send the service's loggers to stdout as JSON lines (once, however often an app is created)."""
    level = (level or os.environ.get("SERVING_LOG_LEVEL", "INFO")).upper()
    logger = logging.getLogger("examples.serving")
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if getattr(h, "_serving_json", False)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stdout)
        handler._serving_json = True
        logger.addHandler(handler)
    handler.setFormatter(JsonFormatter(tracebacks=level == "DEBUG"))
    return logger


def request_id_from(header_value: str | None) -> str:
    """The client's request id when it is well-formed, otherwise a new random one."""
    if header_value and _VALID_REQUEST_ID.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being handled (None outside a request)."""
    return g.get("request_id")


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))


_request_logger = logging.getLogger(LOGGER_NAME)


def _log_request(response: Response) -> Response:
    request_id = g.get("request_id", "")
    response.headers[REQUEST_ID_HEADER] = request_id
    if not _request_logger.isEnabledFor(logging.INFO):
        return response  # the line would not be written: skip building it
    started = g.get("request_started")
    duration_ms = (time.perf_counter() - started) * 1000 if started else None
    results = g.get("predictions")  # set by the prediction routes
    fields = {
        "request_id": request_id or None,
        "method": request.method,
        # The route pattern, not the raw path: a path can carry anything a client typed.
        "path": request.path if request.url_rule else "(unmatched)",
        "status": response.status_code,
        "duration_ms": round(duration_ms, 3) if duration_ms is not None else None,
        "model_version": results[0].model_version if results else None,
        "client": g.get("client_name"),
    }
    _request_logger.info("request", extra={"fields": fields})
    return response


def init_app(app: Flask, level: str | None = None) -> None:
    """Give every request an id and write one JSON line when its response leaves."""
    configure_json_logging(level)
    # Flask gives app.logger its own handler, which prints whole tracebacks (with file paths) to
    # stderr; our JSON lines say what failed without them.
    app.logger.removeHandler(default_handler)
    app.before_request(_start_request)
    app.after_request(_log_request)
