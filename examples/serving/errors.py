"""One error shape for every failure: a status code and
{"error": {"status", "code", "message", "details": [{"field", "problem"}]}}."""

from __future__ import annotations

import json
import math

from flask import Flask, Request, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

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
# Headers of an HTTP error that tell the client what to do next, so they are kept.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


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


class JsonRequest(Request):
    """Flask's request, whose JSON failures raise our errors instead of an HTML page."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            # Python's parser gives up on nesting deeper than about a thousand levels, with an
            # error that is not a ValueError, so Flask would let it become a 500.
            raise ApiError(
                400,
                "The request body is not valid JSON: it is nested too deeply.",
                code="invalid_json",
            ) from None

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:
            raise ApiError(
                415, "Send the body as JSON with the header Content-Type: application/json."
            )
        if isinstance(e, json.JSONDecodeError):  # says where the text stops being JSON
            raise ApiError(400, f"The request body is not valid JSON: {e}.", code="invalid_json")
        # Any other ValueError (a number of thousands of digits, ...) has Python's own wording,
        # which would tell the client about the server's internals.
        raise ApiError(
            400,
            "The request body is not valid JSON: it holds a value that cannot be read.",
            code="invalid_json",
        )


def describe(error: dict) -> str:
    """One pydantic error as a short sentence fragment about the field it names."""
    kind, context, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an accepted field"
    if kind == "finite_number":
        return f"must be a finite number, got {json_value(value)}"
    if kind in {"float_type", "float_parsing", "int_type"}:
        if isinstance(value, int) and not isinstance(value, bool):
            # A JSON integer too large for a 64-bit float (more than about 1e308).
            return f"must be a number a 64-bit float can hold, got an integer of {len(str(abs(value)))} digits"
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


def from_http_exception(error: HTTPException) -> ApiError:
    status = error.code or 500
    message = MESSAGES.get(status) or error.description or error.name
    message = message if message.endswith(".") else message + "."
    response_headers = dict(error.get_response().headers)
    headers = {name: response_headers[name] for name in KEPT_HEADERS if name in response_headers}
    return ApiError(status, message, headers=headers)


def validated_body(model: type[BaseModel]) -> BaseModel:
    """The request's JSON body as an instance of `model`, or an ApiError saying what is wrong.

    Only the request's validation becomes a 422: a ValidationError anywhere else is our bug (500).
    """
    if request.is_json:
        # The fast path: pydantic reads the bytes and validates in one pass, in Rust, three times
        # faster than json.loads followed by validation on a 1,000-row batch. A body it refuses
        # goes the slow way below, which decides, and words the problem as every error is worded
        # (tests/serving/test_speed_paths.py checks that whatever the fast way accepts, the slow
        # way accepts too, with the same values).
        try:
            return model.model_validate_json(request.get_data())
        except ValidationError:
            pass
    try:
        return model.model_validate(request.get_json())
    except ValidationError as error:
        raise from_validation_error(error) from None


def init_app(app: Flask) -> None:
    """Turn every error, expected or not, into the one JSON shape."""
    app.request_class = JsonRequest

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return error.to_response()

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        return from_http_exception(error).to_response()

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        # The details go to the log for us; the client gets a generic message and no internals.
        app.logger.error("unhandled %s", type(error).__name__, exc_info=error)
        return ApiError(500, MESSAGES[500]).to_response()
