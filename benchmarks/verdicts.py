"""Verdicts the data support, by chapter 17's method (examples/measurement.py): a target is met or
missed only when its interval lies on one side of it, and undecided otherwise.

Each headline figure is measured once per round. Rounds are separated in time and every contender
is measured in each of them, so the round-to-round variation (the machine's load drifting) is the
variation that matters; successive requests within one run are not independent draws. The
interval is therefore built from the per-round figures alone, treated as independent:

- for a ratio of two positive figures, a t interval on the logarithms, taken back with exp (the
  geometric mean's interval, which stays positive);
- for a difference (what a feature costs), a t interval on the differences themselves.

Both assume the per-round values are roughly normal on that scale. With few rounds the t quantile
makes the interval wide, which is honest: then the verdict is "undecided".
"""

from __future__ import annotations

from collections.abc import Sequence

from examples import measurement

CONFIDENCE = 0.95
MIN_ROUNDS = 3  # with two values a t interval has one degree of freedom and is nearly useless


def t_interval(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Two-sided interval for the mean of independent values; None with fewer than MIN_ROUNDS."""
    if len(values) < MIN_ROUNDS:
        return None
    return measurement.across_runs_interval(values, confidence).bounds


def ratio_interval(
    ratios: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Interval for the geometric mean of positive per-round ratios (t on the logarithms)."""
    if any(r <= 0 for r in ratios):
        raise ValueError("ratios must be positive")
    if len(ratios) < MIN_ROUNDS:
        return None
    return measurement.ratio_interval(ratios, [1.0] * len(ratios), confidence).bounds


def verdict(interval: tuple[float, float] | None, sense: str, target: float) -> str:
    """'met', 'missed' or 'undecided' for a target such as ('<=', 1.3) or ('>=', 0.8). An interval
    end exactly on the target counts as on its side; for '<' and '>' that case never arises with
    measured figures, so they are read as '<=' and '>='."""
    if interval is None:
        return "undecided"
    better = {"<=": "lower", "<": "lower", ">=": "higher", ">": "higher"}[sense]
    return measurement.verdict(interval, target, better)
