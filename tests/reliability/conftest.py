"""Shared pieces of the reliability suite: the scale of a run, a model trained once, real gunicorn
servers on temporary databases, a bounded load driver that gives every request its own id, and the
accounting that compares the answers clients got with the rows the service stored.

RELIABILITY_SCALE=long (what `make reliability` sets) makes every run longer and larger.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest
import requests

from examples.loadgen import check_loopback
from examples.model import ensure_model
from examples.serving.production import auth
from examples.toolbox import REPO_ROOT, free_port, run_command
from tests.metrics_text import metric  # noqa: F401 - used by the tests here

LONG = os.environ.get("RELIABILITY_SCALE", "short") == "long"
CONFIG = REPO_ROOT / "examples" / "serving" / "gunicorn.conf.py"

# Test secrets: long and recognisable, so that finding one in a response or a log is unambiguous.
KEY = "reliability-key-4f1c9a7e2b6d8053c1e9"
OTHER_KEY = "reliability-other-key-8e2a61d07f3b59c4"
JWT_SECRET = "reliability-jwt-secret-0b7d3e91c54a28f6e1d0"
PASSWORD = "reliability viewer password 7391"
SECRETS = (KEY, OTHER_KEY, JWT_SECRET, PASSWORD)

# What a response body or a log line must never contain: a stack trace, a file path on this
# machine, or the name of a library the service is built with.
LEAK_PATTERNS = re.compile(
    r"Traceback|File \"|site-packages|/work/|/tmp/|\.py\b|werkzeug|sqlalchemy|sqlite3|pydantic"
    r"|sklearn|scikit|numpy",
    re.IGNORECASE,
)


def scaled(short, long):
    """The short value in `make test`, the long one under RELIABILITY_SCALE=long."""
    return long if LONG else short


def leaks_in(text: str) -> list[str]:
    """Secrets and internals found in a response body or a log line (empty when clean)."""
    found = [f"secret {secret[:12]}..." for secret in SECRETS if secret in text]
    found += [match.group(0) for match in LEAK_PATTERNS.finditer(text)]
    return found


@pytest.fixture(scope="session")
def wine(model_dir) -> dict[str, float]:
    """One valid wine: the middle of every feature's allowed range."""
    domain = ensure_model(model_dir).metadata.domain
    return {name: (r["allowed_min"] + r["allowed_max"]) / 2 for name, r in domain.items()}


def service_env(folder: Path, model_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a gunicorn with two workers whose every file lives under `folder`."""
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    users = (
        f"viewer:read:{auth.hash_password(PASSWORD)},analyst:predict:{auth.hash_password(PASSWORD)}"
    )
    env = {
        "SERVING_BIND": "127.0.0.1:{port}",
        "SERVING_WORKERS": "2",
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_DATABASE_URL": f"sqlite:///{folder / 'predictions.sqlite3'}",
        "SERVING_DATABASE_BUSY_TIMEOUT_MS": "300",
        "SERVING_RATE_LIMIT_DATABASE": str(folder / "rate_limits.sqlite3"),
        "SERVING_RATE_LIMIT_PER_MINUTE": "6000000",
        "SERVING_RATE_LIMIT_BURST": "1000000",
        # The security tests send hundreds of bad credentials and a dozen logins from one address.
        "SERVING_FAILED_AUTH_PER_MINUTE": "6000000",
        "SERVING_FAILED_AUTH_BURST": "1000000",
        "SERVING_LOGIN_PER_MINUTE": "6000",
        "SERVING_LOGIN_BURST": "1000",
        "SERVING_API_KEY_HASHES": f"load:{auth.sha256_hex(KEY)},other:{auth.sha256_hex(OTHER_KEY)}",
        "SERVING_USERS": users,
        "SERVING_JWT_SECRET": JWT_SECRET,
        "SERVING_LOG_LEVEL": "INFO",
        "SERVING_GRACEFUL_TIMEOUT": "10",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "SERVING_METRICS_BIND": f"127.0.0.1:{free_port()}",  # /metrics is on the operator's port
    }
    return env | overrides


@contextlib.contextmanager
def gunicorn(folder: Path, model_dir: Path, ready_path: str = "/readyz", **overrides: str):
    """A real gunicorn master with two workers, stopped (and its children) when the block ends."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "examples.serving.wsgi:app"]
    env = service_env(folder, model_dir, **overrides)
    with run_command(command, env=env, ready_path=ready_path, timeout=120, grace=15) as server:
        server.extra["database"] = folder / "predictions.sqlite3"
        server.extra["metrics_url"] = f"http://{env['SERVING_METRICS_BIND']}/metrics"
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory, model_dir):
    """One gunicorn shared by a module's tests; its log is checked for leaks when it stops."""
    with gunicorn(tmp_path_factory.mktemp("service"), model_dir) as server:
        yield server
        assert_clean_log(server)


