"""Where the reference service spends its time per request: cProfile, timed with
the process's CPU clock, runs in each gunicorn worker while wrk loads it.

    python -m benchmarks.profile_reference [--seconds 15] [--features on|off] [--batch]

A small gunicorn config in a temporary folder runs the service's own gunicorn.conf.py and adds two
hooks: start a profiler in each worker after the fork, write its statistics when the worker
exits. (py-spy, here, sampled only the master process, never the forked workers.)
Everything runs on 127.0.0.1 and is stopped before the table is printed.
"""

from __future__ import annotations

import argparse
import collections
import pstats
import sys
import tempfile
from pathlib import Path

from benchmarks.cells import run_wrk, write_wrk_script
from benchmarks.contenders import reference_feature_settings
from benchmarks.plan import WORKERS
from benchmarks.workload import make_workload
from examples.model import default_model_dir, ensure_model
from examples.toolbox import REPO_ROOT, run_command

PROFILING_CONFIG = """\
import os, runpy
globals().update({k: v for k, v in runpy.run_path(REFERENCE_CONFIG).items()
                  if not k.startswith("__")})
_reference_post_fork = globals().get("post_fork")


def post_fork(server, worker):
    import cProfile, time
    if _reference_post_fork:
        _reference_post_fork(server, worker)
    worker.profiler = cProfile.Profile(time.process_time)
    worker.profiler.enable()


def worker_exit(server, worker):
    worker.profiler.disable()
    worker.profiler.dump_stats(os.path.join(OUTPUT_DIR, f"worker-{os.getpid()}.prof"))
"""
# Libraries, by a piece of their file path, for grouping CPU time spent in their own code.
LIBRARIES = [
    ("scikit-learn", "/sklearn/"), ("numpy", "/numpy/"), ("scipy", "/scipy/"),
    ("SQLAlchemy", "/sqlalchemy/"), ("sqlite3", "sqlite3"), ("pydantic", "pydantic"),
    ("prometheus_client", "/prometheus_client/"), ("Flask", "/flask/"),
    ("werkzeug", "/werkzeug/"), ("gunicorn", "/gunicorn/"), ("json", "/json/"),
    ("logging", "/logging/"), ("the service (examples/serving)", "examples/serving/"),
    ("the model package (examples/model)", "examples/model/"),
]  # fmt: skip


def library_of(filename: str, function: str) -> str:
    for name, marker in LIBRARIES:
        if marker in filename or marker in function:
            return name
    if filename == "~":  # a built-in: charge it to what it is
        if "sqlite3" in function:
            return "sqlite3"
        if "socket" in function or "select" in function:
            return "sockets (system calls)"
        return "Python built-ins (" + function.split(" ")[-1].strip("'>{}").split(".")[0] + ")"
    return "other Python (" + Path(filename).name + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--features", choices=["on", "off"], default="on")
    parser.add_argument("--batch", action="store_true", help="profile 1,000-row batches")
    arguments = parser.parse_args(argv)
    workload = make_workload(ensure_model())
    with tempfile.TemporaryDirectory(prefix="profile-") as scratch_name:
        scratch = Path(scratch_name)
        on, off, headers = reference_feature_settings(scratch)
        env = {**(on if arguments.features == "on" else off),
               "SERVING_MODEL_DIR": str(default_model_dir()), "SERVING_WORKERS": str(WORKERS)}  # fmt: skip
        if arguments.features == "off":
            headers = {}
        config = scratch / "profiling.conf.py"
        config.write_text(
            PROFILING_CONFIG.replace(
                "REFERENCE_CONFIG", repr(str(REPO_ROOT / "examples/serving/gunicorn.conf.py"))
            ).replace("OUTPUT_DIR", repr(str(scratch)))
        )
        command = [sys.executable, "-m", "gunicorn", "--config", str(config), "--bind",
                   "127.0.0.1:{port}", "--workers", str(WORKERS), "examples.serving.wsgi:app"]  # fmt: skip
        body = workload.batch_body if arguments.batch else workload.one_row_body
        script = write_wrk_script(scratch, "load", body, headers)
        path = "/v1/predict/batch" if arguments.batch else "/v1/predict"
        with run_command(command, env=env, cwd=REPO_ROOT, ready_path="/healthz", timeout=180,
                         grace=30) as server:  # fmt: skip
            numbers = run_wrk(server.url + path, script, 2 if arguments.batch else 8,
                              arguments.seconds)  # fmt: skip
        stats = None
        for dump in scratch.glob("worker-*.prof"):
            stats = pstats.Stats(str(dump)) if stats is None else stats.add(str(dump))
    if stats is None:
        print("no profile was written by the workers")
        return 1
    requests_done = numbers["requests"]
    own: collections.Counter = collections.Counter()
    ours = []
    for (filename, _, function), (_, _, tottime, cumtime, _) in stats.stats.items():
        own[library_of(filename, function)] += tottime
        if "examples/serving/" in filename:
            ours.append((cumtime, f"{function} ({Path(filename).name})"))
    total = sum(own.values())
    print(f"reference service, features {arguments.features}: {requests_done} "
          f"{'batch ' if arguments.batch else ''}requests in {arguments.seconds} s; "
          f"~{total / requests_done * 1e6:,.0f} µs of worker CPU per request under cProfile "
          "(the profiler itself adds to every Python call)")  # fmt: skip
    print("\nCPU in each library's own code (tottime):")
    for name, seconds in own.most_common(15):
        print(
            f"  {100 * seconds / total:5.1f} %  ~{seconds / requests_done * 1e6:8,.0f} µs/request  {name}"
        )
    print("\nthe service's functions, CPU including what they call (cumtime), top 20:")
    for seconds, name in sorted(ours, reverse=True)[:20]:
        print(
            f"  {100 * seconds / total:5.1f} %  ~{seconds / requests_done * 1e6:8,.0f} µs/request  {name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
