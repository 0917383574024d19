"""The request hooks: a malformed Idempotency-Key refused before any work, the key claimed before
the model runs (a second request with it while the first is in flight gets 409), and every
prediction stored before its response leaves (a retry with the same key gets the stored answer)."""

from __future__ import annotations

import hashlib
import logging
import uuid

import orjson
import sqlalchemy as sa
from flask import Flask, Response, g, request

from examples.serving.errors import ApiError
from examples.serving.production.migrations import upgrade
from examples.serving.production.storage.schema import (
    IN_FLIGHT,
    IdempotencyKey,
    StoredPrediction,
    create_storage_engine,
)
from examples.serving.production.storage.writer import claim_key, release_key, store_predictions

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_REUSED = (
    "This Idempotency-Key was already used for a different request; a new request needs a new key."
)
KEY_IN_FLIGHT = (
    "A request with this Idempotency-Key is still being processed. Send the same request, with the "
    "same key, again after the seconds in Retry-After to receive its answer."
)
# How long a claim holds a key if its request never finishes (its worker was killed, or the
# database failed before the claim could be released): gunicorn's default timeout, after which a
# sync worker that is still busy is killed anyway. Until then, every retry gets 409.
IN_FLIGHT_SECONDS = 30
# The first request usually answers within milliseconds; whole seconds are Retry-After's unit.
RETRY_AFTER_SECONDS = 1
PREDICTION_PATHS = ("/v1/predict", "/v1/predict/batch")


def in_flight_error() -> ApiError:
    """409, as the IETF draft asks for a request whose twin is still in flight."""
    return ApiError(
        409,
        KEY_IN_FLIGHT,
        code="idempotency_key_in_flight",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _claimer(engine: sa.Engine, in_flight_seconds: int):
    def claim() -> None:
        """Refuse a malformed key (400), then claim the key before the model runs, in a
        transaction of its own: a twin arriving meanwhile, at any worker, finds the claim (409)."""
        header = request.headers.get(IDEMPOTENCY_HEADER)
        if header is None:
            return
        if not (0 < len(header) <= 255 and header.isascii() and header.isprintable()):
            raise ApiError(
                400, f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters."
            )
        if request.method != "POST" or request.path not in PREDICTION_PATHS:
            return
        token = f"claim:{uuid.uuid4().hex}"  # stands in for the request's digest until the answer
        key = IdempotencyKey(
            g.get("client_name") or "", header, token, IN_FLIGHT, in_flight_seconds, token
        )
        stored = claim_key(engine, key)
        if stored is None:
            g.idempotency_claim = key
        elif stored.in_flight:
            raise in_flight_error()
        # Otherwise an answer is stored: the view runs, and the recorder returns that answer if
        # the request is the same one (or refuses it with 422 if it is not).

    return claim


def _releaser(engine: sa.Engine):
    def release(_error: BaseException | None) -> None:
        """A claim still held when the request ends belongs to a request that failed (a 4xx, a
        503, a crash): delete it, so that a retry is not refused as in flight."""
        key = g.pop("idempotency_claim", None)
        if key is None:
            return
        try:
            release_key(engine, key)
        except Exception:  # the database is failing; the claim lapses after in_flight_seconds
            logger.warning("could not release an idempotency claim", exc_info=True)

    return release


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
            claim = g.get("idempotency_claim")
            key = IdempotencyKey(
                client_name or "", header, digest, response.get_data(as_text=True),
                key_lifetime_seconds, claim.claim if claim else "",
            )  # fmt: skip
        try:
            stored = store_predictions(engine, rows, key)
        except ApiError as error:
            # Nothing was stored, so nothing may be answered: the client gets the 503 instead.
            g.predictions = None
            return error.to_response()
        if stored is None:
            g.pop("idempotency_claim", None)  # completed: the answer replaced the claim
            return response
        # A retry, or a twin in flight: nothing new was stored, so nothing new is counted. A
        # retry gets the first answer, byte for byte.
        g.predictions = None
        if stored.in_flight:  # our claim lapsed and another request holds the key now
            return in_flight_error().to_response()
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
    in_flight_seconds: int = IN_FLIGHT_SECONDS,
) -> sa.Engine:
    """Open the database (bringing its schema up to date unless told not to) and record every
    prediction. Register it after the other after_request hooks: Flask runs those in reverse
    order, so this one runs first and the others (logs, metrics, headers) see its 503."""
    engine = create_storage_engine(database_url, busy_timeout_ms)
    if migrate:
        upgrade(engine)
        engine.dispose()  # the migration's connection is not needed by the requests
    app.extensions["prediction_store"] = engine
    # Registered last, so the key is claimed after credentials (the key belongs to a client) and
    # rate limits (a refused request claims nothing).
    app.before_request(_claimer(engine, in_flight_seconds))
    app.after_request(_recorder(engine, idempotency_key_seconds))
    app.teardown_request(_releaser(engine))
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
            "(422); a retry while the first request is still being processed is refused (409, "
            f"with Retry-After). Keys are kept for {lifetime_seconds} seconds."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    }
    in_flight = {
        "description": "A request with this Idempotency-Key is still being processed: send the "
        "same request again after the seconds in Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    for path in PREDICTION_PATHS:
        if "post" in paths.get(path, {}):
            paths[path]["post"].setdefault("parameters", []).append(header)
            paths[path]["post"].setdefault("responses", {})["409"] = in_flight
