"""Intervals and verdicts for performance measurements, distribution-free where it matters.

    upper = quantile_upper_bound(latencies, 0.99, confidence=0.99)   # one-sided, order statistic
    both = quantile_interval(latencies, 0.99, confidence=0.95)       # two-sided, order statistics
    runs = across_runs_interval([p50_of_run_1, p50_of_run_2, ...])   # t-interval over independent runs
    verdict((low, high), target=2.0, better="lower")                 # "met", "missed" or "undecided"

Order-statistic intervals assume independent, identically distributed samples and nothing about
their distribution. Latencies from one run are autocorrelated (a slow moment slows its
neighbours), so for anything but a rough figure compare independent runs with
`across_runs_interval` and look at `variation_between_and_within` first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

# Refuse absurd sample sizes in the searches below, so that a typo cannot hang a caller.
LARGEST_SEARCH = 10_000_000

MET, MISSED, UNDECIDED = "met", "missed", "undecided"


def _check_probability(p: float, name: str) -> None:
    if not 0 < p < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, not {p}")


@dataclass(frozen=True)
class QuantileInterval:
    """An interval for the p-quantile from order statistics, or the sample size it would need.

    Ranks are 1-based: rank 1 is the smallest sample, rank n the largest. A bound that does not
    exist (a one-sided interval's lower end, or any end when n is too small) is None.
    """

    p: float
    confidence: float
    n: int
    needs_n: int  # the smallest sample size for which this interval exists
    low: float | None = None
    high: float | None = None
    low_rank: int | None = None
    high_rank: int | None = None
    coverage: float | None = None  # exact coverage for a continuous law, at least `confidence`

    @property
    def exists(self) -> bool:
        return self.coverage is not None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        return self.low, self.high


def _sorted(values: Sequence[float] | np.ndarray) -> np.ndarray:
    data = np.sort(np.asarray(values, dtype=float))
    if data.size == 0:
        raise ValueError("no values")
    if not np.all(np.isfinite(data)):
        raise ValueError("the values must be finite")
    return data


def upper_bound_rank(n: int, p: float, confidence: float) -> int | None:
    """The smallest rank r with P(X_(r) >= q_p) >= confidence among n samples, or None.

    With B ~ Binomial(n, p) the number of samples below q_p, X_(r) >= q_p exactly when B <= r - 1.
    """
    _check_probability(p, "p")
    _check_probability(confidence, "confidence")
    rank = int(stats.binom.ppf(confidence, n, p)) + 1
    # ppf works in floating point: step to the exact smallest rank whose coverage is enough.
    while rank > 1 and stats.binom.cdf(rank - 2, n, p) >= confidence:
        rank -= 1
    while rank <= n and stats.binom.cdf(rank - 1, n, p) < confidence:
        rank += 1
    return rank if rank <= n else None


def min_samples_for_upper_bound(p: float, confidence: float, from_top: int = 1) -> int:
    """The smallest n for which the `from_top`-th largest sample (1 = the maximum) bounds q_p from
    above with the given confidence. For the maximum: the smallest n with 1 - p**n >= confidence."""
    _check_probability(p, "p")
    _check_probability(confidence, "confidence")
    if from_top == 1:
        n = math.ceil(math.log1p(-confidence) / math.log(p))
        while n > 1 and 1 - p ** (n - 1) >= confidence:  # guard against rounding either way
            n -= 1
        while 1 - p**n < confidence:
            n += 1
        return n
    n = from_top
    while stats.binom.cdf(n - from_top, n, p) < confidence:
        n += 1
        if n > LARGEST_SEARCH:
            raise ValueError("no sample size up to ten million is enough")
    return n


def quantile_upper_bound(
    values: Sequence[float] | np.ndarray, p: float, confidence: float = 0.99
) -> QuantileInterval:
    """A distribution-free upper confidence bound for the p-quantile: the smallest order statistic
    that lies at or above q_p with probability at least `confidence`."""
    data = _sorted(values)
    interval = QuantileInterval(
        p, confidence, data.size, min_samples_for_upper_bound(p, confidence)
    )
    rank = upper_bound_rank(data.size, p, confidence)
    if rank is None:
        return interval
    coverage = float(stats.binom.cdf(rank - 1, data.size, p))
    return replace(interval, high=float(data[rank - 1]), high_rank=rank, coverage=coverage)


def interval_ranks(n: int, p: float, confidence: float) -> tuple[int, int] | None:
    """Ranks (l, u) of an equal-tailed two-sided interval [X_(l), X_(u)] for q_p, or None.

    P(X_(l) <= q_p <= X_(u)) >= F(u - 1) - F(l - 1) with F the Binomial(n, p) distribution
    function: each end is chosen so that it misses q_p with probability at most (1 - confidence)/2.
    """
    _check_probability(p, "p")
    _check_probability(confidence, "confidence")
    tail = (1 - confidence) / 2
    high = upper_bound_rank(n, p, 1 - tail)
    # The largest l with P(X_(l) > q_p) = F(l - 1) <= tail.
    low = int(stats.binom.ppf(tail, n, p))
    while low >= 1 and stats.binom.cdf(low - 1, n, p) > tail:
        low -= 1
    while low + 1 <= n and stats.binom.cdf(low, n, p) <= tail:
        low += 1
    if high is None or low < 1:
        return None
    return low, high


def min_samples_for_interval(p: float, confidence: float) -> int:
    """The smallest n for which `interval_ranks` finds a two-sided interval."""
    n = 1
    while interval_ranks(n, p, confidence) is None:
        # Grow fast, then search back: the existence of the interval is monotone in n.
        n *= 2
        if n > LARGEST_SEARCH:
            raise ValueError("no sample size up to ten million is enough")
    low = n // 2
    while low + 1 < n:
        middle = (low + n) // 2
        if interval_ranks(middle, p, confidence) is None:
            low = middle
        else:
            n = middle
    return n


def quantile_interval(
    values: Sequence[float] | np.ndarray, p: float, confidence: float = 0.95
) -> QuantileInterval:
    """A distribution-free two-sided confidence interval for the p-quantile from two order
    statistics, with its exact coverage for a continuous distribution."""
    data = _sorted(values)
    n = data.size
    needs = min_samples_for_interval(p, confidence)
    ranks = interval_ranks(n, p, confidence)
    if ranks is None:
        return QuantileInterval(p, confidence, n, needs)
    low, high = ranks
    coverage = float(stats.binom.cdf(high - 1, n, p) - stats.binom.cdf(low - 1, n, p))
    return QuantileInterval(
        p,
        confidence,
        n,
        needs,
        low=float(data[low - 1]),
        high=float(data[high - 1]),
        low_rank=low,
        high_rank=high,
        coverage=coverage,
    )


def numpy_linear_ranks(n: int, p: float) -> tuple[int, int, float]:
    """The two 1-based ranks numpy's default percentile (method="linear") interpolates between,
    and the weight on the upper one: it reads position (n - 1) p of the 0-based sorted sample."""
    position = (n - 1) * p
    below = math.floor(position)
    return below + 1, min(below + 2, n), position - below


# ---- independent runs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunsInterval:
    """A Student-t interval for the mean of a figure over independent runs."""

    mean: float
    low: float
    high: float
    runs: int
    standard_deviation: float
    confidence: float

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high


def across_runs_interval(per_run: Sequence[float], confidence: float = 0.95) -> RunsInterval:
    """Mean of a figure measured once per independent run, with a t-interval on runs - 1 degrees
    of freedom. Runs, not requests, are the independent units."""
    _check_probability(confidence, "confidence")
    values = np.asarray(per_run, dtype=float)
    if values.size < 2:
        raise ValueError("at least two independent runs are needed for an interval")
    mean = float(values.mean())
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, values.size - 1)) * sd / math.sqrt(values.size)
    return RunsInterval(mean, mean - half, mean + half, int(values.size), sd, confidence)


def ratio_interval(
    numerators: Sequence[float], denominators: Sequence[float], confidence: float = 0.95
) -> RunsInterval:
    """A t-interval for the typical ratio of paired figures (one pair per independent round), on
    the log scale and mapped back: the geometric mean ratio, with an interval that stays positive."""
    ratios = np.asarray(numerators, dtype=float) / np.asarray(denominators, dtype=float)
    if ratios.shape != np.shape(numerators) or np.any(ratios <= 0):
        raise ValueError("need paired, positive figures")
    logs = across_runs_interval(np.log(ratios), confidence)
    return RunsInterval(
        math.exp(logs.mean), math.exp(logs.low), math.exp(logs.high), logs.runs,
        logs.standard_deviation, confidence,
    )  # fmt: skip


def batch_means(values: Sequence[float] | np.ndarray, batches: int) -> np.ndarray:
    """Means of `batches` consecutive, equal-sized batches of one run (the leftover tail dropped).
    Long batches of an autocorrelated series are nearly independent; feed them to
    `across_runs_interval`."""
    data = np.asarray(values, dtype=float)
    size = data.size // batches
    if batches < 2 or size < 1:
        raise ValueError("need at least two batches of at least one value each")
    return data[: size * batches].reshape(batches, size).mean(axis=1)


def lag_one_autocorrelation(values: Sequence[float] | np.ndarray) -> float:
    """The sample correlation of each value with the next: near 0 for independent samples."""
    data = np.asarray(values, dtype=float)
    if data.size < 3:
        raise ValueError("need at least three values")
    centred = data - data.mean()
    return float(np.dot(centred[:-1], centred[1:]) / np.dot(centred, centred))


@dataclass(frozen=True)
class VariationSplit:
    """How much a run's mean moves between independent runs, against what one run claims."""

    between_runs: float  # standard deviation of the run means
    within_run: float  # typical standard error of one run's mean if its requests were independent

    @property
    def ratio(self) -> float:
        """Near 1 if requests were independent; well above 1 when runs differ or requests cluster."""
        return self.between_runs / self.within_run


def variation_between_and_within(runs: Sequence[Sequence[float]]) -> VariationSplit:
    """Compare the spread of run means with the naive standard error sd / sqrt(n) of each run."""
    if len(runs) < 2:
        raise ValueError("at least two runs are needed")
    arrays = [np.asarray(run, dtype=float) for run in runs]
    if any(run.size < 2 for run in arrays):
        raise ValueError("each run needs at least two values")
    means = np.array([run.mean() for run in arrays])
    naive = np.array([run.std(ddof=1) / math.sqrt(run.size) for run in arrays])
    return VariationSplit(float(means.std(ddof=1)), float(np.sqrt(np.mean(naive**2))))


# ---- verdicts -----------------------------------------------------------------------------------


def verdict(
    interval: tuple[float | None, float | None] | QuantileInterval | RunsInterval,
    target: float,
    better: str = "lower",
) -> str:
    """ "met" when the whole interval lies on the good side of the target (the target itself
    counts as good), "missed" when it lies wholly on the bad side, "undecided" otherwise.

    A missing end (None) is unbounded: a one-sided upper bound can show a ceiling met, never missed.
    """
    if isinstance(interval, QuantileInterval | RunsInterval):
        if isinstance(interval, QuantileInterval) and not interval.exists:
            return UNDECIDED
        interval = interval.bounds
    low, high = interval
    low = -math.inf if low is None else low
    high = math.inf if high is None else high
    if low > high:
        raise ValueError(f"not an interval: {low} > {high}")
    if better == "lower":
        if high <= target:
            return MET
        return MISSED if low > target else UNDECIDED
    if better == "higher":
        if low >= target:
            return MET
        return MISSED if high < target else UNDECIDED
    raise ValueError(f'better must be "lower" or "higher", not {better!r}')
