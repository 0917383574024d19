"""Verdicts the data support: a target is met or missed only when its interval lies on one side.

Each headline figure is measured once per round. Rounds are separated in time and every contender
is measured in each of them, so the round-to-round variation (the machine's load drifting) is the
variation that matters, and successive requests within one run are not independent draws. The
interval is therefore built from the per-round figures alone, treated as independent:

- for a ratio of two positive figures, a t interval on the logarithms, taken back with exp (a
  ratio is scaled multiplicatively, and its log is closer to symmetric);
- for a difference (what a feature costs), a t interval on the differences themselves.

Both assume the per-round values are roughly normal on that scale; with few rounds the t quantile
makes the interval wide, which is honest: then the verdict is "undecided".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from scipy import stats

CONFIDENCE = 0.95
MIN_ROUNDS = 3  # with two values a t interval has one degree of freedom and is nearly useless


def t_interval(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Two-sided interval for the mean of independent values; None with fewer than MIN_ROUNDS."""
    if len(values) < MIN_ROUNDS:
        return None
    mean = statistics.fmean(values)
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * statistics.stdev(values)
    half /= math.sqrt(len(values))
    return mean - half, mean + half


def ratio_interval(
    ratios: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Interval for the geometric mean of positive per-round ratios (t on the logarithms)."""
    if any(r <= 0 for r in ratios):
        raise ValueError("ratios must be positive")
    logs = t_interval([math.log(r) for r in ratios], confidence)
    return None if logs is None else (math.exp(logs[0]), math.exp(logs[1]))


def verdict(interval: tuple[float, float] | None, sense: str, target: float) -> str:
    """'met', 'missed' or 'undecided' for a target such as ('<=', 1.3) or ('>=', 0.8).

    A value equal to the target counts as on the target's side for <= and >=, not for < and >.
    """
    if interval is None:
        return "undecided"
    low, high = interval
    meets = {"<=": lambda v: v <= target, "<": lambda v: v < target,
             ">=": lambda v: v >= target, ">": lambda v: v > target}[sense]  # fmt: skip
    # The whole interval on the good side: met. The whole interval on the bad side: missed.
    worst, best = (high, low) if sense in ("<=", "<") else (low, high)
    if meets(worst):
        return "met"
    if not meets(best):
        return "missed"
    return "undecided"
