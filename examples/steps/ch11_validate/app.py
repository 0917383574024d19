"""Step 3 (chapter 11): step 2 plus a request schema checked by pydantic, and every error as JSON.

Start it with `flask --app examples.steps.ch11_validate.app run`. Every failure, from a typing slip to a
bug in our own code, comes back as {"error": {"status", "code", "message", "details"}}.
"""

import json
import math

import numpy as np
from flask import Flask, Request, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from examples.model import FEATURE_NAMES, LoadedModel, ModelMetadata, ensure_model

MAX_BODY_BYTES = 1024 * 1024  # one row is about 500 bytes; a mebibyte is generous and still safe
# A larger body is refused with 413 (JsonRequest below shows how). A proxy in front of the service
# (nginx's client_max_body_size, chapter 23) should refuse it even earlier, before Python reads it.

# strict: a string such as "13.2" is refused rather than converted; forbid: an unknown (often a
# misspelt) field is an error, not silently ignored; allow_inf_nan=False: NaN and Infinity are refused.
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def build_request_model(metadata: ModelMetadata) -> type[BaseModel]:
    """A pydantic model of the request body: 13 named floats, each within the model's allowed range."""
    fields = {
        name: (
            float,
            Field(ge=metadata.domain[name]["allowed_min"], le=metadata.domain[name]["allowed_max"]),
        )
        for name in FEATURE_NAMES
    }
    features = create_model("WineFeatures", __config__=STRICT, **fields)
    return create_model("PredictionRequest", __config__=STRICT, features=(features, ...))


model = ensure_model()  # once, at start-up, as in step 2
PredictionRequest = build_request_model(model.metadata)


class ApiError(Exception):
    """An error we report on purpose: a status code, a stable code word, and what to do about it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details or [], headers or {}


def error_body(status: int, code: str, message: str, details: list | None = None) -> dict:
    """The one shape every error takes, so that a client needs one piece of code to read them."""
    return {"error": {"status": status, "code": code, "message": message, "details": details or []}}


def json_type(value) -> str:
    """The JSON name of a parsed value's type, as the author of the request would say it."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def describe_problem(error: dict) -> str:
    """Turn one pydantic error into a short phrase about the field, e.g. 'must be at most 15.21'."""
    kind, value = error["type"], error.get("input")
    if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
        # A JSON integer too large for a 64-bit float (above about 1.8e308): a number all the same.
        return f"must be a number a 64-bit float can hold, got an integer of {len(str(abs(value)))} digits"
    if kind == "float_type":
        return f"must be a number, got {json_type(value)}"
    if kind == "finite_number":
        # Named as the client wrote it (NaN, Infinity), not as Python prints it (nan, inf).
        spelling = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return f"must be a finite number, got {spelling}"
    if kind == "greater_than_equal":
        return f"must be at least {error['ctx']['ge']}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {error['ctx']['le']}, got {value}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not an accepted field"
    if kind == "model_type":
        return f"must be an object, got {json_type(value)}"
    return error["msg"]


def field_errors(error: ValidationError) -> list[dict]:
    """One {"field", "problem"} entry per failed check; the field is a dotted path into the body."""
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "body",
            "problem": describe_problem(item),
        }
        for item in error.errors()
    ]


class JsonRequest(Request):
    """Flask's request, whose JSON failures raise ApiError (our JSON shape) instead of an HTML page.

    request.get_json() already checks the Content-Type and parses the body; these are the public
    hooks Flask and Werkzeug provide to decide what happens when either goes wrong.
    """

    def on_json_loading_failed(self, e: ValueError | None):
        if e is None:  # get_json calls this with None when the body is not labelled JSON
            raise ApiError(
                415,
                "unsupported_media_type",
                "Send the body as JSON with the header Content-Type: application/json.",
                headers={"Accept": "application/json"},  # RFC 9110 15.5.16: what would work
            )
        if isinstance(e, json.JSONDecodeError):  # it says where the text stops being JSON
            raise ApiError(400, "invalid_json", f"The body is not valid JSON: {e}.")
        # Any other ValueError (an integer of over 4,300 digits, bytes that are not UTF-8) comes
        # with Python's own wording, which tells a client about our internals.
        raise ApiError(400, "invalid_json", "The body is not valid JSON: a value cannot be read.")

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            # Nesting deeper than about a thousand levels stops Python's parser with an error that
            # is not a ValueError, so without this a client's fault would become our 500.
            message = "The body is not valid JSON: nested too deeply."
            raise ApiError(400, "invalid_json", message) from None

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        limit = self.max_content_length
        if self.content_length is None and limit is not None and len(data) >= limit:
            # A chunked body has no Content-Length. Werkzeug reads it only up to the limit and
            # returns those bytes as if they were all; one more byte means the body was larger.
            if self.environ["wsgi.input"].read(1):
                raise RequestEntityTooLarge()
        return data.decode(errors="replace") if as_text else data


app = Flask(__name__)
app.request_class = JsonRequest
app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES


def predict_features(loaded: LoadedModel, features: dict) -> dict:
    """Probabilities for one wine, given as {feature name: value}, and the most probable class."""
    row = np.array([[features[name] for name in FEATURE_NAMES]], dtype=float)
    probabilities = loaded.pipeline.predict_proba(row)[0]
    classes = loaded.metadata.classes
    return {
        "prediction": classes[int(np.argmax(probabilities))],
        "probabilities": dict(zip(classes, probabilities.tolist(), strict=True)),
        "model_version": loaded.metadata.version,
    }


@app.get("/")
def hello():
    """Answer GET / with a greeting and the model's version."""
    return {"message": "Hello from the wine classifier", "model_version": model.metadata.version}


@app.post("/predict")
def predict():
    """Validate {"features": {...}}, then return the prediction for it."""
    try:
        checked = PredictionRequest.model_validate(request.get_json())
    except ValidationError as error:
        details = field_errors(error)
        first, more = details[0], len(details) - 1
        also = f" (and {more} more problem(s), listed in details)" if more else ""
        message = f"The request is not valid: {first['field']} {first['problem']}{also}."
        raise ApiError(422, "validation_error", message, details) from None
    return predict_features(model, checked.features.model_dump())


@app.errorhandler(ApiError)
def handle_api_error(error: ApiError):
    body = error_body(error.status, error.code, error.message, error.details)
    return body, error.status, error.headers


# The code word for each status Flask itself may raise; a client branches on these, never on text.
HTTP_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


@app.errorhandler(HTTPException)
def handle_http_error(error: HTTPException):
    """Errors Flask raises itself (404, 405, 413, and 500 for any uncaught exception), as JSON."""
    if error.code == 404:
        message = f"There is no route {request.path}; this service has GET / and POST /predict."
    elif error.code == 405:
        allowed = ", ".join(sorted(error.valid_methods or []))
        message = f"{request.path} does not accept {request.method}; use {allowed}."
    elif error.code == 413:
        message = f"The body is larger than the limit of {request.max_content_length} bytes."
    elif error.code == 500:
        # Flask has already logged the exception with its traceback; the client learns nothing
        # about our code, only that the fault is ours.
        message = "The server failed to handle this request; the error has been logged."
    else:
        message = error.description or error.name
    code = HTTP_ERROR_CODES.get(error.code, "http_error")
    # Werkzeug's own response keeps the status and every header it sets (Allow on a 405,
    # Retry-After on a 503, ...); only its HTML body is replaced by ours.
    response = error.get_response()
    response.set_data(jsonify(error_body(error.code, code, message)).get_data())
    response.content_type = "application/json"
    return response
