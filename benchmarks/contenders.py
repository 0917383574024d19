"""The contenders: every service the benchmark starts, with the command that starts it, the
settings it runs with and the endpoints it is loaded on. The reference service runs with every
production feature on, with its optional features off, and once more for each set of features the
plan leaves out; the framework peers come from their own virtual environment (benchmarks/peers.py).
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import peers
from benchmarks.plan import WORKERS, Plan
from examples.serving.app import PRODUCTION_FEATURES
from examples.toolbox import REPO_ROOT

REFERENCE = "reference (all features on)"
CORE = "reference without every production feature"
PEER_NAMES = ("BentoML peer", "LitServe peer")


@dataclass
class Contender:
    """One service under test: how to start it and which of its endpoints to load."""

    name: str
    description: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    one_row_path: str | None = "/v1/predict"
    batch_path: str | None = None
    ready_path: str = "/healthz"
    skipped: str | None = None  # why it was not measured, if it was not
    leaves_out: tuple[str, ...] = ()  # production features this reference variant leaves out
    # Seconds to wait for the first answer. Every server starts at once, so each waits for all
    # of their imports: at load 30 on 2 cores a plain gunicorn server missed 300 s. LitServe
    # spawns six processes that each import the model's libraries.
    start_timeout: int = 600


def gunicorn(target: str, *extra: str) -> list[str]:
    """gunicorn with sync workers, as every Flask contender runs."""
    return [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}",
            "--workers", str(WORKERS), "--worker-class", "sync", *extra, target]  # fmt: skip


FEATURE_LABELS = {
    "request_log": "the request log", "metrics": "the metrics",
    "security_headers": "the security headers", "auth": "the API-key check",
    "rate_limit": "the rate limiter", "storage": "prediction storage",
}  # fmt: skip


def without_name(leaves_out: tuple[str, ...]) -> str:
    """'reference without the metrics', or '... without every production feature'."""
    if set(leaves_out) == set(PRODUCTION_FEATURES):
        return "reference without every production feature"
    return "reference without " + " and ".join(FEATURE_LABELS[name] for name in leaves_out)


def reference_contenders(
    scratch: Path, model_dir: Path, leave_out: tuple[tuple[str, ...], ...] = ()
) -> list[Contender]:
    """The reference service with its optional features on and off, and once more for each entry
    of `leave_out` (all on but those). It runs under its own gunicorn.conf.py, with the worker
    count set to ours. It is always measured: a run without it would price nothing of ours."""
    names = ["reference (all features on)", "reference (features off)",
             *(without_name(left) for left in leave_out)]  # fmt: skip
    config = REPO_ROOT / "examples" / "serving" / "gunicorn.conf.py"
    extra = ["--config", str(config)]
    command = [sys.executable, "-m", "gunicorn", *extra, "--bind", "127.0.0.1:{port}",
               "--workers", str(WORKERS), "examples.serving.wsgi:app"]  # fmt: skip
    base_env = {"SERVING_MODEL_DIR": str(model_dir), "SERVING_WORKERS": str(WORKERS)}
    on_env, off_env, headers = reference_feature_settings(scratch)
    measured = [
        Contender(names[0], "examples/serving with every production feature on (gunicorn "
                  "config from examples/serving/gunicorn.conf.py, 2 workers)", command,
                  {**base_env, **on_env}, headers, batch_path="/v1/predict/batch"),
        Contender(names[1], "examples/serving with its optional features switched off through "
                  "SERVING_* variables", command, {**base_env, **off_env}, {},
                  batch_path="/v1/predict/batch"),
    ]  # fmt: skip
    for index, left in enumerate(leave_out):
        # Its own database files, and the factory told what to leave out (create_app's
        # leave_out, which no setting reaches); everything else as 'all features on'.
        files = {
            "SERVING_DATABASE_URL": f"sqlite:///{scratch / f'without-{index}.sqlite3'}",
            "SERVING_RATE_LIMIT_DATABASE": str(scratch / f"without-{index}-limits.sqlite3"),
        }
        target = f"examples.serving.app:create_app(leave_out={list(left)!r})"
        measured.append(Contender(
            names[2 + index], f"all features on but {', '.join(left)} (left out of create_app)",
            [*command[:-1], target], {**base_env, **on_env, **files}, headers,
            leaves_out=tuple(left)))  # fmt: skip
    return measured


def reference_feature_settings(scratch: Path) -> tuple[dict, dict, dict]:
    """SERVING_* variables for 'all features on' and 'features off' (names from
    examples/serving/settings.py and gunicorn.conf.py), and the header a request needs when on.

    On, as shipped: an API key checked on every request, the rate limiter consulted and updated on
    every request (with a limit far above what the benchmark sends, so nothing is refused), the
    JSON request log at INFO (gunicorn's own access log is off by default: the app's line is the
    one line per request). Off: no credentials, no rate limiter, the request log at WARNING
    (silent for good requests). Prediction storage, the metrics and the security headers have no
    switch: they run in both.
    """
    key = secrets.token_urlsafe(32)
    on = {
        "SERVING_AUTH_ENABLED": "true",
        "SERVING_API_KEY_HASHES": f"benchmark:{hashlib.sha256(key.encode()).hexdigest()}",
        "SERVING_RATE_LIMIT_ENABLED": "true",
        "SERVING_RATE_LIMIT_PER_MINUTE": str(10**9),
        "SERVING_RATE_LIMIT_BURST": str(10**6),
        "SERVING_RATE_LIMIT_DATABASE": str(scratch / "on-rate-limits.sqlite3"),
        "SERVING_DATABASE_URL": f"sqlite:///{scratch / 'on-predictions.sqlite3'}",
        "SERVING_LOG_LEVEL": "INFO",
    }
    off = {
        "SERVING_AUTH_ENABLED": "false",
        "SERVING_RATE_LIMIT_ENABLED": "false",
        "SERVING_DATABASE_URL": f"sqlite:///{scratch / 'off-predictions.sqlite3'}",
        "SERVING_LOG_LEVEL": "WARNING",
    }
    return on, off, {"X-API-Key": key}


def contenders(
    scratch: Path, model_dir: Path, pickle_path: Path, plan: Plan | None = None
) -> list[Contender]:
    naive_env = {"NAIVE_MODEL_PICKLE": str(pickle_path)}
    model_env = {"SERVING_MODEL_DIR": str(model_dir)}
    return [
        Contender("ceiling", "gunicorn + Flask returning a constant JSON reply",
                  gunicorn("examples.production.contenders.ceiling:create_app()")),
        Contender("naive (gunicorn)", "unpickles the model and builds a DataFrame per request",
                  gunicorn("examples.production.contenders.naive:create_app()"), naive_env),
        Contender("naive (Flask dev server)", "the same naive app under `flask run` "
                  "(one process, a thread per request)",
                  [sys.executable, "-m", "flask", "--app", "examples.production.contenders.naive:create_app",
                   "run", "--host", "127.0.0.1", "--port", "{port}", "--with-threads"], naive_env),
        Contender("FastAPI peer", "FastAPI + uvicorn (uvloop, httptools), pydantic validation",
                  [sys.executable, "-m", "uvicorn", "examples.production.contenders.fastapi_peer:create_app",
                   "--factory", "--host", "127.0.0.1", "--port", "{port}", "--workers",
                   str(WORKERS), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                   "--log-level", "warning"], model_env, batch_path="/v1/predict/batch"),
        Contender("bare batch", "a bare Flask batch endpoint: no validation, logging or storage",
                  gunicorn("examples.production.contenders.bare_batch:create_app()"), model_env,
                  one_row_path=None, batch_path="/v1/predict/batch"),
        *framework_peers(model_env),
        *reference_contenders(scratch, model_dir, plan.leave_out if plan else ()),
    ]  # fmt: skip


def framework_peers(model_env: dict[str, str]) -> list[Contender]:
    """BentoML and LitServe, from their own virtual environment (benchmarks/peers.py), serving the
    same model with the same validation (examples/production/contenders/validation.py) and two workers. When
    their packages cannot be installed, each is reported as not measured, in one line."""
    descriptions = {
        "BentoML peer": "BentoML 1.4 (`bentoml serve`, 2 workers, access log off), pydantic "
                        "validation",
        "LitServe peer": "LitServe 0.2 (4 uvicorn HTTP processes passing each body through a "
                         "ZeroMQ queue to 2 inference processes per endpoint), pydantic validation",
    }  # fmt: skip
    try:
        python = peers.peer_python(log=lambda message: print(message, file=sys.stderr))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        reason = f"could not be installed: {str(error)[:300]}"
        return [Contender(name, descriptions[name], [], skipped=reason) for name in PEER_NAMES]
    env = {**model_env, **peers.peer_env()}
    commands = {"BentoML peer": peers.bentoml_command(python),
                "LitServe peer": peers.litserve_command(python)}  # fmt: skip
    return [Contender(name, descriptions[name], commands[name], env,
                      batch_path="/v1/predict/batch", start_timeout=900) for name in PEER_NAMES]  # fmt: skip
