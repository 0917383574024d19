"""The measurement: every contender started at once, its answers checked, then interleaved rounds
of cells, the headline rounds the verdicts read, and the pairs that price each production feature;
and the in-process floor, the prediction's own CPU cost without a server."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import requests

from benchmarks.cells import measure_cell, write_wrk_script
from benchmarks.contenders import CORE, REFERENCE, Contender
from benchmarks.plan import BATCH_ROWS, Plan
from benchmarks.workload import Workload, WrongAnswer, as_features, check_answers
from examples.model import FEATURE_NAMES, LoadedModel
from examples.toolbox import REPO_ROOT, run_command


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
                       began: float, before_cells=None) -> list[dict]:  # fmt: skip
    """Start every contender once, check its answers, call `before_cells` (if given), then measure
    round 1 of every contender, then round 2, ...: slow drifts of the shared machine spread over
    all contenders instead of falling on one. Every server is stopped before this returns."""
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
        if before_cells is not None:
            before_cells()
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
