"""Order-statistic intervals, intervals over independent runs, and verdicts."""

import math

import numpy as np
import pytest

from examples.measurement import (
    across_runs_interval,
    batch_means,
    interval_ranks,
    lag_one_autocorrelation,
    min_samples_for_interval,
    min_samples_for_upper_bound,
    numpy_linear_ranks,
    quantile_interval,
    quantile_upper_bound,
    ratio_interval,
    upper_bound_rank,
    variation_between_and_within,
    verdict,
)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """From the definition (terms in logarithms, so large n cannot overflow), to check scipy."""

    def log_term(i: int) -> float:
        log_comb = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        return log_comb + i * math.log(p) + (n - i) * math.log1p(-p)

    return math.fsum(math.exp(log_term(i)) for i in range(k + 1))


def test_the_maximum_bounds_p99_at_99_percent_from_459_samples():
    assert min_samples_for_upper_bound(0.99, 0.99) == 459
    assert 1 - 0.99**459 >= 0.99 > 1 - 0.99**458
    assert min_samples_for_upper_bound(0.99, 0.95) == 299
    assert upper_bound_rank(458, 0.99, 0.99) is None
    assert upper_bound_rank(459, 0.99, 0.99) == 459


def test_a_two_sided_95_percent_interval_for_p99_needs_368_samples():
    # Each end may miss with probability 2.5 %: the maximum must exceed q_0.99 with 97.5 %.
    assert min_samples_for_interval(0.99, 0.95) == 368
    assert interval_ranks(367, 0.99, 0.95) is None
    low, high = interval_ranks(368, 0.99, 0.95)
    assert high == 368 and low >= 1


def test_the_classic_median_interval_for_100_samples():
    assert interval_ranks(100, 0.5, 0.95) == (40, 61)


@pytest.mark.parametrize(
    "n,p,confidence", [(200, 0.9, 0.95), (1000, 0.99, 0.99), (5000, 0.999, 0.9)]
)
def test_the_upper_rank_is_the_smallest_with_enough_exact_coverage(n, p, confidence):
    rank = upper_bound_rank(n, p, confidence)
    assert binomial_cdf(rank - 1, n, p) >= confidence
    assert binomial_cdf(rank - 2, n, p) < confidence


@pytest.mark.parametrize("n,p,confidence", [(200, 0.5, 0.95), (1000, 0.99, 0.95), (400, 0.9, 0.99)])
def test_two_sided_ranks_have_their_exact_coverage_in_each_tail(n, p, confidence):
    low, high = interval_ranks(n, p, confidence)
    tail = (1 - confidence) / 2
    assert binomial_cdf(low - 1, n, p) <= tail < binomial_cdf(low, n, p)
    assert 1 - binomial_cdf(high - 1, n, p) <= tail < 1 - binomial_cdf(high - 2, n, p)


def test_a_sample_too_small_says_how_many_it_needs():
    bound = quantile_upper_bound(np.arange(200.0), 0.99, confidence=0.99)
    assert not bound.exists and bound.high is None and bound.needs_n == 459
    assert verdict(bound, target=1e9) == "undecided"
    both = quantile_interval(np.arange(100.0), 0.99)
    assert not both.exists and both.needs_n == 368


def test_intervals_read_the_right_order_statistics():
    values = np.random.default_rng(0).permutation(np.arange(1.0, 1001.0))  # ranks = values
    bound = quantile_upper_bound(values, 0.99, confidence=0.99)
    assert bound.high == bound.high_rank == 998 and bound.coverage >= 0.99
    both = quantile_interval(values, 0.99, confidence=0.95)
    assert (both.low, both.high) == (both.low_rank, both.high_rank) == (983, 997)


def test_order_statistic_intervals_cover_as_promised_in_simulation():
    rng = np.random.default_rng(11)
    true_p99 = -math.log(0.01)  # exponential with mean 1
    samples = rng.exponential(size=(2_000, 500))
    upper = upper_bound_rank(500, 0.99, 0.99)
    low, high = interval_ranks(500, 0.99, 0.95)
    ordered = np.sort(samples, axis=1)
    upper_coverage = np.mean(ordered[:, upper - 1] >= true_p99)
    both_coverage = np.mean((ordered[:, low - 1] <= true_p99) & (ordered[:, high - 1] >= true_p99))
    # Exact coverages: 1 - 0.99**500 = 0.9934 and about 0.96; 2,000 runs give +-0.01 or so.
    assert upper_coverage > 0.98
    assert both_coverage > 0.94


