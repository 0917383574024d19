"""The benchmark harness: start every contender on 127.0.0.1, load it with wrk, stop it.

    python -m benchmarks.run            # the full run (under 10 minutes), as `make bench`
    python -m benchmarks.run --quick    # shorter and fewer cells, for CI (about 2 minutes on
                                        # a quiet machine; server start-up dominates)

Writes benchmarks/results/latest.json (the machine and every measurement), latest.md (tables, and
each target's ratio with its interval and verdict: met, missed or undecided; benchmarks/verdicts.py)
and latency.png. The framework peers BentoML and LitServe run from their own virtual environment,
built on first use (benchmarks/peers.py). The machine is shared and loopback load
generators compete with the server for the same cores, so requests per second are noisy: the
server's CPU time per request, read from /proc through psutil, is the stable figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import psutil
import requests

from benchmarks import peers, verdicts
from examples.loadgen import run_load
from examples.model import (
    CLASS_NAMES,
    FEATURE_NAMES,
    LoadedModel,
    default_model_dir,
    ensure_model,
    split_data,
)
from examples.serving.app import PRODUCTION_FEATURES
from examples.toolbox import REPO_ROOT, run_command

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
WORKERS = 2
BATCH_ROWS = 1_000
SCHEMA_VERSION = 1
LIBRARIES = [
    "flask", "werkzeug", "gunicorn", "fastapi", "uvicorn", "uvloop", "httptools", "pydantic",
    "scikit-learn", "numpy", "pandas", "onnxruntime",
]  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """How long and how many: the full run and the quick run differ only here."""

    mode: str
    seconds: int  # length of one measured wrk run (wrk takes whole seconds)
    warmup_seconds: float
    rounds: int
    one_row_concurrency: tuple[int, ...]
    batch_concurrency: tuple[int, ...]
    floor_repeats: int
    floor_calls: int  # one-row calls per repeat in the in-process floor
    # The reference with production features left out, to price each under load: each tuple is
    # one more server. After the rounds, each is measured `pairs` times for one-row requests at
    # the headline concurrency, each time right after the full reference (short cells, so that
    # the two of a pair see the same machine).
    leave_out: tuple[tuple[str, ...], ...] = ()
    pairs: int = 0
    pair_seconds: int = 2
    # After the full rounds, this many more rounds of the headline cells only (one-row requests at
    # the headline concurrency for every contender and the core variant, batches at the highest
    # batch level for the reference and the bare endpoint): the verdicts need several independent
    # rounds, and the other cells only describe.
    headline_rounds: int = 0

    @property
    def headline_concurrency(self) -> int:
        """The one-row level the ratios are read at: 8, or the highest level run."""
        return 8 if 8 in self.one_row_concurrency else max(self.one_row_concurrency)


EVERY_FEATURE = PRODUCTION_FEATURES
CORE_TARGET = 1.3  # the reference without its production features, against the ceiling
FULL = Plan("full", 3, 0.5, 2, (1, 8, 32), (1, 2), 7, 200,
            leave_out=(*((name,) for name in PRODUCTION_FEATURES), EVERY_FEATURE), pairs=4,
            headline_rounds=5)  # fmt: skip
QUICK = Plan("quick", 1, 0.3, 2, (1, 8), (1,), 3, 30,
             leave_out=(("storage",), EVERY_FEATURE), pairs=2, pair_seconds=1,
             headline_rounds=1)  # fmt: skip


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
    # Seconds to wait for the first answer. LitServe spawns six processes that each import the
    # model's libraries; on a loaded 2-core machine that took several minutes.
    start_timeout: int = 300


# ---- the contenders ---------------------------------------------------------------------------


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
    import hashlib
    import secrets

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


PEER_NAMES = ("BentoML peer", "LitServe peer")


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


# ---- what is sent, and what must come back ----------------------------------------------------


@dataclass
class Workload:
    """The request bodies, and the classes the trained model predicts for the checked rows."""

    check_rows: list[dict[str, float]]
    expected: list[str]
    one_row_body: bytes
    batch_rows: np.ndarray
    batch_body: bytes


def as_features(row: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in zip(FEATURE_NAMES, row, strict=True)}


def make_workload(loaded: LoadedModel) -> Workload:
    """Rows of the held-out split that lie in the model's allowed domain (a validating service
    refuses the others): five to check answers with, one to send alone, and 1,000 drawn with
    replacement (fixed seed) for the batch."""
    X_test = split_data()[1].to_numpy()  # noqa: N806 - the usual name for a design matrix
    domain = loaded.metadata.domain
    low = np.array([domain[name]["allowed_min"] for name in FEATURE_NAMES])
    high = np.array([domain[name]["allowed_max"] for name in FEATURE_NAMES])
    X_test = X_test[((X_test >= low) & (X_test <= high)).all(axis=1)]  # noqa: N806
    check = X_test[:5]
    expected = [CLASS_NAMES[i] for i in loaded.pipeline.predict_proba(check).argmax(axis=1)]
    batch = X_test[np.random.default_rng(0).integers(0, len(X_test), BATCH_ROWS)]
    return Workload(
        check_rows=[as_features(row) for row in check],
        expected=expected,
        one_row_body=json.dumps({"features": as_features(X_test[0])}).encode(),
        batch_rows=batch,
        batch_body=json.dumps({"instances": [as_features(row) for row in batch]}).encode(),
    )


class WrongAnswer(RuntimeError):
    """A contender answered, but not with what the trained model predicts."""


def check_answers(contender: Contender, url: str, workload: Workload) -> None:
    """Every contender but the ceiling must predict what the trained model predicts."""

    def post(path: str, body: dict) -> dict:
        reply = requests.post(url + path, json=body, headers=contender.headers, timeout=30)
        if reply.status_code != 200:
            raise WrongAnswer(f"{path} answered {reply.status_code}: {reply.text[:300]}")
        return reply.json()

    if contender.one_row_path:
        got = [post(contender.one_row_path, {"features": row})["prediction"]
               for row in workload.check_rows]  # fmt: skip
        # The ceiling answers a constant: it only has to name a class that exists.
        if contender.name == "ceiling":
            right = all(name in CLASS_NAMES for name in got)
        else:
            right = got == workload.expected
        if not right:
            raise WrongAnswer(
                f"{contender.one_row_path} predicted {got}, expected {workload.expected}"
            )
    if contender.batch_path:
        reply = post(contender.batch_path, {"instances": workload.check_rows})
        got = [item["prediction"] for item in reply["predictions"]]
        if got != workload.expected:
            raise WrongAnswer(
                f"{contender.batch_path} predicted {got}, expected {workload.expected}"
            )


# ---- wrk --------------------------------------------------------------------------------------

# wrk reads this Lua script: POST the body from a file, and at the end print one JSON line with
# the counts and the latency percentiles (wrk measures latency in microseconds).
WRK_SCRIPT = """\
local file = io.open(BODY_PATH, "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
EXTRA_HEADERS
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, '
    .. '"write_errors": %d, "non_2xx": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, '
    .. '"p99_us": %d, "mean_us": %.1f, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    latency.max))
end
"""


def lua_string(text: str) -> str:
    """A Lua string literal (JSON's escaping is valid Lua for the text we write)."""
    return json.dumps(text)


def write_wrk_script(folder: Path, name: str, body: bytes, headers: dict[str, str]) -> Path:
    body_path = folder / f"{name}.json"
    body_path.write_bytes(body)
    extra = "\n".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    script = WRK_SCRIPT.replace("BODY_PATH", lua_string(str(body_path)))
    script = script.replace("EXTRA_HEADERS", extra)
    script_path = folder / f"{name}.lua"
    script_path.write_text(script)
    return script_path


def run_wrk(url: str, script: Path, concurrency: int, seconds: int) -> dict:
    """One wrk run; returns the numbers its done() hook printed."""
    threads = min(concurrency, 2)
    command = [WRK, "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(script), url]  # fmt: skip
    finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in finished.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line.removeprefix("WRK_JSON "))
    raise RuntimeError(
        f"wrk printed no result (exit {finished.returncode}): {finished.stdout} {finished.stderr}"
    )


# ---- server CPU time --------------------------------------------------------------------------


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a server's whole process tree (master and workers), including
    workers that have already exited and been collected by their parent."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in family:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def measure_cell(server, contender: Contender, kind: str, script: Path, concurrency: int,
                 round_number: int, plan: Plan) -> dict:  # fmt: skip
    """Warm up, then one measured wrk run, with the server's CPU time read before and after."""
    path = contender.one_row_path if kind == "one_row" else contender.batch_path
    url = server.url + path
    # Warm up with our own load generator: wrk counts only whole seconds.
    body = script.with_suffix(".json").read_bytes()
    headers = {"Content-Type": "application/json", **contender.headers}
    run_load(url, method="POST", data=body, headers=headers, concurrency=min(concurrency, 8),
             max_requests=10_000, max_seconds=plan.warmup_seconds)  # fmt: skip
    cpu_before = server_cpu_seconds(server.pid)
    numbers = run_wrk(url, script, concurrency, plan.seconds)
    cpu_after = server_cpu_seconds(server.pid)
    seconds = numbers["duration_us"] / 1e6
    answered = numbers["requests"]
    rows = 1 if kind == "one_row" else BATCH_ROWS
    ok = answered - numbers["non_2xx"]
    return {
        "contender": contender.name,
        "kind": kind,
        "rows_per_request": rows,
        "concurrency": concurrency,
        "round": round_number,
        "requests": answered,
        "duration_s": round(seconds, 3),
        "requests_per_s": answered / seconds,
        "predictions_per_s": ok * rows / seconds,
        "p50_ms": numbers["p50_us"] / 1e3,
        "p90_ms": numbers["p90_us"] / 1e3,
        "p99_ms": numbers["p99_us"] / 1e3,
        "mean_ms": numbers["mean_us"] / 1e3,
        "max_ms": numbers["max_us"] / 1e3,
        "errors": {key: numbers[key] for key in
                   ("connect_errors", "read_errors", "write_errors", "non_2xx", "timeouts")},
        "server_cpu_s": cpu_after - cpu_before,
        "cpu_us_per_request": (cpu_after - cpu_before) / answered * 1e6 if answered else None,
    }  # fmt: skip


# ---- the in-process floor ---------------------------------------------------------------------


def in_process_floor(loaded: LoadedModel, workload: Workload, plan: Plan) -> list[dict]:
    """The CPU cost of the prediction alone, without any server: per call for one row, and per row
    within one call on a 1,000-row batch. The best of several repeats (the least disturbed)."""
    import warnings

    import pandas as pd

    pipeline = loaded.pipeline
    one, batch = workload.batch_rows[:1], workload.batch_rows
    one_dict, batch_dicts = as_features(one[0]), [as_features(row) for row in batch]

    def best_seconds(call, number: int) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the DataFrame rows warn: names unused
            # CPU time of this process, not wall time: on a shared machine the wall clock also
            # counts the time other programs held the core.
            timer = timeit.Timer(call, timer=time.process_time)
            return min(timer.repeat(number=number, repeat=plan.floor_repeats)) / number

    def row(name, one_call, batch_call) -> dict:
        return {"name": name, "per_call_us": best_seconds(one_call, plan.floor_calls) * 1e6,
                "per_row_in_batch_us": best_seconds(batch_call, 3) * 1e6 / BATCH_ROWS,
                "skipped": None}  # fmt: skip

    rows = [
        row("scikit-learn, numpy input", lambda: pipeline.predict_proba(one),
            lambda: pipeline.predict_proba(batch)),
        row("scikit-learn, DataFrame built from the JSON rows",
            lambda: pipeline.predict_proba(pd.DataFrame([one_dict], columns=FEATURE_NAMES)),
            lambda: pipeline.predict_proba(pd.DataFrame(batch_dicts, columns=FEATURE_NAMES))),
    ]  # fmt: skip
    try:
        from examples.model.onnx_runtime import OnnxPredictor
    except ImportError as error:
        rows.append({"name": "onnxruntime", "per_call_us": None, "per_row_in_batch_us": None,
                     "skipped": f"examples/model/onnx_runtime.py is not usable yet: {error}"})  # fmt: skip
    else:
        predictor = OnnxPredictor.from_pipeline(pipeline)
        rows.append(row("onnxruntime (OnnxPredictor, examples/model/onnx_runtime.py)", lambda: predictor.predict_proba(one),
                        lambda: predictor.predict_proba(batch)))  # fmt: skip
    return rows


# ---- the run ----------------------------------------------------------------------------------


def log(message: str, began: float) -> None:
    print(f"[{time.monotonic() - began:6.1f} s] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def running_servers(everyone: list[Contender], began: float):
    """Start every contender at once (their start-ups overlap), yield {name: server}, and stop
    them all at once when the block ends, whatever happened inside it."""

    def start(contender: Contender):
        manager = run_command(contender.command, env=contender.env, cwd=REPO_ROOT,
                              ready_path=contender.ready_path,
                              timeout=contender.start_timeout)  # fmt: skip
        return manager, manager.__enter__()

    waiting = [c for c in everyone if not c.skipped]
    futures, managers, servers = [], [], {}
    try:
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(waiting))) as pool:
                futures = [(contender, pool.submit(start, contender)) for contender in waiting]
        finally:
            for contender, future in futures:
                try:
                    manager, server = future.result()
                except Exception as error:  # a server that did not start is reported, not fatal
                    contender.skipped = f"did not start: {str(error)[:500]}"
                    log(f"{contender.name} {contender.skipped}", began)
                    continue
                managers.append(manager)
                servers[contender.name] = server
        log(f"{len(servers)} servers ready", began)
        yield servers
    finally:
        with ThreadPoolExecutor(max_workers=max(1, len(managers))) as pool:
            list(pool.map(lambda manager: manager.__exit__(None, None, None), managers))
        log("all servers stopped", began)


