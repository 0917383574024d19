"""GET /openapi.json: the API's description in OpenAPI 3.0. Its paths and methods come from Flask's
routing table, its schemas from the pydantic models the routes validate with; the error statuses
are listed here, and tests/serving/test_openapi.py provokes each one to check the list."""

from __future__ import annotations

import copy

from flask import Blueprint, Flask, current_app
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Map

from examples.serving.schemas import (
    BatchPredictionResponse,
    ErrorResponse,
    HealthResponse,
    ModelInfo,
    PredictionResponse,
    ReadinessResponse,
    Schemas,
)

# OpenAPI 3.0, not 3.1: the Swagger UI in the swagger-ui-bundle package (4.15) renders 3.0 only.
OPENAPI_VERSION = "3.0.3"
openapi = Blueprint("openapi", __name__)


def _as_openapi_30(schema):
    """JSON Schema's `const` (which pydantic emits for a Literal) is spelt `enum` in OpenAPI 3.0."""
    if isinstance(schema, dict):
        converted = {key: _as_openapi_30(value) for key, value in schema.items()}
        if "const" in converted:
            converted["enum"] = [converted.pop("const")]
        return converted
    if isinstance(schema, list):
        return [_as_openapi_30(item) for item in schema]
    return schema


def _json(ref: dict) -> dict:
    return {"content": {"application/json": {"schema": ref}}}


def _operation(summary: str, ok: dict, errors: dict[int, str], request: dict | None = None) -> dict:
    """One operation: its summary, request body, the 200 answer and the errors it can return."""
    responses = {"200": {"description": "Success", **_json(ok)}}
    responses.update(
        {str(status): {"description": text, **_json(ERROR_REF)} for status, text in errors.items()}
    )
    operation = {"summary": summary, "responses": responses}
    if request is not None:
        operation["requestBody"] = {"required": True, **_json(request)}
    return operation


# Errors every operation can return: a wrong method on its path, and our own failure.
EVERY_OPERATION = {
    405: "This path does not accept that method; the Allow header lists those it does",
    500: "The service failed; the error is logged, the answer names nothing internal",
}
# Errors of an operation that reads a JSON body, and of one that needs the model.
BODY_ERRORS = {
    400: "The body is not valid JSON",
    413: "The body is too large",
    415: "The body is not sent as application/json",
    422: "The body does not match the schema",
}
NEEDS_MODEL = {503: "The model is not loaded"}
ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def _describe_routes(schemas: Schemas, max_batch_size: int) -> dict[str, tuple]:
    """Per endpoint of the core blueprints: summary, success model, request model, errors."""
    return {
        "api_v1.predict": (
            "Predict the class of one wine",
            PredictionResponse,
            schemas.prediction_request,
            {**BODY_ERRORS, **NEEDS_MODEL},
        ),
        "api_v1.predict_batch": (
            f"Predict the classes of 1 to {max_batch_size} wines in one request",
            BatchPredictionResponse,
            schemas.batch_request,
            {**BODY_ERRORS, **NEEDS_MODEL},
        ),
        "api_v1.model_info": (
            "Describe the model: version, features and their allowed ranges, test metrics",
            ModelInfo,
            None,
            NEEDS_MODEL,
        ),
        "health.healthz": ("Liveness: the process answers", HealthResponse, None, {}),
        "health.readyz": (
            "Readiness: the model is loaded and verified",
            ReadinessResponse,
            None,
            NEEDS_MODEL,
        ),
    }


def build_openapi(
    schemas: Schemas, title: str, version: str, max_batch_size: int, url_map: Map
) -> dict:
    """The whole document: a path for every route of the core blueprints in `url_map` (Flask's
    routing table), its error statuses, and every schema under components/schemas."""
    models = [
        (schemas.prediction_request, "validation"),
        (schemas.batch_request, "validation"),
        (PredictionResponse, "serialization"),
        (BatchPredictionResponse, "serialization"),
        (ModelInfo, "serialization"),
        (HealthResponse, "serialization"),
        (ReadinessResponse, "serialization"),
        (ErrorResponse, "serialization"),
    ]
    refs, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    ref = {model: refs[(model, mode)] for model, mode in models}
    described = _describe_routes(schemas, max_batch_size)
    paths: dict[str, dict] = {}
    for rule in url_map.iter_rules():
        if not rule.endpoint.startswith(("health.", "api_v1.")):
            continue
        if rule.endpoint not in described:  # a new route must be described before it is served
            raise LookupError(f"route {rule.rule} ({rule.endpoint}) is not described in openapi.py")
        summary, ok, request, errors = described[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(rule.rule, {})[method.lower()] = _operation(
                summary, ref[ok], errors, ref[request] if request is not None else None
            )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Predicts the cultivar of a wine from 13 chemical measurements.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": _as_openapi_30(definitions["$defs"])},
    }


@openapi.get("/openapi.json")
def openapi_document():
    # Completed here, not at start-up: the production features add their paths after init_app.
    # A copy, built once per app; two threads racing here would build the same document.
    complete = current_app.extensions.get("serving.openapi.complete")
    if complete is None:
        complete = copy.deepcopy(current_app.extensions["serving.openapi"])
        add_common_errors(complete)
        current_app.extensions["serving.openapi.complete"] = complete
    return complete


def add_common_errors(document: dict) -> None:
    """Give every operation, the production features' included, the errors any route can return."""
    for item in document["paths"].values():
        for operation in item.values():
            for status, text in EVERY_OPERATION.items():
                operation["responses"].setdefault(
                    str(status), {"description": text, **_json(ERROR_REF)}
                )


def init_app(app: Flask) -> None:
    """Build the document once, from the app's own request models, and serve it."""
    state = app.extensions["serving"]
    model_version = state.predictor.metadata.version if state.ready else "unknown"
    app.extensions["serving.openapi"] = build_openapi(
        state.schemas,
        "Wine classifier API",
        f"1 (model {model_version})",
        state.settings.max_batch_size,
        app.url_map,
    )
    app.register_blueprint(openapi)
