"""What each production feature of the reference service adds to the CPU time of one request,
measured in one process with Flask's test client (no sockets, no gunicorn), one feature at a time.

    python -m benchmarks.feature_costs > /dev/null     # the table goes to stderr; logs to stdout

The test client's own work is in every figure; the ceiling app's figure shows how much that is.
`make bench` prices the same features under gunicorn and wrk instead, in pairs of runs with and
without each one (benchmarks/measurement.py, measure_pairs): there, two worker processes share
the SQLite files, and the two writes per request cost more than they do here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workload import make_workload
from examples.model import default_model_dir, ensure_model
from examples.production.contenders import ceiling

REQUESTS = 300
ROUNDS = 4
KEY = "benchmark-key-not-a-secret"


def cpu_per_request(client, body: bytes, headers: dict[str, str]) -> float:
    """CPU seconds per POST /v1/predict through the test client, over one round of requests."""
    started = time.process_time()
    for _ in range(REQUESTS):
        client.post("/v1/predict", data=body, headers=headers)
    return (time.process_time() - started) / REQUESTS


def main() -> int:
    from examples.serving import Settings, create_app

    workload = make_workload(ensure_model())
    body = workload.one_row_body
    auth = {"auth_enabled": True,
            "api_key_hashes": f"bench:{hashlib.sha256(KEY.encode()).hexdigest()}"}  # fmt: skip
    limits = {"rate_limit_enabled": True, "rate_limit_per_minute": 10**9, "rate_limit_burst": 10**6}
    variants = [
        ("features off (storage and metrics stay on)", {}, False),
        ("+ API key check", auth, True),
        ("+ rate limiter (SQLite)", limits, False),
        ("+ request log at INFO", {"log_level": "INFO"}, False),
        ("all features on", {**auth, **limits, "log_level": "INFO"}, True),
    ]
    with contextlib.ExitStack() as stack:
        clients = {"ceiling (constant reply)": (ceiling.create_app().test_client(), {}, "WARNING")}
        for name, changes, needs_key in variants:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="feature-costs-"))
            settings = Settings.isolated(Path(scratch), default_model_dir(), **changes)
            headers = {"X-API-Key": KEY} if needs_key else {}
            clients[name] = (create_app(settings).test_client(), headers, settings.log_level)
        # The service's log level belongs to a logger all apps in a process share: set it to
        # each variant's own level before its requests.
        service_logger = logging.getLogger("examples.serving")
        for client, headers, level in clients.values():
            service_logger.setLevel(level)
            headers["Content-Type"] = "application/json"
            for _ in range(20):  # warm-up: the first requests fill caches, open the database
                assert client.post("/v1/predict", data=body, headers=headers).status_code == 200
        # Round 1 of every variant, then round 2, ...; the best round of each is kept.
        results = dict.fromkeys(clients, float("inf"))
        for _ in range(ROUNDS):
            for name, (client, headers, level) in clients.items():
                service_logger.setLevel(level)
                results[name] = min(results[name], cpu_per_request(client, body, headers))
    base = results["features off (storage and metrics stay on)"]
    print(f"CPU µs per one-row request, best of {ROUNDS} rounds of {REQUESTS}:", file=sys.stderr)
    for name, seconds in results.items():
        extra = (
            f"  ({(seconds - base) * 1e6:+,.0f} µs against features off)"
            if name.startswith(("+", "all"))
            else ""
        )
        print(f"  ~{seconds * 1e6:7,.0f}  {name}{extra}", file=sys.stderr)
    print(json.dumps({k: round(v * 1e6, 1) for k, v in results.items()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
