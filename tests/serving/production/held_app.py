"""The reference service with one hook for the tests, added after the service's own hooks (so
after the Idempotency-Key is claimed): a request carrying `X-Test-Hold: PATH` waits, at most
30 s, until that file exists. A test can then keep a request in flight as long as it needs."""

import time
from pathlib import Path

from flask import request

from examples.serving.wsgi import app


@app.before_request
def hold_until_the_file_exists() -> None:
    gate = request.headers.get("X-Test-Hold")
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
