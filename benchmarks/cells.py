"""One cell of the benchmark: one contender, one kind of request, one concurrency, one round. A
short warm-up, then one wrk run, with the server's CPU time read from /proc before and after."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import psutil

from benchmarks.contenders import Contender
from benchmarks.plan import BATCH_ROWS, Plan
from examples.loadgen import run_load

WRK = shutil.which("wrk") or "/usr/bin/wrk"

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