def test_numpy_linear_percentile_uses_the_ranks_we_say():
    values = np.arange(1.0, 201.0)
    below, above, weight = numpy_linear_ranks(200, 0.99)
    assert (below, above) == (198, 199) and weight == pytest.approx(0.01)
    assert np.percentile(values, 99) == pytest.approx(below + weight * (above - below))


def test_across_runs_interval_is_students_t():
    interval = across_runs_interval([1.0, 2.0, 3.0], confidence=0.95)
    assert interval.mean == 2.0 and interval.standard_deviation == 1.0
    # t_{0.975, 2} = 4.3027; half-width 4.3027 / sqrt(3)
    assert interval.high - 2.0 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    with pytest.raises(ValueError):
        across_runs_interval([1.0])


def test_across_runs_interval_covers_in_simulation():
    rng = np.random.default_rng(5)
    hits = sum(
        (lambda iv: iv.low <= 10.0 <= iv.high)(across_runs_interval(rng.normal(10, 2, size=5)))
        for _ in range(2_000)
    )
    assert 0.93 < hits / 2_000 < 0.97


def test_batch_means_and_autocorrelation():
    assert batch_means(np.arange(10.0), 3).tolist() == [1.0, 4.0, 7.0]
    with pytest.raises(ValueError):
        batch_means([1.0, 2.0], 1)
    rng = np.random.default_rng(2)
    assert abs(lag_one_autocorrelation(rng.normal(size=5_000))) < 0.05
    walk = np.convolve(rng.normal(size=5_000), np.ones(20), mode="valid")  # a moving sum: clustered
    assert lag_one_autocorrelation(walk) > 0.9


def test_variation_between_runs_reveals_clustered_requests():
    rng = np.random.default_rng(3)
    independent = [rng.normal(0, 1, 400) for _ in range(8)]
    assert variation_between_and_within(independent).ratio == pytest.approx(1, abs=0.6)
    # Each run has its own level (a machine that is busier on some runs): between >> within.
    shifted = [rng.normal(rng.normal(0, 1), 1, 400) for _ in range(8)]
    assert variation_between_and_within(shifted).ratio > 5


@pytest.mark.parametrize(
    "interval,target,better,expected",
    [((1.0, 1.9), 2.0, "lower", "met"), ((1.0, 2.0), 2.0, "lower", "met"),
     ((2.1, 3.0), 2.0, "lower", "missed"), ((1.85, 2.15), 2.0, "lower", "undecided"),
     ((0.9, 1.2), 0.8, "higher", "met"), ((0.5, 0.7), 0.8, "higher", "missed"),
     ((0.7, 0.9), 0.8, "higher", "undecided"), ((None, 5.0), 6.0, "lower", "met"),
     ((None, 7.0), 6.0, "lower", "undecided")],
)  # fmt: skip
def test_verdicts_only_when_the_interval_decides(interval, target, better, expected):
    assert verdict(interval, target, better) == expected


def test_verdict_refuses_nonsense():
    with pytest.raises(ValueError):
        verdict((2.0, 1.0), 1.5)
    with pytest.raises(ValueError):
        verdict((1.0, 2.0), 1.5, better="faster")
    assert verdict(across_runs_interval([1.0, 1.1, 0.9]), 2.0) == "met"


def test_ratio_interval_works_on_the_log_scale_and_stays_positive():
    interval = ratio_interval([1.0, 4.0], [2.0, 2.0])  # ratios 0.5 and 2: geometric mean 1
    assert interval.mean == pytest.approx(1.0)
    assert 0 < interval.low < 1 < interval.high
    assert interval.low * interval.high == pytest.approx(1.0)  # symmetric on the log scale
    assert verdict(ratio_interval([0.3, 0.35, 0.32], [1.0, 1.0, 1.0]), 1.0) == "met"
    with pytest.raises(ValueError):
        ratio_interval([1.0, -1.0], [1.0, 1.0])
