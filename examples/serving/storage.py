"""Every prediction remembered: one row per prediction in a SQL table, written before we answer.

SQLAlchemy Core builds the SQL from Python expressions and talks to SQLite here, or to PostgreSQL
by changing only the URL (`postgresql+psycopg://user:password@host/dbname`, with the `psycopg`
package installed). We use Core, not the ORM: a row is a plain dict, with no per-object bookkeeping.

The write happens inside the request, before the response: a 200 means the row is committed.
A queue written later by a background thread would be faster, and would lose its rows when a
worker is killed.

The write is on every request's path, so it skips what it does not need: SQLAlchemy compiles the
INSERT once for the engine's database, and the rows go straight to the database driver's
`executemany` on a connection each worker keeps open. The same write through Core's
`connection.execute` (a cache lookup for the statement, an execution context, every value
converted one at a time) cost about four times as much CPU here; chapter 19 measures both.

Every stored prediction has its own id (`prediction_id`, returned to the client), and a request
may carry an `Idempotency-Key` header: a retry with the same key gets the stored answer back, and
no second row is stored (see `IdempotencyKey` below).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import orjson
import sqlalchemy as sa
from flask import Flask, Response, g, request
from sqlalchemy.exc import DBAPIError

from examples.serving import sqlite_checkpoints
from examples.serving.errors import ApiError

metadata = sa.MetaData()

# The table as the latest migration leaves it (migrations/versions/ builds it step by step).
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("predicted_class", sa.String(32), nullable=False),
    sa.Column("probabilities", sa.JSON, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),
    sa.Column("client_name", sa.String(64), nullable=True),
    # The id the client receives for this row (unique, unlike the request id: see migration 0003).
    sa.Column("prediction_id", sa.String(64), nullable=False),
    sa.Index("ix_predictions_created_at", "created_at"),
    sa.Index("ix_predictions_prediction_id", "prediction_id", unique=True),
)

# One row per Idempotency-Key a client sent, with the response it got, until `expires_at`.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("client", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
)


class StoredPrediction(NamedTuple):
    """What we keep about one prediction (a named tuple: a 1,000-row batch makes 1,000 of them,
    and a tuple is the cheapest immutable record Python has)."""

    request_id: str
    model_version: str
    predicted_class: str
    probabilities: dict[str, float]
    features: dict[str, float]
    client_name: str | None = None
    # The routes give each result its id; a row stored without one gets a random UUID.
    prediction_id: str = ""


class IdempotencyKey(NamedTuple):
    """A client's Idempotency-Key, a digest of what it asked, and the answer to keep for it.

    The key is scoped by client (two clients may pick the same key), and `request_hash` lets a
    retry with a different body be told apart from a true retry."""

    client: str
    key: str
    request_hash: str
    response: str
    lifetime_seconds: int


class StoredAnswer(NamedTuple):
    """What an earlier request with the same key stored: its digest and its response body."""

    request_hash: str
    response: str


def _prepare_sqlite_file(url: sa.URL) -> None:
    """Create the folder of a SQLite file (a fresh clone has no var/ yet)."""
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def create_storage_engine(database_url: str, busy_timeout_ms: int = 1000) -> sa.Engine:
    """An engine for the URL; for SQLite, each new connection gets WAL mode and a busy timeout."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, json_serializer=to_json_text)
    _prepare_sqlite_file(url)
    # The driver's own timeout is the same busy wait, in seconds.
    engine = sa.create_engine(
        url, connect_args={"timeout": busy_timeout_ms / 1000}, json_serializer=to_json_text
    )

    @sa.event.listens_for(engine, "connect")
    def set_sqlite_pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        # WAL: readers never block the writer and the writer never blocks readers.
        cursor.execute("PRAGMA journal_mode=WAL")
        # While another process holds the write lock, wait this long, then fail (503), not hang.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # In WAL mode, NORMAL survives a killed process (the commit is in the log file, in the
        # OS's cache, when commit returns); a power cut or an OS crash can lose the last commits,
        # as the log is synced to disk only at checkpoints. FULL adds an fsync to every commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            # Checkpoints in a background thread, not inside requests (sqlite_checkpoints.py).
            sqlite_checkpoints.prepare_connection(connection, url.database)

    # A pooled connection must not cross a fork: gunicorn's workers each open their own.
    # A weak reference, so that an engine a test threw away is not kept alive by this hook.
    engine_ref = weakref.ref(engine)
    os.register_at_fork(after_in_child=lambda: _forget_parent_connections(engine_ref()))
    return engine


