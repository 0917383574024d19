"""How often each client may ask: a limit per API key (or per address, when anonymous) that holds
across all gunicorn workers, answered with 429 and a Retry-After header when it is exceeded.

The rule is the generic cell rate algorithm (GCRA), a token bucket kept as one number per client:
the theoretical arrival time `tat`, the moment the client's allowance would be fully spent if it
kept asking at exactly the permitted rate. Each request pushes `tat` forward by one interval
(60 s / requests per minute); it is refused when that would put `tat` more than `burst`
intervals ahead of now. So a client may send `burst` requests at once, then one per interval.

The numbers live in a small SQLite file that every worker opens. One SQL statement reads and
moves `tat` under SQLite's write lock, so two workers cannot both spend the last request.
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

from flask import Flask, g, request

from examples.serving import sqlite_checkpoints
from examples.serving.auth import PROTECTED_ROUTES
from examples.serving.errors import ApiError

# The token endpoint is limited too: it is where passwords would be guessed.
LIMITED_ROUTES = frozenset(PROTECTED_ROUTES) | {"/v1/token"}

_SPEND = """
INSERT INTO allowances (client, tat) VALUES (:client, :now + :interval)
ON CONFLICT (client) DO UPDATE SET tat = max(tat, :now) + :interval
    WHERE max(tat, :now) + :interval - :now <= :window
RETURNING tat
"""


class RateLimiter:
    """`requests_per_minute` on average, up to `burst` at once, per client, shared through `path`."""

    def __init__(
        self, path: str | Path, requests_per_minute: float, burst: int, busy_timeout_ms: int = 1000
    ):
        if requests_per_minute <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.path = Path(path)
        self.interval = 60.0 / requests_per_minute
        self.window = burst * self.interval
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = self._connection()
        connection.execute(
            "CREATE TABLE IF NOT EXISTS allowances (client TEXT PRIMARY KEY, tat REAL)"
        )
        # A row whose tat has passed means the same as no row: drop them at start-up.
        connection.execute("DELETE FROM allowances WHERE tat < ?", (time.time(),))

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

    def spend(self, client: str, now: float | None = None) -> float:
        """Spend one request of `client`'s allowance: 0.0 if allowed, else seconds until it is."""
        now = time.time() if now is None else now
        sqlite_checkpoints.ensure_running()
        connection = self._connection()
        parameters = {
            "client": client,
            "now": now,
            "interval": self.interval,
            "window": self.window,
        }
        # fetchall: a RETURNING statement holds the write lock until its rows are read.
        if connection.execute(_SPEND, parameters).fetchall():
            return 0.0
        ((tat,),) = connection.execute(
            "SELECT tat FROM allowances WHERE client = ?", (client,)
        ).fetchall()
        return max(tat, now) + self.interval - now - self.window


def client_identity() -> str:
    """Whom to count this request against: the authenticated name, else the network address."""
    principal = g.get("principal")
    if principal is not None:
        return f"{principal.method}:{principal.name}"
    return f"address:{request.remote_addr}"


def _enforce(limiter: RateLimiter):
    def check() -> None:
        if request.url_rule is None or request.url_rule.rule not in LIMITED_ROUTES:
            return
        try:
            wait = limiter.spend(client_identity())
        except sqlite3.Error as error:
            raise ApiError(503, "The rate limiter is unavailable; retry in a moment.") from error
        if wait > 0:
            seconds = max(1, math.ceil(wait))  # Retry-After takes whole seconds
            raise ApiError(
                429,
                f"Too many requests from this client; retry after {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )

    return check


def init_app(app: Flask, limiter: RateLimiter) -> None:
    """Refuse requests beyond the limit. Register it after auth, which names the client."""
    app.extensions["rate_limiter"] = limiter
    app.before_request(_enforce(limiter))
    paths = app.extensions.get("serving.openapi", {}).get("paths", {})
    for route in LIMITED_ROUTES & set(paths):
        paths[route]["post"]["responses"]["429"] = {
            "description": "Too many requests: retry after the seconds in the Retry-After header",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
            },
        }
