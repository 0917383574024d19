"""The benchmark harness: the quick run completes and writes well-formed results. The figures
themselves are never checked against a speed: the machine is shared and they vary."""

import json
import os
import subprocess
import sys
import uuid

import jsonschema
import psutil
import pytest

from examples.toolbox import REPO_ROOT

NUMBER = {"type": "number"}
SPREAD = {"type": "object", "required": ["median", "min", "max"],
          "properties": {"median": NUMBER, "min": NUMBER, "max": NUMBER}}  # fmt: skip
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["schema_version", "mode", "started_at", "elapsed_s", "machine", "plan",
                 "contenders", "cells", "summary", "in_process", "ratios", "feature_costs",
                 "instructions"],
    "properties": {
        "schema_version": {"const": 1},
        "mode": {"enum": ["quick", "full"]},
        "machine": {"type": "object", "required": ["cpu_model", "logical_cores", "python",
                                                   "libraries", "wrk"]},
        "contenders": {"type": "array", "minItems": 5, "items": {
            "type": "object", "required": ["name", "description", "command", "skipped"],
            "properties": {"skipped": {"type": ["string", "null"]}}}},
        "cells": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["contender", "kind", "concurrency", "round", "requests", "requests_per_s",
                         "predictions_per_s", "p50_ms", "p99_ms", "cpu_us_per_request", "errors"],
            "properties": {"kind": {"enum": ["one_row", "batch"]},
                           "round": {"type": ["integer", "null"], "minimum": 1},
                           "requests": {"type": "integer", "minimum": 1},
                           "p50_ms": NUMBER, "p99_ms": NUMBER,
                           "cpu_us_per_request": {"type": "number", "minimum": 0}}}},
        "summary": {"type": "array", "items": {
            "type": "object", "required": ["contender", "kind", "concurrency", "rounds",
                                           "requests_per_s", "p50_ms", "p99_ms",
                                           "cpu_us_per_request"],
            "properties": {"rounds": {"type": "integer", "minimum": 2}, "p99_ms": SPREAD,
                           "cpu_us_per_request": SPREAD}}},
        "instructions": {"type": "object", "required": ["skipped", "runs"]},
        "in_process": {"type": "array", "minItems": 3, "items": {
            "type": "object", "required": ["name", "per_call_us", "per_row_in_batch_us",
                                           "skipped"]}},
        "ratios": {"type": "array", "minItems": 7, "items": {
            "type": "object", "required": ["name", "target", "median", "rounds", "interval",
                                           "verdict", "note"],
            "properties": {"verdict": {"enum": ["met", "missed", "undecided", None]}}}},
        "feature_costs": {"type": "object",
                          "required": ["concurrency", "seconds_per_cell", "ceiling_target_us", "rows"],
                          "properties": {"rows": {"type": "array", "items": {
                              "type": "object",
                              "required": ["name", "leaves_out", "pairs", "cpu_us_per_request", "all_on_us", "saved_us"],
                              "properties": {"cpu_us_per_request": SPREAD,
                                             "saved_us": SPREAD}}}}},
    },
}  # fmt: skip
OUR_CONTENDERS = {"ceiling", "naive (gunicorn)", "naive (Flask dev server)", "FastAPI peer",
                  "BentoML peer", "LitServe peer", "bare batch"}  # fmt: skip


RUN_ID = f"test-{uuid.uuid4()}"


