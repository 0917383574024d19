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

The harness in parts: plan.py (how long, how many, the targets), contenders.py (what is started and
how), workload.py (what is sent and what must come back), cells.py and measurement.py (one wrk
cell; the rounds, the headline rounds and the pairs; the in-process floor), instructions.py (the
callgrind count), summary.py (ratios, verdicts, feature costs) and report.py (the files). This
module runs them in order.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path

import psutil

from benchmarks import instructions, peers
from benchmarks.cells import WRK
from benchmarks.contenders import contenders
from benchmarks.measurement import in_process_floor, log, measure_contenders
from benchmarks.plan import BATCH_ROWS, FULL, QUICK, WORKERS, Plan
from benchmarks.report import write_results
from benchmarks.summary import feature_costs, ratios, summarize_cells
from benchmarks.workload import make_workload
from examples.model import default_model_dir, ensure_model
from examples.toolbox import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
SCHEMA_VERSION = 1
LIBRARIES = [
    "flask", "werkzeug", "gunicorn", "fastapi", "uvicorn", "uvloop", "httptools", "pydantic",
    "scikit-learn", "numpy", "pandas", "onnxruntime",
]  # fmt: skip


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


def wait_for(counting, began: float) -> None:
    """Block until the instruction counts are done (before the first measured cell)."""
    if not counting.done():
        log("waiting for the instruction counts (callgrind) to finish", began)
    counting.result()
    log("instruction counts done", began)


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
        # Instructions are counted while the servers start: a count does not depend on the
        # machine's load, but it must end before the first cell, whose CPU time does.
        with ThreadPoolExecutor(max_workers=1) as background:
            counting = background.submit(
                instructions.measure, plan.instruction_runs, plan.instruction_requests
            )
            cells = measure_contenders(plan, scratch, everyone, workload, began,
                                       before_cells=lambda: wait_for(counting, began))  # fmt: skip
            counted = counting.result()
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
                 "pairs": plan.pairs, "pair_seconds": plan.pair_seconds,
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
        "instructions": counted,
        "peers": peers.describe(),
    }  # fmt: skip
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    write_results(results, output_dir)
    log(f"done; results in {output_dir}", began)
    return results


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
