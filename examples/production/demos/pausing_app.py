"""A service that answers quickly but stops now and then, like a process in a stop-the-world
pause (a full garbage collection, a swap-in, a stalled disk): for showing coordinated omission
(chapter 17). It serves one request at a time, like one sync worker.

`GET /work` answers after `work_ms`; every `every_ms` the next request first sleeps `pause_ms`,
holding up everyone behind it. `GET /stats` reports how many requests the handler served and the
seconds it spent on them: the server's own view, which misses any time spent queued before it.
Settings come from the arguments or from PAUSING_APP_PAUSE_MS, _EVERY_MS and _WORK_MS.
"""

from __future__ import annotations

import os
import threading
import time

from flask import Flask

# No setting may hold the process for longer than this, so a typo cannot hang a notebook.
LONGEST_MS = 2_000.0


def _setting(value: float | None, name: str, default: float) -> float:
    if value is None:
        value = float(os.environ.get(f"PAUSING_APP_{name}", default))
    if not 0 <= value <= LONGEST_MS:
        raise ValueError(f"{name.lower()} must be between 0 and {LONGEST_MS} ms, not {value}")
    return value


def create_app(
    pause_ms: float | None = None, every_ms: float | None = None, work_ms: float | None = None
) -> Flask:
    pause = _setting(pause_ms, "PAUSE_MS", 100.0) / 1e3
    every = max(_setting(every_ms, "EVERY_MS", 1_000.0) / 1e3, 1e-3)
    work = _setting(work_ms, "WORK_MS", 0.0) / 1e3
    app = Flask(__name__)
    one_at_a_time = threading.Lock()
    state = {"next_pause": None, "served": 0, "handler_seconds": 0.0, "pauses": 0}

    @app.get("/work")
    def do_work():
        with one_at_a_time:
            began = time.perf_counter()
            if state["next_pause"] is None:
                state["next_pause"] = began + every
            if pause and began >= state["next_pause"]:
                time.sleep(pause)
                state["pauses"] += 1
                state["next_pause"] = time.perf_counter() + every
            if work:
                time.sleep(work)
            state["served"] += 1
            state["handler_seconds"] += time.perf_counter() - began
        return {"ok": True}

    @app.get("/stats")
    def stats():
        with one_at_a_time:
            return dict(state, pid=os.getpid())

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