def measure_contenders(plan: Plan, scratch: Path, everyone: list[Contender], workload: Workload,
                       began: float) -> list[dict]:  # fmt: skip
    """Start every contender once, check its answers, then measure round 1 of every contender,
    then round 2, ...: slow drifts of the shared machine spread over all contenders instead of
    falling on one. Every server is stopped before this returns."""
    scripts = {}
    for index, contender in enumerate(everyone):
        scripts[contender.name, "one_row"] = write_wrk_script(
            scratch, f"c{index}-one", workload.one_row_body, contender.headers
        )
        scripts[contender.name, "batch"] = write_wrk_script(
            scratch, f"c{index}-batch", workload.batch_body, contender.headers)  # fmt: skip
    cells: list[dict] = []
    with running_servers(everyone, began) as servers:
        for contender in everyone:
            if contender.name in servers:
                try:
                    check_answers(contender, servers[contender.name].url, workload)
                except (WrongAnswer, requests.RequestException) as error:
                    contender.skipped = f"wrong answers: {str(error)[:500]}"
        for round_number in range(1, plan.rounds + 1):
            for contender in everyone:
                if contender.skipped or contender.leaves_out:  # variants: measured in pairs below
                    continue
                log(f"round {round_number}: {contender.name}", began)
                server = servers[contender.name]
                try:
                    for kind, path, levels in (
                        ("one_row", contender.one_row_path, plan.one_row_concurrency),
                        ("batch", contender.batch_path, plan.batch_concurrency),
                    ):
                        for concurrency in levels if path else ():
                            script = scripts[contender.name, kind]
                            cell = measure_cell(server, contender, kind, script,
                                                concurrency, round_number, plan)  # fmt: skip
                            if cell["cpu_us_per_request"] is None:
                                # No request finished within the cell (a very slow batch on a
                                # busy machine): there is nothing to measure, so no row.
                                log(f"  {contender.name}, {kind}, concurrency {concurrency}: "
                                    "no request finished; cell left out", began)  # fmt: skip
                                continue
                            cells.append(cell)
                except (RuntimeError, subprocess.SubprocessError) as error:
                    contender.skipped = f"failed in round {round_number}: {str(error)[:500]}"
                    log(f"  skipped: {contender.skipped}", began)
                    cells = [cell for cell in cells if cell["contender"] != contender.name]
        cells += measure_headline_rounds(plan, everyone, servers, scripts, began)
        cells += measure_pairs(plan, everyone, servers, scripts, began)
    return cells