def _forget_parent_connections(engine: sa.Engine | None) -> None:
    if engine is not None:
        engine.dispose(close=False)


def to_json_text(value) -> str:
    """JSON text for a JSON column, written by orjson (SQLAlchemy's queries use it too)."""
    return orjson.dumps(value).decode()


STORED_COLUMNS = [column.name for column in predictions.columns if column.name != "id"]


class PredictionWriter:
    """Writes rows to `predictions` for one engine: the INSERT compiled once for the engine's
    database, and one open connection per worker thread, kept from one request to the next."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        compiled = predictions.insert().compile(
            dialect=dialect, column_keys=STORED_COLUMNS, for_executemany=True
        )
        self.sql = str(compiled)
        # SQLite's driver takes each row as a tuple (`?` placeholders), psycopg as a dict.
        self.positional = compiled.positional
        # SQLAlchemy's own converter for the time column: on SQLite a datetime is stored as text
        # in SQLAlchemy's format, which its queries compare and read back.
        created_at = predictions.c.created_at.type.dialect_impl(dialect)
        self.stamp = created_at.bind_processor(dialect) or (lambda moment: moment)
        self._local = threading.local()
        keys = idempotency_keys.c
        self.insert_key = _compiled(dialect, idempotency_keys.insert(), [c.name for c in keys])
        self.delete_expired = _compiled(
            dialect, idempotency_keys.delete().where(keys.expires_at < sa.bindparam("now"))
        )
        self.select_key = _compiled(
            dialect,
            sa.select(keys.request_hash, keys.response).where(
                keys.client == sa.bindparam("client"), keys.key == sa.bindparam("key")
            ),
        )

    def parameters(self, rows: Sequence[StoredPrediction], now: datetime) -> list:
        """The driver's parameters for `rows`, all stamped with the time `now`. The JSON columns
        are written as JSON text (by orjson, about ten times faster than the json module here: a
        1,000-row batch writes 2,000 of them), which every database takes for a JSON column."""
        stamp, dumps = self.stamp(now), orjson.dumps
        values = [
            (stamp, request_id, version, predicted, dumps(probabilities).decode(),
             dumps(features).decode(), client, prediction_id or str(uuid.uuid4()))
            for request_id, version, predicted, probabilities, features, client, prediction_id
            in rows
        ]  # fmt: skip
        if self.positional:
            return values
        return [dict(zip(STORED_COLUMNS, row, strict=True)) for row in values]

    def _connection(self):
        """This thread's connection, taken from the engine's pool once (and again after a fork:
        a connection must not cross one). Handing it back to the pool after every request and
        taking it again cost about 25 µs per request here, a third of the whole write."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.connection is None:
            local.connection, local.pid = self.engine.raw_connection(), os.getpid()
        return local.connection

    def write(
        self, rows: Sequence[StoredPrediction], key: IdempotencyKey | None = None
    ) -> StoredAnswer | None:
        """Store the rows, and the key with its answer, in one transaction. When the key is
        already stored, store nothing and return what was stored with it."""
        sqlite_checkpoints.ensure_running()
        now = datetime.now(UTC)
        parameters = self.parameters(rows, now)
        connection = self._connection()
        try:
            cursor = connection.cursor()
            if key is not None:
                stored = self._claim(connection, cursor, key, now)
                if stored is not None:
                    return stored
            cursor.executemany(self.sql, parameters)
            connection.commit()
            return None
        except BaseException:
            # Not trusted again after a failure: closed (which rolls back what it had begun), and
            # the next write takes a fresh connection from the pool.
            self._local.connection = None
            connection.invalidate()
            raise

    def _claim(self, connection, cursor, key: IdempotencyKey, now: datetime) -> StoredAnswer | None:
        """Insert the key (inside the caller's transaction); if another request holds it, roll
        back and return its answer. The primary key decides, so this holds across processes: a
        second INSERT of the same (client, key) waits for the first transaction and then fails."""
        stamp = self.stamp
        # Expired keys are deleted first (the index on expires_at finds them), so an expired key
        # can be used again and the table holds only the keys still in force.
        sql, bind = self.delete_expired
        cursor.execute(sql, bind({"now": stamp(now)}))
        sql, bind = self.insert_key
        values = {
            "client": key.client,
            "key": key.key,
            "request_hash": key.request_hash,
            "response": key.response,
            "created_at": stamp(now),
            "expires_at": stamp(now + timedelta(seconds=key.lifetime_seconds)),
        }
        try:
            cursor.execute(sql, bind(values))
            return None
        except self.engine.dialect.loaded_dbapi.IntegrityError:
            connection.rollback()
        sql, bind = self.select_key
        cursor.execute(sql, bind({"client": key.client, "key": key.key}))
        found = cursor.fetchone()
        connection.rollback()  # end the read (PostgreSQL's driver opened a transaction for it)
        if found is None:  # expired and deleted in the instant between: a rare, retryable case
            raise self.engine.dialect.loaded_dbapi.OperationalError("idempotency key vanished")
        return StoredAnswer(*found)


