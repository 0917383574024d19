"""Instructions per one-row request, counted by valgrind's callgrind: a figure that does not move
with the machine's load, beside the CPU time per request, which does.

    python -m benchmarks.instructions [--runs 3] [--requests 300]

One process builds the reference service twice, with every production feature left out (the core)
and with every feature on, and sends one-row requests to each through Flask's test client: no
sockets and no gunicorn, so the count is the service's own work per request. The process starts
with callgrind's instrumentation off (start-up runs at near native speed and is never counted) and
warms each app up; then the harness switches instrumentation on with `callgrind_control`. Callgrind
zeroes its counters whenever the process enters one marker function and writes them to a file
whenever it enters another, so each file holds the instructions of exactly the counted requests.
The markers are the C functions behind `os.sched_get_priority_max` and `_min`, which nothing else
here calls. PYTHONHASHSEED is fixed, so that the layout of dicts and sets repeats between runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from examples.toolbox import REPO_ROOT

VALGRIND = shutil.which("valgrind")
CALLGRIND_CONTROL = shutil.which("callgrind_control")
ZERO_MARK = "os_sched_get_priority_max"  # CPython's C function behind os.sched_get_priority_max
DUMP_MARK = "os_sched_get_priority_min"
WARMUP_REQUESTS = 200
VARIANTS = ("reference without every production feature", "reference (all features on)")
KEY = "benchmark-key-not-a-secret"
RUN_TIMEOUT_S = 900


def serve_counted_requests(requests: int, ready: Path, go: Path) -> None:
    """The counted process: build both apps and warm them up, report ready, wait for the harness
    to switch instrumentation on, then send `requests` requests to each between the markers."""
    from benchmarks.plan import EVERY_FEATURE
    from benchmarks.workload import make_workload
    from examples.model import default_model_dir, ensure_model
    from examples.serving import Settings, create_app

    body = make_workload(ensure_model()).one_row_body
    on = {"auth_enabled": True, "log_level": "INFO", "rate_limit_enabled": True,
          "api_key_hashes": f"bench:{hashlib.sha256(KEY.encode()).hexdigest()}",
          "rate_limit_per_minute": 10**9, "rate_limit_burst": 10**6}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as scratch:
        clients = []
        for leave_out, changes in ((EVERY_FEATURE, {}), ((), on)):  # in the order of VARIANTS
            folder = Path(scratch) / str(len(clients))
            folder.mkdir()
            settings = Settings.isolated(folder, default_model_dir(), **changes)
            client = create_app(settings, leave_out=leave_out).test_client()
            headers = {"Content-Type": "application/json", "X-API-Key": KEY}
            for _ in range(WARMUP_REQUESTS):
                assert client.post("/v1/predict", data=body, headers=headers).status_code == 200
            clients.append((client, headers))
        ready.write_text(str(os.getpid()))
        while not go.exists():
            time.sleep(0.05)
        for client, headers in clients:
            os.sched_get_priority_max(os.SCHED_OTHER)  # callgrind zeroes its counters here
            for _ in range(requests):
                client.post("/v1/predict", data=body, headers=headers)
            os.sched_get_priority_min(os.SCHED_OTHER)  # and writes them to a file here


def dump_total(path: Path) -> int:
    """The instructions callgrind counted in one dump (its 'summary:' line)."""
    for line in path.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {path}")


def count_once(requests: int) -> dict[str, float]:
    """Instructions per request for each variant, from one process under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as folder_name:
        folder = Path(folder_name)
        ready, go, out = folder / "ready", folder / "go", folder / "callgrind.out"
        command = [VALGRIND, "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={out}", f"--zero-before={ZERO_MARK}",
                   f"--dump-before={DUMP_MARK}", sys.executable, "-m", "benchmarks.instructions",
                   "--child", str(requests), str(ready), str(go)]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(REPO_ROOT)}
        log = (folder / "child.log").open("w")
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the counted process ended early: {tail(folder)}")
                time.sleep(0.2)
            subprocess.run([CALLGRIND_CONTROL, "--instr=on", str(process.pid)], check=True,
                           capture_output=True, timeout=120)  # fmt: skip
            go.touch()
            if process.wait(timeout=max(1, deadline - time.monotonic())) != 0:
                raise RuntimeError(f"the counted process failed: {tail(folder)}")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
        dumps = [out.with_name(f"{out.name}.{number}") for number in (1, 2)]
        return {
            name: dump_total(dump) / requests for name, dump in zip(VARIANTS, dumps, strict=True)
        }


def tail(folder: Path) -> str:
    return (folder / "child.log").read_text()[-500:]


def measure(runs: int, requests: int) -> dict:
    """`runs` processes at once; per variant, the instructions per request of each, and how far
    apart they lie (max - min over the median)."""
    if not runs:
        return {"skipped": "not part of this run's plan", "runs": 0}
    if not (VALGRIND and CALLGRIND_CONTROL):
        return {"skipped": "valgrind is not installed", "runs": 0}
    began = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=runs) as pool:
            counts = list(pool.map(count_once, [requests] * runs))
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        return {"skipped": f"callgrind failed: {str(error)[:400]}", "runs": 0}
    variants = {}
    for name in VARIANTS:
        values = [count[name] for count in counts]
        middle = statistics.median(values)
        variants[name] = {"per_request": values, "median": middle,
                          "relative_spread": (max(values) - min(values)) / middle}  # fmt: skip
    return {"skipped": None, "runs": runs, "requests": requests, "warmup": WARMUP_REQUESTS,
            "pythonhashseed": 0, "seconds": round(time.monotonic() - began, 1),
            "variants": variants}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--child", nargs=3, metavar=("REQUESTS", "READY", "GO"),
                        help="(internal) be the counted process")  # fmt: skip
    arguments = parser.parse_args(argv)
    if arguments.child:
        requests, ready, go = arguments.child
        serve_counted_requests(int(requests), Path(ready), Path(go))
        return 0
    print(json.dumps(measure(arguments.runs, arguments.requests), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
