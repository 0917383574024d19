"""SQLite's checkpoints, moved off the request path.

In WAL mode a commit appends the changed pages to a log file beside the database (`-wal`). Now and
then those pages must be copied back into the database file and the log restarted: a
*checkpoint*. By default the connection that commits when the log passes 1,000 pages does it,
inside its own request, and waits for the disk to confirm (an fsync). Measured here, that made
about one request in 200 take 5 to 40 ms instead of under one, and at concurrency 8 the requests
queued behind it waited too: the pauses set the p99.

So every worker process runs one background thread that checkpoints the databases it writes to
once a second, in "passive" mode: it copies what it can without waiting for, or blocking, anyone.
Python's sqlite3 module lets other threads run while SQLite works, so requests go on meanwhile.
The connections that serve requests keep an automatic checkpoint only as a safety net, at 10,000
pages (about 40 MB of log), for the case where the thread falls behind.

The thread starts with the first write a process makes for a request, never when a connection is
opened: gunicorn's master opens the database (to migrate it) before it forks the workers, and a
fork while another thread is inside SQLite can leave the child holding a lock no thread of its
own will ever release.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from pathlib import Path

INTERVAL_SECONDS = 1.0
SAFETY_NET_PAGES = 10_000

_lock = threading.Lock()
_paths: set[str] = set()
_running_in: int | None = None  # the pid whose thread is running (a thread does not cross a fork)


def prepare_connection(connection: sqlite3.Connection, path: str | Path) -> None:
    """Raise the connection's automatic checkpoint to the safety net, and list the database at
    `path` for the background thread (started by `ensure_running`)."""
    connection.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
    watch(path)


def watch(path: str | Path) -> None:
    with _lock:
        _paths.add(str(path))


def ensure_running() -> None:
    """Start this process's checkpoint thread unless it runs already. Called on the request path
    (a pid comparison once the thread runs), so it starts in a worker, after the fork."""
    global _running_in
    if _running_in == os.getpid():
        return
    with _lock:
        if _running_in != os.getpid():
            _running_in = os.getpid()
            threading.Thread(
                target=_checkpoint_forever, name="sqlite-checkpoints", daemon=True
            ).start()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # in case another thread of the parent held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


def checkpoint_once(connections: dict[str, sqlite3.Connection]) -> None:
    """One passive checkpoint of every watched database; a database that is busy or gone is left
    for the next round."""
    with _lock:
        paths = sorted(_paths)
    for path in paths:
        if not Path(path).exists():  # a database that was deleted (a test's temporary folder)
            with _lock:
                _paths.discard(path)
            continue
        try:
            if path not in connections:
                # mode=rw: open the database, never create an empty one.
                uri = Path(path).absolute().as_uri() + "?mode=rw"
                connections[path] = sqlite3.connect(uri, uri=True, timeout=0)
            connections[path].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error, KeyError):
                connections.pop(path).close()


def _checkpoint_forever() -> None:
    connections: dict[str, sqlite3.Connection] = {}
    pid = os.getpid()
    while os.getpid() == pid:
        time.sleep(INTERVAL_SECONDS)
        checkpoint_once(connections)
