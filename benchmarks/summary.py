"""From cells to figures: one summary row per contender, kind and concurrency (median, min and max
over the rounds); the ratios the targets are stated in, each with its interval and verdict
(benchmarks/verdicts.py); and what each production feature costs, pair by pair."""

from __future__ import annotations

import statistics

from benchmarks import verdicts
from benchmarks.contenders import CORE, PEER_NAMES, REFERENCE, Contender
from benchmarks.plan import CORE_TARGET, Plan


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
