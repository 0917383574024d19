"""A server that keeps connections open (chapters 3 and 5).

werkzeug's development server (3.1) ends every response with `Connection: close`, so it never
reuses a connection. gunicorn's threaded worker does: it is the server the book runs in production
(chapter 16), started here with one worker process so that all counts live in one place.
"""

from __future__ import annotations

import sys

KEEPALIVE_SECONDS = 5


def keepalive_server_command(app: str = "examples.talking.wsgi:app") -> list[str]:
    """The command line for `toolbox.run_command`: gunicorn, one process, threads, keep-alive on."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--keep-alive",
        str(KEEPALIVE_SECONDS),
        app,
    ]
