"""BLAS thread oversubscription, measured: several processes at once, each multiplying matrices with
numpy, with the BLAS library's thread pool left at its default or limited to one thread.

    python -m examples.production.demos blas-threads --processes 2 --size 600 --repeats 10

Each process is started with the limit in its environment (OMP_NUM_THREADS and friends must be
set before numpy loads, exactly as gunicorn.conf.py does for the service's workers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Bounds, so that a demo stays a demo on a shared machine.
LARGEST_SIZE = 2_000
MOST_PROCESSES = 8
MOST_REPEATS = 100
PROGRAM = ("-m", "examples.production.demos", "blas-threads")  # its __main__.py


def multiply_repeatedly(size: int, repeats: int) -> dict:
    """In this process: time `repeats` products of two size x size matrices; report the BLAS threads."""
    import numpy as np
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    a @ b  # the first product starts the BLAS threads; keep it out of the timing
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    seconds = time.perf_counter() - started
    blas_threads = sum(
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    )
    return {"seconds": seconds, "blas_threads": blas_threads}


def run_processes(processes: int, size: int, repeats: int, blas_threads: int | None) -> dict:
    """Start `processes` Python processes at once, each doing the same products; wait for all.

    `blas_threads=None` leaves the library's default (one thread per core); a number sets the
    thread variables to it. Returns the wall time of the whole group and what each process saw.
    """
    if not 1 <= processes <= MOST_PROCESSES:
        raise ValueError(f"processes must be between 1 and {MOST_PROCESSES}")
    if not 1 <= size <= LARGEST_SIZE or not 1 <= repeats <= MOST_REPEATS:
        raise ValueError(f"size must be 1..{LARGEST_SIZE} and repeats 1..{MOST_REPEATS}")
    env = {key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES}
    if blas_threads is not None:
        env.update({variable: str(blas_threads) for variable in THREAD_VARIABLES})
    command = [sys.executable, *PROGRAM, "--worker", "--size", str(size),
               "--repeats", str(repeats)]  # fmt: skip
    started = time.perf_counter()
    children = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own module
        for _ in range(processes)
    ]
    reports = [json.loads(child.communicate(timeout=300)[0]) for child in children]
    wall = time.perf_counter() - started
    return {"wall_seconds": wall, "processes": reports}