def measure_headline_rounds(plan: Plan, everyone: list[Contender], servers: dict, scripts: dict,
                            began: float) -> list[dict]:  # fmt: skip
    """The cells every verdict reads, `plan.headline_rounds` more times, numbered after the full
    rounds: one-row requests at the headline concurrency for every contender (and the reference
    with every production feature left out), and batches for the reference and the bare endpoint."""
    level, batch_level, cells = plan.headline_concurrency, max(plan.batch_concurrency), []
    batch_names = {REFERENCE, "bare batch"}
    for round_number in range(plan.rounds + 1, plan.rounds + plan.headline_rounds + 1):
        for contender in everyone:
            if contender.skipped or (contender.leaves_out and contender.name != CORE):
                continue
            log(f"headline round {round_number}: {contender.name}", began)
            wanted = [("one_row", level)] if contender.one_row_path else []
            if contender.name in batch_names and contender.batch_path:
                wanted.append(("batch", batch_level))
            try:
                for kind, concurrency in wanted:
                    cell = measure_cell(servers[contender.name], contender, kind,
                                        scripts[contender.name, kind], concurrency, round_number,
                                        plan)  # fmt: skip
                    if cell["cpu_us_per_request"] is not None:
                        cells.append(cell)
            except (RuntimeError, subprocess.SubprocessError) as error:
                contender.skipped = f"failed in round {round_number}: {str(error)[:500]}"
                log(f"  skipped: {contender.skipped}", began)
                cells = [cell for cell in cells if cell["contender"] != contender.name]
    return cells


