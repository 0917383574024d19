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
"""

from __future__ import annotations

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
from flask import Flask, Response, g
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
    sa.Index("ix_predictions_created_at", "created_at"),
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
        # In WAL mode, NORMAL survives a killed process (the commit is in the log file when
        # execute returns); only a power cut can lose the last commits. FULL adds an fsync each.
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

    def parameters(self, rows: Sequence[StoredPrediction], now: datetime) -> list:
        """The driver's parameters for `rows`, all stamped with the time `now`. The JSON columns
        are written as JSON text (by orjson, about ten times faster than the json module here: a
        1,000-row batch writes 2,000 of them), which every database takes for a JSON column."""
        stamp, dumps = self.stamp(now), orjson.dumps
        values = [
            (stamp, request_id, version, predicted, dumps(probabilities).decode(),
             dumps(features).decode(), client)
            for request_id, version, predicted, probabilities, features, client in rows
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

    def write(self, rows: Sequence[StoredPrediction]) -> None:
        sqlite_checkpoints.ensure_running()
        parameters = self.parameters(rows, datetime.now(UTC))
        connection = self._connection()
        try:
            connection.cursor().executemany(self.sql, parameters)
            connection.commit()
        except BaseException:
            # Not trusted again after a failure: closed (which rolls back what it had begun), and
            # the next write takes a fresh connection from the pool.
            self._local.connection = None
            connection.invalidate()
            raise


# One writer per engine, forgotten with the engine.
_writers: weakref.WeakKeyDictionary[sa.Engine, PredictionWriter] = weakref.WeakKeyDictionary()


def store_predictions(engine: sa.Engine, rows: Sequence[StoredPrediction]) -> None:
    """Insert the rows in one transaction (all or none), committed when this returns."""
    writer = _writers.get(engine)
    if writer is None:
        writer = _writers[engine] = PredictionWriter(engine)
    try:
        writer.write(rows)
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


def _recorder(engine: sa.Engine):
    def record(response: Response) -> Response:
        """Store the predictions the view made (routes put them in g.predictions) before they leave."""
        results = g.get("predictions")
        if not results or response.status_code != 200:
            return response
        request_id = g.get("request_id") or uuid.uuid4().hex
        client_name = g.get("client_name")
        rows = [
            StoredPrediction(
                request_id, r.model_version, r.prediction, r.probabilities, r.features, client_name
            )
            for r in results
        ]
        try:
            store_predictions(engine, rows)
        except ApiError as error:
            # Nothing was stored, so nothing may be answered: the client gets the 503 instead.
            g.predictions = None
            return error.to_response()
        return response

    return record


def init_app(
    app: Flask, database_url: str, migrate: bool = True, busy_timeout_ms: int = 1000
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
    app.after_request(_recorder(engine))
    return engine
