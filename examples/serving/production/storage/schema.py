"""The tables of the prediction store as the latest migration leaves them, and the engine that
reaches them (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import NamedTuple

import orjson
import sqlalchemy as sa

from examples.serving.production import sqlite_checkpoints

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
    # The token of this request's claim on the key (writer.claim_key), if it made one.
    claim: str = ""


# The response stored with a key while its first request is still in flight: a claim.
IN_FLIGHT = ""


class StoredAnswer(NamedTuple):
    """What an earlier request with the same key stored: its digest and its response body, or
    a claim (no response yet) while that request is still in flight."""

    request_hash: str
    response: str

    @property
    def in_flight(self) -> bool:
        return self.response == IN_FLIGHT


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


def compiled_for_driver(dialect, statement, column_keys=None):
    """A statement's SQL for this database and a function turning named values into the driver's
    parameters: a tuple in placeholder order for SQLite's `?`, the dict itself for psycopg."""
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)
    if compiled.positional:
        order = compiled.positiontup
        return str(compiled), lambda values: tuple(values[name] for name in order)
    return str(compiled), lambda values: values