def measure_pairs(plan: Plan, everyone: list[Contender], servers: dict, scripts: dict,
                  began: float) -> list[dict]:  # fmt: skip
    """Each variant of the reference, `plan.pairs` times, each time beside a cell of the full
    reference (first before it, then after it, alternately): a variant's cell carries its pair's
    full-reference CPU (`paired_all_on_cpu_us`). Short cells, so that both of a pair see the same
    machine."""
    reference = next((c for c in everyone if c.name == REFERENCE and not c.skipped), None)
    variants = [c for c in everyone if c.leaves_out and not c.skipped]
    if reference is None or not variants:
        return []
    short = replace(plan, seconds=plan.pair_seconds, warmup_seconds=min(plan.warmup_seconds, 0.5))
    level, cells = plan.headline_concurrency, []

    def measure(contender: Contender, pair: int) -> dict:
        script = scripts[contender.name, "one_row"]
        return measure_cell(
            servers[contender.name], contender, "one_row", script, level, pair, short
        )

    for pair in range(1, plan.pairs + 1):
        for variant in variants:
            if variant.skipped:
                continue
            log(f"pair {pair}: {variant.name}", began)
            # Alternate which side goes first (ABBA), so that a steady drift of the machine does
            # not bias every difference the same way.
            results: dict[str, dict] = {}
            order = ["base", "mine"] if pair % 2 == 1 else ["mine", "base"]
            for side in order:
                try:
                    results[side] = measure(reference if side == "base" else variant, pair)
                except (RuntimeError, subprocess.SubprocessError) as error:
                    if side == "base":  # the full reference failed: no pair can be formed
                        log(
                            f"  the full reference failed; pairs stopped: {str(error)[:500]}", began
                        )
                        return cells
                    variant.skipped = f"failed in pair {pair}: {str(error)[:500]}"
                    cells = [cell for cell in cells if cell["contender"] != variant.name]
                    break
            if variant.skipped:
                continue
            base, mine = results["base"], results["mine"]
            if base["cpu_us_per_request"] is not None and mine["cpu_us_per_request"] is not None:
                cells.append({**mine, "round": None, "pair": pair,
                              "paired_all_on_cpu_us": base["cpu_us_per_request"]})  # fmt: skip
    return cells


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


