"""The plan of a benchmark run: how long each cell lasts and how many rounds there are (the full
run and the quick run differ only here), and the targets the ratios are held to."""

from __future__ import annotations

from dataclasses import dataclass

from examples.serving.app import PRODUCTION_FEATURES

WORKERS = 2
BATCH_ROWS = 1_000
EVERY_FEATURE = PRODUCTION_FEATURES
CORE_TARGET = 1.3  # the reference without its production features, against the ceiling
# Seconds a cell costs beyond its warm-up and its wrk run: starting wrk and its Lua script, reading
# the servers' CPU times, the log line (0.15 to 0.4 s in a quick run's log at load 25 to 45).
CELL_OVERHEAD_S = 0.35
# Contenders measured in every round: one-row (all but the bare batch endpoint) and batches.
ONE_ROW_CONTENDERS = 8
BATCH_CONTENDERS = 6


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
    # Instructions per one-row request counted under callgrind (benchmarks/instructions.py): how
    # many processes, and how many requests each counts after its warm-up. 0 processes: not run.
    instruction_runs: int = 0
    instruction_requests: int = 0

    @property
    def headline_concurrency(self) -> int:
        """The one-row level the ratios are read at: 8, or the highest level run."""
        return 8 if 8 in self.one_row_concurrency else max(self.one_row_concurrency)


# The full run: short cells and many rounds. The machine's drift from round to round, not the
# length of a cell, dominates the spread of a ratio, so the ten-minute budget (tested with
# cell_seconds) buys more by rounds: 2 rounds of every cell, 8 more of the cells the verdicts read
# (10 rounds per ratio), and 4 pairs per feature. 1-second cells still hold hundreds of one-row
# requests and about ten 1,000-row batches. The last 3-second plan took 867 s at load 10.
FULL = Plan("full", 1, 0.3, 2, (1, 8, 32), (1, 2), 7, 200,
            leave_out=(*((name,) for name in PRODUCTION_FEATURES), EVERY_FEATURE), pairs=4,
            pair_seconds=1, headline_rounds=8, instruction_runs=3,
            instruction_requests=100)  # fmt: skip
QUICK = Plan("quick", 1, 0.3, 2, (1, 8), (1,), 3, 30,
             leave_out=(("storage",), EVERY_FEATURE), pairs=2, pair_seconds=1,
             headline_rounds=1)  # fmt: skip


def cell_seconds(plan: Plan) -> float:
    """The wall time the plan's cells take: fixed by their lengths, whatever the machine's load.
    The servers' start-up (which overlaps the instruction counts) and the floor come on top."""
    cell = plan.seconds + plan.warmup_seconds + CELL_OVERHEAD_S
    pair = plan.pair_seconds + min(plan.warmup_seconds, 0.5) + CELL_OVERHEAD_S
    every_round = (ONE_ROW_CONTENDERS * len(plan.one_row_concurrency)
                   + BATCH_CONTENDERS * len(plan.batch_concurrency))  # fmt: skip
    headline_round = ONE_ROW_CONTENDERS + 1 + 2  # and the core variant; two batch cells
    return ((plan.rounds * every_round + plan.headline_rounds * headline_round) * cell
            + plan.pairs * 2 * len(plan.leave_out) * pair)  # fmt: skip
