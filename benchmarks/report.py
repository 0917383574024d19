"""The report: latest.json (everything), latest.md (the tables, and each target's verdict with its
interval) and latency.png."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from benchmarks import verdicts
from benchmarks.plan import CORE_TARGET, EVERY_FEATURE

INSTRUCTION_TOLERANCE = 0.01  # runs must agree this closely for the count to stand as a figure


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
    lines += instruction_lines(results)
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


def instruction_lines(results: dict) -> list[str]:
    """The section on instructions per request (callgrind), beside the CPU time under wrk."""
    counted = results.get("instructions")
    if not counted:
        return []
    lines = ["", "## Instructions per one-row request (callgrind, in one process)", ""]
    if counted["skipped"]:
        return [*lines, f"Not counted in this run: {counted['skipped']}."]
    level = results["feature_costs"]["concurrency"]
    lines += [
        f"{counted['runs']} processes, run side by side under valgrind's callgrind with "
        f"PYTHONHASHSEED={counted['pythonhashseed']}, each built the reference's app twice (every "
        "production feature left out, and all on), sent each "
        f"{counted['warmup']} warm-up requests and then {counted['requests']} counted one-row "
        "requests through Flask's test client: no sockets and no gunicorn, so the count is the "
        "service's own work. Start-up is never counted: each process starts with instrumentation "
        "off, and callgrind counts only between two marker calls placed around the counted "
        "requests. An instruction count does not depend on the machine's load, so the runs should "
        f"agree: the figure stands when they agree within {INSTRUCTION_TOLERANCE:.0%}. It is not "
        "a time: a cache miss costs many instructions' time, and the kernel's work (sockets, "
        "files) is not counted.",
        "", f"| variant | instructions per request (median of runs) | each run | spread "
        f"(max − min) / median | server CPU µs/request under wrk (concurrency {level}) |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for name, row in counted["variants"].items():
        cpu = next((r["cpu_us_per_request"] for r in results["summary"]
                    if (r["contender"], r["kind"], r["concurrency"]) == (name, "one_row", level)),
                   None)  # fmt: skip
        each = ", ".join(f"{value / 1e6:.3f}" for value in row["per_request"])
        lines.append(f"| {name} | {row['median'] / 1e6:.3f} million | {each} "
                     f"| {row['relative_spread']:.2%} | {span(cpu)} |")  # fmt: skip
    core, full = (row["median"] for row in counted["variants"].values())
    repeatable = all(
        row["relative_spread"] <= INSTRUCTION_TOLERANCE for row in counted["variants"].values()
    )
    lines += ["", f"Repeatable within {INSTRUCTION_TOLERANCE:.0%}: **{'yes' if repeatable else 'no'}**. "
              f"The production features add {(full - core) / 1e6:.2f} million instructions per "
              f"request, {full / core:.2f} × the core's count."]  # fmt: skip
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