SUMMARY_FIELDS = ("requests_per_s", "predictions_per_s", "p50_ms", "p99_ms", "cpu_us_per_request")


def summarize_cells(cells: list[dict]) -> list[dict]:
    """One row per (contender, kind, concurrency): median, min and max over the rounds."""
    groups: dict[tuple, list[dict]] = {}
    for cell in cells:
        groups.setdefault((cell["contender"], cell["kind"], cell["concurrency"]), []).append(cell)
    return [
        {"contender": name, "kind": kind, "concurrency": concurrency, "rounds": len(members),
         **{key: spread([m[key] for m in members]) for key in SUMMARY_FIELDS}}
        for (name, kind, concurrency), members in groups.items()
    ]  # fmt: skip


REFERENCE = "reference (all features on)"


CORE = "reference without every production feature"


def per_round(cells: list[dict], contender: str, kind: str, concurrency: int) -> dict[int, dict]:
    """A contender's cells by round (the paired cells of the feature costs have no round)."""
    return {c["round"]: c for c in cells if c["round"] is not None
            and (c["contender"], c["kind"], c["concurrency"]) == (contender, kind, concurrency)}  # fmt: skip


def paired_ratio(cells, kind, concurrency, key, other, mine_name=REFERENCE) -> list[float]:
    """The reference's figure over the other contender's, round by round (the rounds are paired:
    both ran within the same round, a few seconds apart)."""
    mine, theirs = (
        per_round(cells, mine_name, kind, concurrency),
        per_round(cells, other, kind, concurrency),
    )
    return [mine[r][key] / theirs[r][key] for r in sorted(mine.keys() & theirs.keys())
            if theirs[r][key]]  # fmt: skip


def ratios(cells: list[dict], plan: Plan) -> list[dict]:
    """The ratios the Benchmarks issue asks for, each with its target."""
    one = plan.headline_concurrency
    batch = max(plan.batch_concurrency)
    wanted = [
        (f"CPU per one-row request, reference without every production feature / ceiling "
         f"(concurrency {one})", "<=", CORE_TARGET,
         paired_ratio(cells, "one_row", one, "cpu_us_per_request", "ceiling", CORE)),
        *((f"CPU per one-row request, reference / {name} (concurrency {one})", "<", 1.0,
           paired_ratio(cells, "one_row", one, "cpu_us_per_request", name))
          for name in ("FastAPI peer", *PEER_NAMES)),
        (f"CPU per one-row request, reference / naive under gunicorn (concurrency {one})", "<=",
         1 / 3, paired_ratio(cells, "one_row", one, "cpu_us_per_request", "naive (gunicorn)")),
        (f"1,000-row batch predictions/s, reference / bare batch (concurrency {batch})", ">=", 0.8,
         paired_ratio(cells, "batch", batch, "predictions_per_s", "bare batch")),
        (f"p99 / p50 latency of the reference at concurrency {one}", "<=", 2.0,
         [c["p99_ms"] / c["p50_ms"] for c in per_round(cells, REFERENCE, "one_row", one).values()
          if c["p50_ms"]]),
    ]  # fmt: skip
    out = []
    for name, sense, target, values in wanted:
        if not values:
            out.append({"name": name, "target": f"{sense} {target:.3g}", "median": None,
                        "min": None, "max": None, "rounds": 0, "interval": None,
                        "verdict": None, "note": "not measured (see the skipped contenders)"})  # fmt: skip
            continue
        interval = verdicts.ratio_interval(values)
        out.append({"name": name, "target": f"{sense} {target:.3g}", **spread(values),
                    "rounds": len(values), "interval": list(interval) if interval else None,
                    "verdict": verdicts.verdict(interval, sense, target), "note": None})  # fmt: skip
    return out


