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
no second row is stored; a retry while the first request is still in flight gets 409 (see
`IdempotencyKey` and hooks.py).

The modules: schema (the tables and the engine), writer (the INSERT path and the key claims),
hooks (the request hooks and the idempotency key), queries (reading the rows back).
"""

from examples.serving.production.storage.hooks import (
    IDEMPOTENCY_HEADER,
    KEY_IN_FLIGHT,
    KEY_REUSED,
    init_app,
    request_digest,
)
from examples.serving.production.storage.queries import count_rows, summarize_recent
from examples.serving.production.storage.schema import (
    IN_FLIGHT,
    STORED_COLUMNS,
    IdempotencyKey,
    StoredAnswer,
    StoredPrediction,
    create_storage_engine,
    idempotency_keys,
    metadata,
    predictions,
    to_json_text,
)
from examples.serving.production.storage.writer import (
    PredictionWriter,
    claim_key,
    release_key,
    store_predictions,
)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IN_FLIGHT",
    "KEY_IN_FLIGHT",
    "KEY_REUSED",
    "STORED_COLUMNS",
    "IdempotencyKey",
    "PredictionWriter",
    "StoredAnswer",
    "StoredPrediction",
    "claim_key",
    "count_rows",
    "create_storage_engine",
    "idempotency_keys",
    "init_app",
    "metadata",
    "predictions",
    "release_key",
    "request_digest",
    "store_predictions",
    "summarize_recent",
    "to_json_text",
]