def assert_clean_log(server) -> None:
    dirty = {line: leaks_in(line) for line in server.log().splitlines() if leaks_in(line)}
    assert not dirty, f"log lines with secrets or internals: {dirty}"


def stored_request_ids(database: Path, prefix: str) -> Counter:
    """How many rows each request id (starting with `prefix`) has in the predictions table."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute(
            "SELECT request_id FROM predictions WHERE request_id LIKE ?", (prefix + "%",)
        ).fetchall()
    return Counter(request_id for (request_id,) in rows)


def json_log_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


@dataclass(frozen=True)
class Outcome:
    """One request of a load run: its id, when it started and ended (seconds after the run began),
    its status (0 when no HTTP answer came back) and the error code of the body, if any."""

    request_id: str
    start: float
    end: float
    status: int
    code: str | None
    leaks: tuple[str, ...]


def drive(
    url: str,
    body: dict,
    *,
    prefix: str,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    idempotency_keys: bool = False,
) -> list[Outcome]:
    """Like examples.loadgen.run_load (loopback only, capped in count and time), but every request
    carries its own X-Request-ID, so each answer can be matched with a stored row (and, with
    `idempotency_keys`, the same value as its Idempotency-Key, so a proxy's retry is replayed)."""
    check_loopback(url)
    assert 1 <= concurrency <= 64 and max_requests <= 200_000 and max_seconds <= 300
    data = json.dumps(body).encode()
    base_headers = {"Content-Type": "application/json", **(headers or {})}
    lock = threading.Lock()
    counter = iter(range(max_requests))
    begin = time.perf_counter()
    outcomes: list[Outcome] = []

    def ticket() -> int | None:
        with lock:
            if time.perf_counter() - begin >= max_seconds:
                return None
            return next(counter, None)

    def worker() -> None:
        mine = []
        with requests.Session() as session:
            while (number := ticket()) is not None:
                request_id = f"{prefix}-{number}"
                started = time.perf_counter() - begin
                status, code, text = 0, None, ""
                try:
                    response = session.post(
                        url,
                        data=data,
                        headers={
                            **base_headers,
                            "X-Request-ID": request_id,
                            **({"Idempotency-Key": request_id} if idempotency_keys else {}),
                        },
                        timeout=timeout,
                    )
                    status, text = response.status_code, response.text
                except requests.RequestException:
                    session.close()  # a broken connection must not be reused
                if status not in (0, 200):
                    try:
                        code = json.loads(text)["error"]["code"]
                    except (ValueError, KeyError, TypeError):
                        code = "not the documented error shape"
                mine.append(
                    Outcome(
                        request_id,
                        started,
                        time.perf_counter() - begin,
                        status,
                        code,
                        tuple(leaks_in(text)),
                    )
                )
        with lock:
            outcomes.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes, key=lambda o: o.start)


@contextlib.contextmanager
def background(function, *args, **kwargs):
    """Run function(*args, **kwargs) in a thread; the block gets a list that holds its result
    once the block has ended (the thread is always joined)."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function(*args, **kwargs)))
    thread.start()
    try:
        yield result
    finally:
        thread.join()


def answered_ok(outcomes: list[Outcome]) -> set[str]:
    return {o.request_id for o in outcomes if o.status == 200}


def record_figure(name: str, text: str) -> None:
    """Append a measured figure to the file named by RELIABILITY_FIGURES, when it is set (the
    figures of book/reliability.md come from such a file)."""
    path = os.environ.get("RELIABILITY_FIGURES")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{name}: {text}\n")


@pytest.fixture(scope="session", autouse=True)
def figures_run_record(request):
    """With RELIABILITY_FIGURES set, start the file with when, where and on which commit the run
    took place, and end it with the outcome, so that book/reliability.md can say so."""
    path = os.environ.get("RELIABILITY_FIGURES")
    if not path:
        yield
        return
    import platform
    import subprocess
    from datetime import datetime

    def git(*arguments: str) -> str:
        return subprocess.run(  # noqa: S603 - git from PATH, fixed arguments
            ["git", *arguments],  # noqa: S607
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no")
    if commit and changed:
        commit += " (with uncommitted changes)"
    started = time.monotonic()
    with open(path, "w") as handle:
        handle.write(
            f"run started: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
            f"run commit: {commit or 'unknown'}\n"
            f"run machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}\n"
            f"run scale: {'long' if LONG else 'short'}\n"
        )
    yield
    session = request.session
    record_figure("run duration", f"~{time.monotonic() - started:.0f} s")
    record_figure(
        "run outcome", f"{session.testscollected} tests collected, {session.testsfailed} failed"
    )