def feature_costs(cells: list[dict], plan: Plan, everyone: list[Contender]) -> dict:
    """What leaving each production feature out saves, in server CPU per one-row request at the
    headline concurrency: the full reference's figure minus the variant's, pair by pair. Also what
    the ceiling target allows, beside the reference with every feature left out."""
    level = plan.headline_concurrency
    ceiling = [
        c["cpu_us_per_request"] for c in per_round(cells, "ceiling", "one_row", level).values()
    ]
    rows = []
    for contender in everyone:
        paired = [
            c for c in cells if c["contender"] == contender.name and "paired_all_on_cpu_us" in c
        ]
        if not contender.leaves_out or not paired:
            continue
        rows.append({
            "name": contender.name, "leaves_out": list(contender.leaves_out), "pairs": len(paired),
            "cpu_us_per_request": spread([c["cpu_us_per_request"] for c in paired]),
            "all_on_us": spread([c["paired_all_on_cpu_us"] for c in paired]),
            "saved_us": spread(saved := [c["paired_all_on_cpu_us"] - c["cpu_us_per_request"]
                                         for c in paired]),
            "saved_interval_us": list(verdicts.t_interval(saved) or ()) or None,
        })  # fmt: skip
    return {
        "concurrency": level,
        "seconds_per_cell": plan.pair_seconds,
        "ceiling_us": spread(ceiling) if ceiling else None,
        "ceiling_target_us": CORE_TARGET * statistics.median(ceiling) if ceiling else None,
        "rows": rows,
    }


def package_version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def describe_machine() -> dict:
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run([WRK, "--version"], capture_output=True, text=True).stdout
    return {
        "cpu_model": cpu_model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "libraries": {name: package_version(name) for name in LIBRARIES},
        "wrk": wrk_version.splitlines()[0].strip() if wrk_version else None,
    }


def run(plan: Plan, output_dir: Path) -> dict:
    """Measure everything the plan asks for and write the three result files; return the results."""
    began = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = describe_machine()
    loaded = ensure_model()
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_name:
        scratch = Path(scratch_name)
        pickle_path = scratch / "naive-model.pkl"
        pickle_path.write_bytes(pickle.dumps(loaded.pipeline))
        model_dir = default_model_dir()
        workload = make_workload(loaded)
        everyone = contenders(scratch, model_dir, pickle_path, plan)
        cells = measure_contenders(plan, scratch, everyone, workload, began)
    log("in-process floor", began)
    floor = in_process_floor(loaded, workload, plan)
    results = {
        "schema_version": SCHEMA_VERSION,
        "mode": plan.mode,
        "started_at": started_at,
        "elapsed_s": None,
        "machine": machine,
        "plan": {"seconds_per_cell": plan.seconds, "warmup_seconds": plan.warmup_seconds,
                 "rounds": plan.rounds, "headline_rounds": plan.headline_rounds,
                 "workers": WORKERS, "batch_rows": BATCH_ROWS,
                 "one_row_concurrency": list(plan.one_row_concurrency),
                 "batch_concurrency": list(plan.batch_concurrency)},
        "contenders": [{"name": c.name, "description": c.description,
                        "command": [str(part) for part in c.command],
                        "env": {k: v for k, v in c.env.items() if k.startswith("SERVING_")
                                and "HASHES" not in k},
                        "skipped": c.skipped, "leaves_out": list(c.leaves_out)}
                       for c in everyone],
        "cells": cells,
        "summary": summarize_cells(cells),
        "in_process": floor,
        "ratios": ratios(cells, plan),
        "feature_costs": feature_costs(cells, plan, everyone),
        "peers": peers.describe(),
    }  # fmt: skip
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    write_results(results, output_dir)
    log(f"done; results in {output_dir}", began)
    return results


# ---- the result files -------------------------------------------------------------------------


def span(figures: dict | None, digits: int = 0) -> str:
    """'median (min–max)' for a table cell."""
    if not figures:
        return "–"
    return f"{figures['median']:,.{digits}f} ({figures['min']:,.{digits}f}–{figures['max']:,.{digits}f})"


