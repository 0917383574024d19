"""Writing predictions: the INSERT compiled once per engine, one open connection per worker
thread, all rows of a request in one transaction."""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from examples.serving.errors import ApiError
from examples.serving.production import sqlite_checkpoints
from examples.serving.production.storage.schema import (
    STORED_COLUMNS,
    IdempotencyKey,
    StoredAnswer,
    StoredPrediction,
    compiled_for_driver,
    idempotency_keys,
    predictions,
)


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
        self.insert_key = compiled_for_driver(
            dialect, idempotency_keys.insert(), [c.name for c in keys]
        )
        self.delete_expired = compiled_for_driver(
            dialect, idempotency_keys.delete().where(keys.expires_at < sa.bindparam("now"))
        )
        self.select_key = compiled_for_driver(
            dialect,
            sa.select(keys.request_hash, keys.response).where(
                keys.client == sa.bindparam("client"), keys.key == sa.bindparam("key")
            ),
        )
        # A claim is found by its token (kept in request_hash until the answer replaces it), so
        # only the request that made it can complete or release it.
        this_claim = sa.and_(
            keys.client == sa.bindparam("claim_client"),
            keys.key == sa.bindparam("claim_key"),
            keys.request_hash == sa.bindparam("claim"),
        )
        self.complete_key = compiled_for_driver(
            dialect,
            idempotency_keys.update()
            .where(this_claim)
            .values(
                request_hash=sa.bindparam("new_hash"),
                response=sa.bindparam("new_response"),
                expires_at=sa.bindparam("new_expires_at"),
            ),
        )
        self.release_key = compiled_for_driver(dialect, idempotency_keys.delete().where(this_claim))

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
        already held, store nothing and return what holds it: a stored answer, or a claim."""
        sqlite_checkpoints.ensure_running()
        now = datetime.now(UTC)
        parameters = self.parameters(rows, now)
        connection = self._connection()
        try:
            cursor = connection.cursor()
            # This request's own claim becomes the answer; without one (or if it expired and
            # was taken), the key is inserted now, as a claim and its answer at once.
            if key is not None and not self._complete(cursor, key, now):
                stored = self._claim(connection, cursor, key, now)
                if stored is not None:
                    return stored
            cursor.executemany(self.sql, parameters)
            connection.commit()
            return None
        except BaseException:
            self._forget(connection)
            raise

    def claim(self, key: IdempotencyKey) -> StoredAnswer | None:
        """Insert a claim on the key and commit it at once, so that every worker sees it while
        this request is in flight. None when claimed, otherwise what holds the key."""
        connection = self._connection()
        try:
            stored = self._claim(connection, connection.cursor(), key, datetime.now(UTC))
            if stored is None:
                connection.commit()
            return stored
        except BaseException:
            self._forget(connection)
            raise

    def release(self, key: IdempotencyKey) -> None:
        """Delete this request's claim, if it still holds one (it failed: a retry may go ahead)."""
        connection = self._connection()
        try:
            sql, bind = self.release_key
            connection.cursor().execute(sql, bind(_claim_of(key)))
            connection.commit()
        except BaseException:
            self._forget(connection)
            raise

    def _forget(self, connection) -> None:
        # Not trusted again after a failure: closed (which rolls back what it had begun), and
        # the next write takes a fresh connection from the pool.
        self._local.connection = None
        connection.invalidate()

    def _complete(self, cursor, key: IdempotencyKey, now: datetime) -> bool:
        """Turn this request's claim into its answer (inside the caller's transaction)."""
        if not key.claim:
            return False
        sql, bind = self.complete_key
        values = _claim_of(key) | {
            "new_hash": key.request_hash,
            "new_response": key.response,
            "new_expires_at": self.stamp(now + timedelta(seconds=key.lifetime_seconds)),
        }
        cursor.execute(sql, bind(values))
        return cursor.rowcount == 1

    def _claim(self, connection, cursor, key: IdempotencyKey, now: datetime) -> StoredAnswer | None:
        """Insert the key (inside the caller's transaction); if another request holds it, roll
        back and return what it holds. The primary key decides, so this holds across processes:
        a second INSERT of the same (client, key) waits for the first transaction and then fails."""
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


def _claim_of(key: IdempotencyKey) -> dict:
    return {"claim_client": key.client, "claim_key": key.key, "claim": key.claim}


# One writer per engine, forgotten with the engine.
_writers: weakref.WeakKeyDictionary[sa.Engine, PredictionWriter] = weakref.WeakKeyDictionary()


def _writer(engine: sa.Engine) -> PredictionWriter:
    writer = _writers.get(engine)
    if writer is None:
        writer = _writers[engine] = PredictionWriter(engine)
    return writer


def _unavailable(engine: sa.Engine):
    """The database errors a caller turns into a 503: locked, read-only, full or unreachable."""
    return (DBAPIError, engine.dialect.loaded_dbapi.Error)


UNSTORED = "The prediction could not be stored, so it was not returned; retry in a moment."


def store_predictions(
    engine: sa.Engine, rows: Sequence[StoredPrediction], key: IdempotencyKey | None = None
) -> StoredAnswer | None:
    """Insert the rows in one transaction (all or none), committed when this returns. With a key
    that another request already holds, nothing is inserted and what it holds is returned."""
    try:
        return _writer(engine).write(rows, key)
    except _unavailable(engine) as error:
        raise ApiError(503, UNSTORED) from error


def claim_key(engine: sa.Engine, key: IdempotencyKey) -> StoredAnswer | None:
    """Claim an Idempotency-Key for a request about to run (None), or say what holds it."""
    try:
        return _writer(engine).claim(key)
    except _unavailable(engine) as error:
        raise ApiError(503, UNSTORED) from error


def release_key(engine: sa.Engine, key: IdempotencyKey) -> None:
    """Give up a claim made by `claim_key` (its request failed, so a retry may run)."""
    _writer(engine).release(key)