def _compiled(dialect, statement, column_keys=None):
    """A statement's SQL for this database and a function turning named values into the driver's
    parameters: a tuple in placeholder order for SQLite's `?`, the dict itself for psycopg."""
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)
    if compiled.positional:
        order = compiled.positiontup
        return str(compiled), lambda values: tuple(values[name] for name in order)
    return str(compiled), lambda values: values


# One writer per engine, forgotten with the engine.
_writers: weakref.WeakKeyDictionary[sa.Engine, PredictionWriter] = weakref.WeakKeyDictionary()


def store_predictions(
    engine: sa.Engine, rows: Sequence[StoredPrediction], key: IdempotencyKey | None = None
) -> StoredAnswer | None:
    """Insert the rows in one transaction (all or none), committed when this returns. With a key
    that an earlier request already stored, nothing is inserted and its answer is returned."""
    writer = _writers.get(engine)
    if writer is None:
        writer = _writers[engine] = PredictionWriter(engine)
    try:
        return writer.write(rows, key)
    except (DBAPIError, engine.dialect.loaded_dbapi.Error) as error:
        # Locked, read-only, full or unreachable: the caller gets a 503 and may retry.
        raise ApiError(
            503,
            "The prediction could not be stored, so it was not returned; retry in a moment.",
        ) from error


def summarize_recent(engine: sa.Engine, minutes: float = 60) -> dict:
    """Counts of the predictions made in the last `minutes`: in total, by class, by model version."""
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    recent = predictions.c.created_at >= since
    count = sa.func.count()
    with engine.connect() as connection:
        by_class = connection.execute(
            sa.select(predictions.c.predicted_class, count)
            .where(recent)
            .group_by(predictions.c.predicted_class)
        ).all()
        by_version = connection.execute(
            sa.select(predictions.c.model_version, count)
            .where(recent)
            .group_by(predictions.c.model_version)
        ).all()
    return {
        "minutes": minutes,
        "total": sum(n for _, n in by_class),
        "by_class": dict(sorted(by_class)),
        "by_model_version": dict(sorted(by_version)),
    }


def count_rows(engine: sa.Engine) -> int:
    """How many predictions the table holds."""
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one()


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
        from examples.serving.migrations import upgrade

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
