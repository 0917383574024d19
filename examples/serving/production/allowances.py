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

from examples.serving.production import sqlite_checkpoints

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


# The same GCRA step as _SPEND, for Redis: a Lua script runs inside Redis with no other command
# between its lines, so reading and moving `tat` is one atomic step for every instance at once.
# The clock is Redis's own (TIME), one clock for every machine, unless the caller passes `now`.
# Each key expires when its tat has passed (a missing key means a full allowance), so nothing
# needs pruning. It returns "0" when the units were spent, else the seconds to wait, as text
# (Redis would truncate a Lua number to an integer).
_REDIS_SPEND = """
local now = tonumber(ARGV[1])
if now == nil then
    local clock = redis.call('TIME')
    now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
end
local increment, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + increment - now - window
if ARGV[4] == 'spend' and wait <= 0 then
    redis.call('SET', KEYS[1], tostring(tat + increment), 'PX',
               math.ceil((tat + increment - now) * 1000))
end
if wait < 0 then wait = 0 end
return tostring(wait)
"""

_REDIS_CLIENTS: dict[str, object] = {}


class RedisRateLimiter:
    """RateLimiter's allowance kept in Redis, so that every instance on every machine shares it.

    Why our own script rather than Flask-Limiter (or `limits`, its storage layer): the service
    already has its rule (GCRA, a cost in rows, Retry-After from the same numbers) and one place
    that names the client (rate_limit.client_identity); the script moves that same rule into
    Redis in a dozen lines, so SQLite and Redis give the same answers to the same requests.
    """

    def __init__(
        self, url: str, requests_per_minute: float, burst: int, busy_timeout_ms: int = 1000
    ):
        import redis

        if requests_per_minute <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.burst = burst
        self.interval = 60.0 / requests_per_minute
        self.window = burst * self.interval
        # One client (and connection pool) per URL for the service's three limiters. redis-py
        # notices a fork and opens new connections in the child, so gunicorn's workers share none.
        if url not in _REDIS_CLIENTS:
            _REDIS_CLIENTS[url] = redis.Redis.from_url(
                url,
                socket_timeout=busy_timeout_ms / 1000,
                socket_connect_timeout=busy_timeout_ms / 1000,
            )
        self.redis = _REDIS_CLIENTS[url]
        self._script = self.redis.register_script(_REDIS_SPEND)

    def _run(self, client: str, now: float | None, cost: int, action: str) -> float:
        key = "allowance:" + client
        clock = "" if now is None else repr(now)
        return float(
            self._script(keys=[key], args=[clock, cost * self.interval, self.window, action])
        )

    def spend(self, client: str, now: float | None = None, cost: int = 1) -> float:
        """As RateLimiter.spend: 0.0 if spent, else the seconds to wait (math.inf beyond the burst)."""
        if cost > self.burst:
            return math.inf
        return self._run(client, now, cost, "spend")

    def wait(self, client: str, now: float | None = None, cost: int = 1) -> float:
        """As RateLimiter.wait: seconds until `client` could spend `cost` units. Spends nothing."""
        if cost > self.burst:
            return math.inf
        return self._run(client, now, cost, "wait")

    def prune(self, now: float | None = None) -> int:
        """Nothing to do: Redis drops each key when its allowance is full again."""
        return 0


def store_errors() -> tuple[type[Exception], ...]:
    """What a limiter raises when its store cannot answer (the request then gets a 503)."""
    import redis

    return (sqlite3.Error, redis.RedisError)
