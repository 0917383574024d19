"""One error shape for every failure: a status code and
{"error": {"status", "code", "message", "details": [{"field", "problem"}]}}.

Reading and validating a request's body lives in request_parsing.py; this module only words errors.
"""

from __future__ import annotations

import math

from flask import Flask, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError

# The stable code for each status a client may see; a client branches on the code, not the text.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
MESSAGES = {
    404: "There is no such endpoint; GET /openapi.json lists the ones that exist.",
    405: "This endpoint does not accept that method; the Allow header lists those it does.",
    413: "The request body is too large for this service.",
    500: "The service failed to handle this request; the error has been logged.",
}


class ApiError(Exception):
    """An error the client should see, with its status, stable code and an actionable message."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def to_response(self):
        body = {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "details": self.details,
        }
        response = jsonify(error=body)
        response.status_code = self.status
        response.headers.update(self.headers)
        return response


def describe(error: dict) -> str:
    """One pydantic error as a short sentence fragment about the field it names."""
    kind, context, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an accepted field"
    if kind in {"finite_number", "float_type", "float_parsing", "int_type"}:
        if isinstance(value, int) and not isinstance(value, bool):
            # A JSON integer too large for a 64-bit float (more than about 1.8e308).
            digits = len(str(abs(value)))
            return f"must be a number a 64-bit float can hold, got an integer of {digits} digits"
        if kind == "finite_number":
            return f"must be a finite number, got {json_value(value)}"
        return f"must be a number, got {json_type(value)}"
    if kind == "greater_than_equal":
        return f"must be at least {context['ge']}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {context['le']}, got {value}"
    if kind == "too_short":
        return (
            f"must contain at least {context['min_length']} item(s), got {context['actual_length']}"
        )
    if kind == "too_long":
        return f"must contain at most {context['max_length']} items, got {context['actual_length']}"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"must be an object, got {json_type(value)}"
    if kind == "list_type":
        return f"must be an array, got {json_type(value)}"
    return error["msg"][0].lower() + error["msg"][1:]


def json_value(value: float) -> str:
    """A non-finite number as a JSON text would spell it (Python writes nan and inf)."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def json_type(value) -> str:
    """The JSON name of a parsed value's type, as a reader of the request would say it."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def from_validation_error(error: ValidationError) -> ApiError:
    details = [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "problem": describe(item)}
        for item in error.errors(include_url=False)
    ]
    first = details[0]
    more = (
        f" (and {len(details) - 1} more problem(s), listed in details)" if len(details) > 1 else ""
    )
    message = f"The request is not valid: {first['field']} {first['problem']}{more}."
    return ApiError(422, message, details)


def http_error_response(error: HTTPException):
    """Werkzeug's own response for `error`, with our JSON body in place of its HTML page.

    Starting from `error.get_response()` keeps the status and every header Werkzeug sets
    (Allow on a 405, Retry-After on a 429 or 503, WWW-Authenticate on a 401).
    """
    status = error.code or 500
    message = MESSAGES.get(status) or error.description or error.name
    message = message if message.endswith(".") else message + "."
    body = ApiError(status, message).to_response()
    response = error.get_response()
    response.set_data(body.get_data())
    response.content_type = body.content_type
    return response


def init_app(app: Flask) -> None:
    """Turn every error, expected or not, into the one JSON shape."""
    from examples.serving.request_parsing import JsonRequest  # it raises ApiError, defined here

    app.request_class = JsonRequest

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return error.to_response()

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        return http_error_response(error)

    def log_exception(exc_info) -> None:
        # Flask calls this (a public, documented hook) for an exception no handler claimed, just
        # before our InternalServerError handler; the operator's log gets the whole story.
        app.logger.error("unhandled %s", exc_info[0].__name__, exc_info=exc_info)

    app.log_exception = log_exception

    # An exception no other handler claims reaches Flask as an InternalServerError wrapping it;
    # the client gets a generic message. Handling this class (not Exception) leaves Flask's
    # TESTING and PROPAGATE_EXCEPTIONS working: with either set, Flask raises the original
    # exception for the test to see instead.
    @app.errorhandler(InternalServerError)
    def handle_unexpected(error: InternalServerError):
        return http_error_response(error)