def servers_left_behind() -> list[str]:
    """Processes that inherited this test's run id (every server the harness started does)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.environ().get("BENCHMARK_RUN_ID") == RUN_ID:
                found.append(f"{process.pid}: {' '.join(process.info['cmdline'] or [])}")
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench")
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--output-dir", str(output)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "BENCHMARK_RUN_ID": RUN_ID},
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    return output, finished


def test_the_quick_run_writes_valid_json(quick_run):
    output, _ = quick_run
    results = json.loads((output / "latest.json").read_text())
    jsonschema.validate(results, RESULTS_SCHEMA)
    assert results["mode"] == "quick"
    measured = {cell["contender"] for cell in results["cells"]}
    skipped = {c["name"]: c["skipped"] for c in results["contenders"] if c["skipped"]}
    assert OUR_CONTENDERS <= measured, skipped
    assert not skipped
    # Every contender ran every full round; the cells the ratios read ran in the headline rounds
    # as well; the paired cells of the feature costs carry a pair number instead of a round.
    plan, rounds = results["plan"], {}
    for cell in results["cells"]:
        key = (cell["contender"], cell["kind"], cell["concurrency"])
        rounds.setdefault(key, set()).add(cell["round"])
        assert (cell["round"] is None) == ("pair" in cell)
    everything = set(range(1, plan["rounds"] + plan["headline_rounds"] + 1))
    assert rounds["ceiling", "one_row", 8] == everything | (
        {None} & rounds["ceiling", "one_row", 8]
    )
    assert rounds["reference (all features on)", "one_row", 8] - {None} == everything
    assert rounds["reference without every production feature", "one_row", 8] - {None} == (
        everything - set(range(1, plan["rounds"] + 1))
    )
    # The reference's variants ran one-row requests at the headline concurrency only, and each
    # names what it left out.
    for row in results["feature_costs"]["rows"]:
        levels = {c["concurrency"] for c in results["cells"] if c["contender"] == row["name"]}
        assert levels == {results["feature_costs"]["concurrency"]} and row["leaves_out"]


def test_the_quick_run_writes_the_table_and_the_plot(quick_run):
    output, finished = quick_run
    report = (output / "latest.md").read_text()
    assert report.startswith("# Benchmark results (quick run")
    for heading in (
        "## Ratios",
        "## One-row requests",
        "## 1,000-row batches",
        "## The in-process",
    ):
        assert heading in report
    assert "| ceiling | 8 |" in report
    assert "## What each production feature costs under load" in report
    assert "| every production feature |" in report
    assert (output / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report in finished.stdout  # the harness prints the table it wrote


def test_the_quick_run_leaves_no_server_running(quick_run):
    assert servers_left_behind() == []


def test_the_quick_run_measures_the_reference_and_computes_every_ratio(quick_run):
    """On any clone, with nothing git ignores: the reference is measured, never skipped."""
    output, _ = quick_run
    results = json.loads((output / "latest.json").read_text())
    assert not [c["name"] for c in results["contenders"] if c["skipped"]]
    measured = {cell["contender"] for cell in results["cells"]}
    assert {"reference (all features on)", "reference (features off)"} <= measured
    assert all(row["median"] is not None for row in results["ratios"]), results["ratios"]


def test_a_run_with_a_missing_ratio_or_a_skipped_contender_is_incomplete():
    from benchmarks.run import complete

    whole = {"cells": [{}], "ratios": [{"name": "r", "median": 1.0}],
             "contenders": [{"name": "c", "skipped": None}]}  # fmt: skip
    assert complete(whole)
    assert not complete({**whole, "ratios": [{"name": "r", "median": None}]})
    assert not complete({**whole, "contenders": [{"name": "c", "skipped": "did not start"}]})
    assert not complete({**whole, "cells": []})


def test_feature_costs_pair_each_variant_with_the_full_reference():
    """What leaving a feature out saves is the full reference's CPU minus the variant's, pair by
    pair (each variant cell carries the full reference's figure from just before it)."""
    from benchmarks.contenders import Contender, without_name
    from benchmarks.plan import CORE_TARGET, EVERY_FEATURE, FULL
    from benchmarks.report import feature_cost_lines
    from benchmarks.summary import feature_costs

    def cell(name, round_number, cpu, **extra):
        return {"contender": name, "kind": "one_row", "concurrency": 8, "round": round_number,
                "cpu_us_per_request": cpu, **extra}  # fmt: skip

    variant = Contender(without_name(("storage",)), "", [], leaves_out=("storage",))
    core = Contender(without_name(EVERY_FEATURE), "", [], leaves_out=EVERY_FEATURE)
    cells = [cell(variant.name, 1, 1200.0, paired_all_on_cpu_us=1500.0),
             cell(variant.name, 2, 1150.0, paired_all_on_cpu_us=1300.0),
             cell(core.name, 1, 660.0, paired_all_on_cpu_us=1460.0),
             cell("ceiling", 1, 600.0), cell("ceiling", 2, 500.0)]  # fmt: skip
    costs = feature_costs(cells, FULL, [variant, core])
    assert variant.name == "reference without prediction storage"
    assert without_name(EVERY_FEATURE) == "reference without every production feature"
    row, _ = costs["rows"]
    assert row["saved_us"] == {"median": 225.0, "min": 150.0, "max": 300.0}
    assert row["pairs"] == 2
    assert costs["ceiling_target_us"] == CORE_TARGET * 550.0
    table = "\n".join(feature_cost_lines(costs))
    assert (
        "| prediction storage | 2 | 1,400 (1,300–1,500) | 1,175 (1,150–1,200) | 225 (150–300) |"
        in table
    )


def test_the_full_plan_fits_the_ten_minute_budget():
    """The cells alone, at their fixed lengths plus a measured overhead per cell, leave room for
    the servers' start-up (which overlaps the instruction counts) within 10 minutes."""
    from benchmarks.plan import FULL, cell_seconds

    assert cell_seconds(FULL) <= 400, cell_seconds(FULL)


def test_instruction_counts_are_read_from_the_dump_and_reported(tmp_path):
    """callgrind's 'summary:' line is the count of one dump; the report shows each run, the spread
    and the verdict on repeatability beside the CPU time under wrk."""
    from benchmarks.instructions import VARIANTS, dump_total
    from benchmarks.report import instruction_lines

    dump = tmp_path / "callgrind.out.1"
    dump.write_text("version: 1\ncmd: python\nevents: Ir\nsummary: 1234567\ntotals: 1234999\n")
    assert dump_total(dump) == 1234567
    core, full = VARIANTS
    results = {
        "feature_costs": {"concurrency": 8},
        "summary": [{"contender": core, "kind": "one_row", "concurrency": 8,
                     "cpu_us_per_request": {"median": 600.0, "min": 550.0, "max": 700.0}}],
        "instructions": {"skipped": None, "runs": 3, "requests": 300, "warmup": 200,
                         "pythonhashseed": 0, "variants": {
                             core: {"per_request": [1.19e6, 1.191e6, 1.192e6], "median": 1.191e6,
                                    "relative_spread": 0.002 / 1.191},
                             full: {"per_request": [2.0e6, 2.1e6, 2.2e6], "median": 2.1e6,
                                    "relative_spread": 0.2 / 2.1}}},
    }  # fmt: skip
    text = "\n".join(instruction_lines(results))
    assert f"| {core} | 1.191 million | 1.190, 1.191, 1.192 | 0.17% | 600 (550–700) |" in text
    assert "Repeatable within 1%: **no**" in text  # the second variant spreads by 9.5 %
    skipped = {**results, "instructions": {"skipped": "valgrind is not installed", "runs": 0}}
    assert "Not counted in this run: valgrind is not installed." in instruction_lines(skipped)
