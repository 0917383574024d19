"""Holding a SQLite database's write lock from another connection, as a long transaction of
another process would: the service must answer a prompt 503, never hang or store half."""

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(database: str | Path) -> Iterator[float]:
    """Hold an EXCLUSIVE transaction on `database` for the block; yield when it was taken
    (time.monotonic())."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield time.monotonic()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
