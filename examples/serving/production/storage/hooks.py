"""The request hooks: a malformed Idempotency-Key refused before any work, and every prediction
stored before its response leaves (a retry with the same key gets the stored answer back)."""

from __future__ import annotations

import hashlib
import uuid

import orjson
import sqlalchemy as sa
from flask import Flask, Response, g, request

from examples.serving.errors import ApiError
from examples.serving.production.storage.schema import (
    IdempotencyKey,
    StoredPrediction,
    create_storage_engine,
)
from examples.serving.production.storage.writer import store_predictions

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_REUSED = (
    "This Idempotency-Key was already used for a different request; a new request needs a new key."
)


def _check_idempotency_key() -> None:
    """Refuse a malformed key before any work is done (400), rather than store it."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
        raise ApiError(400, f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters.")


def request_digest(results) -> str:
    """What identifies a request for its key: the route and the validated inputs, so that the
    same rows sent with other spacing or key order count as the same request."""
    inputs = orjson.dumps([r.features for r in results])
    return hashlib.sha256(request.path.encode() + b"\0" + inputs).hexdigest()


def _recorder(engine: sa.Engine, key_lifetime_seconds: int):
    def record(response: Response) -> Response:
        """Store the predictions the view made (routes put them in g.predictions) before they leave."""
        results = g.get("predictions")
        if not results or response.status_code != 200:
            return response
        request_id = g.get("request_id") or uuid.uuid4().hex
        client_name = g.get("client_name")
        rows = [
            StoredPrediction(
                request_id,
                r.model_version,
                r.prediction,
                r.probabilities,
                r.features,
                client_name,
                r.prediction_id,
            )
            for r in results
        ]
        key = None
        if header := request.headers.get(IDEMPOTENCY_HEADER):
            digest = request_digest(results)
            key = IdempotencyKey(
                client_name or "", header, digest, response.get_data(as_text=True),
                key_lifetime_seconds,
            )  # fmt: skip
        try:
            stored = store_predictions(engine, rows, key)
        except ApiError as error:
            # Nothing was stored, so nothing may be answered: the client gets the 503 instead.
            g.predictions = None
            return error.to_response()
        if stored is None:
            return response
        # A retry (or a twin in flight at the same time): nothing new was stored, so nothing
        # new is counted, and the client gets the first answer, byte for byte.
        g.predictions = None
        if stored.request_hash != key.request_hash:
            return ApiError(422, KEY_REUSED, code="idempotency_key_reused").to_response()
        replay = Response(stored.response, 200, mimetype="application/json")
        replay.headers["Idempotent-Replayed"] = "true"
        return replay

    return record


def init_app(
    app: Flask,
    database_url: str,
    migrate: bool = True,
    busy_timeout_ms: int = 1000,
    idempotency_key_seconds: int = 24 * 3600,
) -> sa.Engine:
    """Open the database (bringing its schema up to date unless told not to) and record every
    prediction. Register it after the other after_request hooks: Flask runs those in reverse
    order, so this one runs first and the others (logs, metrics, headers) see its 503."""
    engine = create_storage_engine(database_url, busy_timeout_ms)
    if migrate:
        from examples.serving.production.migrations import upgrade

        upgrade(engine)
        engine.dispose()  # the migration's connection is not needed by the requests
    app.extensions["prediction_store"] = engine
    app.before_request(_check_idempotency_key)
    app.after_request(_recorder(engine, idempotency_key_seconds))
    _document_idempotency_key(app, idempotency_key_seconds)
    return engine


def _document_idempotency_key(app: Flask, lifetime_seconds: int) -> None:
    """Add the optional header to the prediction routes of the app's OpenAPI document."""
    paths = app.extensions.get("serving.openapi", {}).get("paths", {})
    header = {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": False,
        "description": (
            "A unique value per intended request, sent again with every retry: a retry gets the "
            "first answer and stores nothing new; the same key with another body is refused "
            f"(422). Keys are kept for {lifetime_seconds} seconds."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    }
    for path in ("/v1/predict", "/v1/predict/batch"):
        if "post" in paths.get(path, {}):
            paths[path]["post"].setdefault("parameters", []).append(header)
