"""Step 3 (chapter 11): step 2 plus a request schema checked by pydantic, and every error as JSON.

Start it with `flask --app examples.steps.ch11_validate.app run`. Every failure, from a typing slip to a
bug in our own code, comes back as {"error": {"status", "code", "message", "details"}}.
"""

import json
import math

import numpy as np
from flask import Flask, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from werkzeug.exceptions import HTTPException

from examples.model import FEATURE_NAMES, LoadedModel, ModelMetadata, ensure_model

MAX_BODY_BYTES = 1024 * 1024  # one row is about 500 bytes; a mebibyte is generous and still safe

app = Flask(__name__)
# A larger body is refused with 413 as soon as our code asks for it, without reading it first.
app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

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

    def __init__(self, status: int, code: str, message: str, details: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details or []


def error_response(status: int, code: str, message: str, details: list | None = None):
    """The one shape every error takes, so that a client needs one piece of code to read them."""
    body = {"error": {"status": status, "code": code, "message": message, "details": details or []}}
    return body, status


def json_type(value) -> str:
    """The JSON name of a parsed value's type, as the author of the request would say it."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


def describe_problem(error: dict) -> str:
    """Turn one pydantic error into a short phrase about the field, e.g. 'must be at most 15.21'."""
    kind, value = error["type"], error.get("input")
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


def read_json_body():
    """The body as a Python value; 415 when it is not labelled JSON, 400 when it does not parse."""
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send the body as JSON with the header Content-Type: application/json.",
        )
    try:
        return json.loads(request.get_data())
    except ValueError as error:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON: {error}.") from None


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
        checked = PredictionRequest.model_validate(read_json_body())
    except ValidationError as error:
        details = field_errors(error)
        first, more = details[0], len(details) - 1
        also = f" (and {more} more problem(s), listed in details)" if more else ""
        message = f"The request is not valid: {first['field']} {first['problem']}{also}."
        raise ApiError(422, "validation_error", message, details) from None
    return predict_features(model, checked.features.model_dump())


@app.errorhandler(ApiError)
def handle_api_error(error: ApiError):
    return error_response(error.status, error.code, error.message, error.details)


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
    headers = {}
    if error.code == 404:
        message = f"There is no route {request.path}; this service has GET / and POST /predict."
    elif error.code == 405:
        allowed = ", ".join(sorted(error.valid_methods or []))
        message = f"{request.path} does not accept {request.method}; use {allowed}."
        headers["Allow"] = allowed  # HTTP requires a 405 to list the methods that would work
    elif error.code == 413:
        message = f"The body is larger than the limit of {MAX_BODY_BYTES} bytes."
    elif error.code == 500:
        # Flask has already logged the exception with its traceback; the client learns nothing
        # about our code, only that the fault is ours.
        message = "The server failed to handle this request; the error has been logged."
    else:
        message = error.description or error.name
    code = HTTP_ERROR_CODES.get(error.code, "http_error")
    body, status = error_response(error.code, code, message)
    return body, status, headers
