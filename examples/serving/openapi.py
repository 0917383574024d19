"""GET /openapi.json: the API's description in OpenAPI 3.0, generated from the same pydantic models
the routes validate with, so the document cannot drift from the code."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from pydantic.json_schema import models_json_schema

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
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    responses = {"200": {"description": "Success", **_json(ok)}}
    responses.update(
        {str(status): {"description": text, **_json(error_ref)} for status, text in errors.items()}
    )
    operation = {"summary": summary, "responses": responses}
    if request is not None:
        operation["requestBody"] = {"required": True, **_json(request)}
    return operation


def build_openapi(schemas: Schemas, title: str, version: str, max_batch_size: int) -> dict:
    """The whole document: every path, and every schema under components/schemas."""
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
    bad_input = {
        400: "The body is not valid JSON",
        413: "The body is too large",
        415: "The body is not sent as application/json",
        422: "The body does not match the schema",
        503: "The model is not loaded",
    }
    paths = {
        "/v1/predict": {
            "post": _operation(
                "Predict the class of one wine",
                ref[PredictionResponse],
                bad_input,
                ref[schemas.prediction_request],
            )
        },
        "/v1/predict/batch": {
            "post": _operation(
                f"Predict the classes of 1 to {max_batch_size} wines in one request",
                ref[BatchPredictionResponse],
                bad_input,
                ref[schemas.batch_request],
            )
        },
        "/v1/model": {
            "get": _operation(
                "Describe the model: version, features and their allowed ranges, test metrics",
                ref[ModelInfo],
                {503: "The model is not loaded"},
            )
        },
        "/healthz": {"get": _operation("Liveness: the process answers", ref[HealthResponse], {})},
        "/readyz": {
            "get": _operation(
                "Readiness: the model is loaded and verified",
                ref[ReadinessResponse],
                {503: "The model is not loaded"},
            )
        },
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Predicts the cultivar of a wine from 13 chemical measurements.",
        },
        "paths": paths,
        "components": {"schemas": _as_openapi_30(definitions["$defs"])},
    }


@openapi.get("/openapi.json")
def openapi_document():
    return current_app.extensions["serving.openapi"]


def init_app(app: Flask) -> None:
    """Build the document once, from the app's own request models, and serve it."""
    state = app.extensions["serving"]
    model_version = state.predictor.metadata.version if state.ready else "unknown"
    app.extensions["serving.openapi"] = build_openapi(
        state.schemas,
        "Wine classifier API",
        f"1 (model {model_version})",
        state.settings.max_batch_size,
    )
    app.register_blueprint(openapi)
