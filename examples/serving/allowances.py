"""An allowance per client, kept in a SQLite file that every gunicorn worker shares.

The rule is the generic cell rate algorithm (GCRA), a token bucket kept as one number per client:
the theoretical arrival time `tat`, the moment the client's allowance would be fully spent if it
kept asking at exactly the permitted rate. Spending `cost` units pushes `tat` forward by `cost`
intervals (60 s / units per minute); it is refused when that would put `tat` more than `burst`
intervals ahead of now. So a client may spend `burst` units at once, then one per interval.

The numbers live in a small SQLite file that every worker opens. One SQL statement reads and
moves `tat` under SQLite's write lock, so two workers cannot both spend the last unit.
Why not a library: pyrate-limiter's SQLite bucket keeps one row per request and counts the whole
table (one table per client would be needed) and wants the `filelock` package for several
processes; `limits` shares state only through Redis, Memcached or MongoDB servers.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from pathlib import Path

from examples.serving import sqlite_checkpoints

_SPEND = """
INSERT INTO allowances (client, tat) VALUES (:client, :now + :increment)
ON CONFLICT (client) DO UPDATE SET tat = max(tat, :now) + :increment
    WHERE max(tat, :now) + :increment - :now <= :window
RETURNING tat
"""


_CONNECTIONS: dict[Path, threading.local] = {}


class RateLimiter:
    """`requests_per_minute` units on average, up to `burst` at once, per client, shared through
    `path`. Several limiters may share one file: their clients' names must then differ."""

    def __init__(
        self, path: str | Path, requests_per_minute: float, burst: int, busy_timeout_ms: int = 1000
    ):
        if requests_per_minute <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.path = Path(path)
        self.burst = burst
        self.interval = 60.0 / requests_per_minute
        self.window = burst * self.interval
        self.busy_timeout_ms = busy_timeout_ms
        self.prune_every = 10_000  # spends per process between two prunes
        self._spends = 0
        # Limiters on one file share one connection per thread (the service has three).
        self._local = _CONNECTIONS.setdefault(self.path.resolve(), threading.local())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = self._connection()
        connection.execute(
            "CREATE TABLE IF NOT EXISTS allowances (client TEXT PRIMARY KEY, tat REAL)"
        )
        self.prune()

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread and per process (a connection must not cross a fork)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            local.connection.execute("PRAGMA journal_mode=WAL")
            local.connection.execute("PRAGMA synchronous=NORMAL")
            sqlite_checkpoints.prepare_connection(local.connection, self.path)
            local.pid = os.getpid()
        return local.connection

    def _tat(self, client: str) -> float | None:
        rows = (
            self._connection()
            .execute("SELECT tat FROM allowances WHERE client = ?", (client,))
            .fetchall()
        )
        return rows[0][0] if rows else None

    def spend(self, client: str, now: float | None = None, cost: int = 1) -> float:
        """Spend `cost` units of `client`'s allowance: 0.0 if allowed, else seconds until it would
        be (math.inf when `cost` is more than the burst, which no wait can allow)."""
        if cost > self.burst:
            return math.inf
        now = time.time() if now is None else now
        sqlite_checkpoints.ensure_running()
        parameters = {
            "client": client,
            "now": now,
            "increment": cost * self.interval,
            "window": self.window,
        }
        self._spends += 1
        if self._spends % self.prune_every == 0:
            self.prune(now)
        # fetchall: a RETURNING statement holds the write lock until its rows are read.
        if self._connection().execute(_SPEND, parameters).fetchall():
            return 0.0
        return self.wait(client, now, cost)

    def prune(self, now: float | None = None) -> int:
        """Drop the rows whose tat has passed (they mean the same as no row); how many went.
        Without it, every address and user name ever tried would keep a row for good."""
        now = time.time() if now is None else now
        return self._connection().execute("DELETE FROM allowances WHERE tat < ?", (now,)).rowcount

    def wait(self, client: str, now: float | None = None, cost: int = 1) -> float:
        """Seconds until `client` could spend `cost` units; 0.0 if now. Spends nothing."""
        now = time.time() if now is None else now
        tat = self._tat(client)
        if tat is None:
            return 0.0 if cost <= self.burst else math.inf
        return max(0.0, max(tat, now) + cost * self.interval - now - self.window)
