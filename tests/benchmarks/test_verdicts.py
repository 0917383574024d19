"""The benchmark's verdicts: met or missed only when the interval lies on one side of the target."""

import math

import numpy as np
import pytest

from benchmarks.verdicts import ratio_interval, t_interval, verdict


def test_t_interval_matches_the_textbook_formula():
    values = [10.0, 12.0, 11.0, 13.0, 9.0]
    low, high = t_interval(values)
    # mean 11, sd sqrt(2.5), t(0.975, 4) = 2.776445
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert low == pytest.approx(11 - half, rel=1e-5) and high == pytest.approx(11 + half, rel=1e-5)


def test_too_few_rounds_give_no_interval_and_no_verdict():
    assert t_interval([1.0, 2.0]) is None
    assert ratio_interval([1.1, 1.2]) is None
    assert verdict(None, "<=", 1.0) == "undecided"


def test_ratio_interval_is_symmetric_on_the_log_scale():
    low, high = ratio_interval([0.5, 1.0, 2.0])
    assert low * high == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("interval", "sense", "target", "expected"),
    [
        ((1.1, 1.2), "<=", 1.3, "met"),
        ((1.25, 1.35), "<=", 1.3, "undecided"),
        ((1.31, 1.4), "<=", 1.3, "missed"),
        ((0.9, 1.1), "<", 1.0, "undecided"),
        ((0.9, 1.0), "<=", 1.0, "met"),
        ((0.85, 0.9), ">=", 0.8, "met"),
        ((0.7, 0.85), ">=", 0.8, "undecided"),
        ((0.6, 0.7), ">=", 0.8, "missed"),
    ],
)
def test_verdicts(interval, sense, target, expected):
    assert verdict(interval, sense, target) == expected


def test_the_interval_covers_the_true_ratio_about_as_often_as_it_says():
    """Simulated rounds with log-normal noise around a known ratio: coverage near 95 %."""
    rng = np.random.default_rng(1)
    truth, hits, trials = 1.2, 0, 2000
    for _ in range(trials):
        rounds = truth * np.exp(rng.normal(0, 0.1, size=6))
        low, high = ratio_interval(rounds.tolist())
        hits += low <= truth <= high  # the geometric mean of a log-normal is its median, 1.2
    assert 0.93 <= hits / trials <= 0.97