def markdown_report(results: dict) -> str:
    machine, plan = results["machine"], results["plan"]
    lines = [
        f"# Benchmark results ({results['mode']} run, {results['started_at']})",
        "",
        f"{machine['cpu_model']}, {machine['logical_cores']} logical cores, "
        f"load average {machine['load_average_at_start'][0]} at the start (a shared machine); "
        f"Python {machine['python']}; {machine['wrk']}. Every server ran {plan['workers']} "
        f"workers on 127.0.0.1; each cell is {plan['seconds_per_cell']:g} s of wrk after "
        f"{plan['warmup_seconds']:g} s of warm-up, in {plan['rounds']} interleaved rounds of every "
        f"cell and {plan.get('headline_rounds', 0)} more rounds of the cells the ratios read. "
        "Figures are the median of the rounds with (min–max). Requests per second are noisy "
        "here; the server's CPU time per request is the stable figure.",
        "",
        "## Ratios for the reference service (all features on unless said), with verdicts",
        "",
        "Each ratio is computed round by round (both sides measured in the same round) and the "
        f"rounds are treated as independent. The interval is a {verdicts.CONFIDENCE:.0%} t "
        "interval on the logarithms of the per-round ratios (the geometric mean's). A target is "
        "**met** only when the whole interval lies on its side, **missed** when the whole "
        "interval lies on the other side, and **undecided** otherwise (always with fewer than "
        f"{verdicts.MIN_ROUNDS} rounds).",
        "",
        "Latencies come from wrk, a closed loop of connections: during a stall it sends less, so "
        "its p99 understates what independently arriving users would see (chapter 17).",
        "",
        "| ratio | target | median of rounds | min–max | rounds | 95 % interval (geometric mean) "
        "| verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for ratio in results["ratios"]:
        if ratio["median"] is None:
            lines.append(f"| {ratio['name']} | {ratio['target']} | – | – | 0 | – "
                         f"| {ratio['note']} |")  # fmt: skip
        else:
            low_high = ratio.get("interval")
            shown = f"{low_high[0]:.2f}–{low_high[1]:.2f}" if low_high else "–"
            lines.append(f"| {ratio['name']} | {ratio['target']} | {ratio['median']:.2f} | "
                         f"{ratio['min']:.2f}–{ratio['max']:.2f} | {ratio.get('rounds', '–')} "
                         f"| {shown} | **{ratio.get('verdict')}** |")  # fmt: skip
    for kind, title in (("one_row", "One-row requests"), ("batch", "1,000-row batches")):
        lines += ["", f"## {title}", "",
                  "| contender | concurrency | requests/s | predictions/s | p50 ms | p99 ms "
                  "| server CPU µs/request |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for row in results["summary"]:
            if row["kind"] == kind and row["contender"] not in variant_names(results):
                lines.append(
                    f"| {row['contender']} | {row['concurrency']} | {span(row['requests_per_s'])} "
                    f"| {span(row['predictions_per_s'])} | {span(row['p50_ms'], 2)} "
                    f"| {span(row['p99_ms'], 2)} | {span(row['cpu_us_per_request'])} |"
                )
    lines += feature_cost_lines(results.get("feature_costs"))
    lines += ["", "## The in-process floor (no server; CPU time, best of several repeats)", "",
              "| prediction | CPU µs per call, one row | CPU µs per row, 1,000-row batch |",
              "|---|---|---|"]  # fmt: skip
    for row in results["in_process"]:
        if row["skipped"]:
            lines.append(f"| {row['name']} | – | – ({row['skipped']}) |")
        else:
            lines.append(f"| {row['name']} | {row['per_call_us']:.1f} "
                         f"| {row['per_row_in_batch_us']:.2f} |")  # fmt: skip
    troubled = [c for c in results["cells"] if any(c["errors"].values())]
    if troubled:
        lines += ["", "## Cells with errors (wrk's counts)", ""]
        lines += [f"- {c['contender']}, {c['kind']}, concurrency {c['concurrency']}, round "
                  f"{c['round']}: {c['errors']}" for c in troubled]  # fmt: skip
    skipped = [c for c in results["contenders"] if c["skipped"]]
    if skipped:
        lines += ["", "## Not measured", ""]
        lines += [f"- {c['name']}: {c['skipped']}" for c in skipped]
    lines += ["", f"Whole run: {results['elapsed_s']:.0f} s. Raw figures: latest.json.", ""]
    return "\n".join(lines)


def variant_names(results: dict) -> set[str]:
    """The reference's variants with features left out: reported in their own section only."""
    return {c["name"] for c in results["contenders"] if c.get("leaves_out")}


def feature_cost_lines(costs: dict | None) -> list[str]:
    """The section on what each production feature costs, or nothing if none was measured."""
    if not costs or not costs["rows"]:
        return []
    lines = ["", "## What each production feature costs under load", "",
             "The reference again with production features left out of `create_app`: one-row "
             f"requests at concurrency {costs['concurrency']}, {costs['seconds_per_cell']} s cells, "
             "each beside a cell of the full reference (in alternating order). *Saves* is the full reference's CPU "
             "per request minus the variant's, pair by pair. The interval is a "
             f"{verdicts.CONFIDENCE:.0%} t interval over the pairs, treated as independent; "
             "where it includes 0, this run cannot tell the feature's cost from the machine's "
             "noise.",
             "", "| left out | pairs | full reference, CPU µs/request | without it | saves "
             "| saves, 95 % interval |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in costs["rows"]:
        left = row["name"].removeprefix("reference without ")
        interval = row.get("saved_interval_us")
        shown = f"{interval[0]:,.0f} to {interval[1]:,.0f}" if interval else "–"
        lines.append(f"| {left} | {row['pairs']} | {span(row['all_on_us'])} "
                     f"| {span(row['cpu_us_per_request'])} | {span(row['saved_us'])} "
                     f"| {shown} |")  # fmt: skip
    if costs["ceiling_target_us"] is not None:
        lines += ["", f"The core target allows {CORE_TARGET} × the ceiling's "
                  f"{span(costs['ceiling_us'])} "
                  f"µs, about {costs['ceiling_target_us']:,.0f} µs per request."]  # fmt: skip
        core = next((r for r in costs["rows"] if set(r["leaves_out"]) == set(EVERY_FEATURE)), None)
        if core is not None:
            ratio = core["cpu_us_per_request"]["median"] / costs["ceiling_us"]["median"]
            lines[-1] += (f" Without any production feature the reference takes "
                          f"{core['cpu_us_per_request']['median']:,.0f} µs, {ratio:.2f} × the "
                          f"ceiling; the features add {core['saved_us']['median']:,.0f} µs.")  # fmt: skip
    return lines


def plot_latency(results: dict, path: Path) -> None:
    """For one-row requests: p50 and p99 latency and requests per second against concurrency, and
    the server's CPU time per request (the stable figure) for each contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    figure, (latency_axes, rate_axes, cpu_axes) = plt.subplots(1, 3, figsize=(15, 4.4))
    variants = variant_names(results)
    rows = [
        r for r in results["summary"] if r["kind"] == "one_row" and r["contender"] not in variants
    ]
    names = list(dict.fromkeys(row["contender"] for row in rows))
    levels_run = results["plan"]["one_row_concurrency"]
    cpu_medians = []
    for name in names:
        mine = sorted((r for r in rows if r["contender"] == name), key=lambda r: r["concurrency"])
        levels = [r["concurrency"] for r in mine]
        (line,) = latency_axes.plot(levels, [r["p50_ms"]["median"] for r in mine], "o-", label=name)
        latency_axes.plot(
            levels, [r["p99_ms"]["median"] for r in mine], "s--", color=line.get_color()
        )
        rate_axes.plot(levels, [r["requests_per_s"]["median"] for r in mine], "o-", label=name)
        cpu_medians.append(statistics.median(r["cpu_us_per_request"]["median"] for r in mine))
    latency_axes.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent connections",
        ylabel="latency (ms): p50 solid, p99 dashed",
        title="Latency",
    )
    rate_axes.set(xscale="log", xlabel="concurrent connections", ylabel="requests per second",
                  title="Throughput")  # fmt: skip
    for axes in (latency_axes, rate_axes):
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xticks(levels_run, [str(level) for level in levels_run])
        axes.grid(alpha=0.3)
    rate_axes.legend(fontsize=8)
    colours = [line.get_color() for line in rate_axes.get_lines()]
    cpu_axes.barh(names[::-1], cpu_medians[::-1], color=colours[::-1])
    cpu_axes.set(xlabel="server CPU µs per request (median of levels)",
                 title="CPU per one-row request")  # fmt: skip
    cpu_axes.tick_params(axis="y", labelsize=8)
    cpu_axes.grid(alpha=0.3, axis="x")
    figure.suptitle(f"One-row requests, {results['mode']} run {results['started_at']}, "
                    f"{results['plan']['workers']} workers per server", fontsize=9)  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_results(results: dict, output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (output_dir / "latest.md").write_text(markdown_report(results))
    plot_latency(results, output_dir / "latency.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer cells (for CI)")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR,
                        help="where latest.json, latest.md and latency.png go")  # fmt: skip
    arguments = parser.parse_args(argv)
    results = run(QUICK if arguments.quick else FULL, arguments.output_dir)
    print((arguments.output_dir / "latest.md").read_text())
    return 0 if complete(results) else 1


def complete(results: dict) -> bool:
    """Whether every headline ratio was computed. A check of completeness, never of speed: a run
    that priced nothing of the reference must not pass as a benchmark."""
    missing = [row["name"] for row in results["ratios"] if row["median"] is None]
    skipped = [f"{c['name']}: {c['skipped']}" for c in results["contenders"] if c["skipped"]]
    for line in (*(f"ratio not computed: {name}" for name in missing),
                 *(f"contender not measured: {why}" for why in skipped)):  # fmt: skip
        print(line, file=sys.stderr)
    return bool(results["cells"]) and not missing and not skipped


if __name__ == "__main__":
    sys.exit(main())
