"""Is model B (the canary, receiving a small share of the traffic) better or worse than model A?
Two tools: a test and confidence interval for the difference between two proportions (a success
rate, such as the share of correct predictions once the true labels are known), and a bootstrap
interval for the difference in any other metric (such as the 95th percentile of latency).

What they can conclude: an interval that excludes 0 says the two versions differ in that metric,
for traffic like the traffic observed. What they cannot: an interval that includes 0 does not say
the versions are equal (only that the data cannot tell them apart; read the interval's width);
and if requests were not assigned to A or B at random (say, the canary only got one region's
traffic), a difference may come from the traffic, not from the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Comparison:
    """B against A: each one's value, the difference B - A, and its confidence interval."""

    value_a: float
    value_b: float
    difference: float
    low: float
    high: float
    confidence: float
    p_value: float | None = None

    @property
    def conclusion(self) -> str:
        """One honest sentence about what the interval allows one to say."""
        interval = f"[{self.low:+.4g}, {self.high:+.4g}]"
        if self.low > 0:
            return f"B is higher than A: the difference B - A lies in {interval}"
        if self.high < 0:
            return f"B is lower than A: the difference B - A lies in {interval}"
        return (
            f"no difference detected: the data are consistent with any difference B - A in "
            f"{interval}, so this does not show that A and B are equal"
        )


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion: unlike p +/- z*sqrt(p(1-p)/n), it stays inside
    [0, 1] and keeps close to its nominal coverage for small n or p near 0 or 1."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / trials
    centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z / (1 + z**2 / trials) * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2))
    return float(centre - half), float(centre + half)


def compare_proportions(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, confidence: float = 0.95
) -> Comparison:
    """Difference of two success rates, B - A.

    The p-value is the two-sided pooled z-test of "the rates are equal". The interval is
    Newcombe's hybrid score interval (built from each rate's Wilson interval), which behaves
    better than the textbook p_b - p_a +/- z*se when counts are small.
    """
    rate_a, rate_b = successes_a / trials_a, successes_b / trials_b
    difference = rate_b - rate_a
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se_null = np.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    p_value = 1.0 if se_null == 0 else float(2 * stats.norm.sf(abs(difference) / se_null))
    low_a, high_a = wilson_interval(successes_a, trials_a, confidence)
    low_b, high_b = wilson_interval(successes_b, trials_b, confidence)
    low = difference - np.sqrt((rate_b - low_b) ** 2 + (high_a - rate_a) ** 2)
    high = difference + np.sqrt((high_b - rate_b) ** 2 + (rate_a - low_a) ** 2)
    return Comparison(rate_a, rate_b, difference, float(low), float(high), confidence, p_value)


def trials_per_group(rate_a: float, rate_b: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """How many requests each version needs so that a two-sided test at level `alpha` detects the
    difference between these two rates with probability `power`, with equal groups (the classic
    normal-approximation formula without continuity correction, Fleiss's tables)."""
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    mean = (rate_a + rate_b) / 2
    spread = z_alpha * np.sqrt(2 * mean * (1 - mean)) + z_power * np.sqrt(
        rate_a * (1 - rate_a) + rate_b * (1 - rate_b)
    )
    return int(np.ceil(spread**2 / (rate_a - rate_b) ** 2))


@dataclass(frozen=True)
class CanarySize:
    """Requests needed on the stable arm and on the canary arm, and their total."""

    stable: int
    canary: int

    @property
    def total(self) -> int:
        return self.stable + self.canary


@dataclass(frozen=True)
class NoninferiorityDesign:
    """What a non-inferiority canary is planned for: the success rates assumed true on the stable
    version and on the canary, the `margin` by which the canary may fall short, the canary's share
    of the traffic, the one-sided level `alpha` and the power wanted.

    H0: p_canary - p_stable <= -margin, rejected (the canary is declared non-inferior) when the
    lower one-sided (1 - alpha) confidence bound of the difference lies above -margin."""

    rate_stable: float
    rate_canary: float
    margin: float
    canary_share: float = 0.2
    alpha: float = 0.05
    power: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.canary_share < 1:
            raise ValueError("canary_share must be strictly between 0 and 1")

    @property
    def ratio(self) -> float:
        """k = n_canary / n_stable."""
        return self.canary_share / (1 - self.canary_share)

    def size_for(self, stable: int) -> CanarySize:
        """`stable` requests on the stable version and the canary's share on top."""
        return CanarySize(stable, int(np.ceil(stable * self.ratio)))


def noninferiority_size(design: NoninferiorityDesign) -> CanarySize:
    """Requests per arm for the one-sided question "is the canary's success rate worse than the
    stable one's by more than the margin?". The power is computed at the assumed true rates, with
    the unpooled normal approximation (Chow, Shao and Wang, section 4.2):
    n_stable = (z_{1-alpha} + z_power)^2 (p_s q_s + p_c q_c / k) / (d + margin)^2,
    where k = n_canary / n_stable and d = p_canary - p_stable. With `margin=0` it is the
    one-sided size for showing the canary better than the stable version."""
    p_s, p_c = design.rate_stable, design.rate_canary
    gap = p_c - p_s + design.margin
    if gap <= 0:
        raise ValueError("the assumed difference must lie above -margin, or no size has power")
    z = stats.norm.ppf(1 - design.alpha) + stats.norm.ppf(design.power)
    variance = p_s * (1 - p_s) + p_c * (1 - p_c) / design.ratio
    return design.size_for(int(np.ceil(z**2 * variance / gap**2)))


def newcombe_lower_bound(
    successes_stable, trials_stable, successes_canary, trials_canary, alpha: float = 0.05
) -> np.ndarray:
    """The lower one-sided (1 - alpha) bound of p_canary - p_stable that `noninferiority_decision`
    uses (Newcombe's hybrid score interval at 1 - 2 alpha), for arrays of counts at once."""
    z = stats.norm.ppf(1 - alpha)

    def wilson(successes, trials):
        p = np.asarray(successes, float) / trials
        centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
        half = z / (1 + z**2 / trials) * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2))
        return p, centre - half, centre + half

    p_s, _, high_s = wilson(successes_stable, np.asarray(trials_stable, float))
    p_c, low_c, _ = wilson(successes_canary, np.asarray(trials_canary, float))
    return p_c - p_s - np.sqrt((p_c - low_c) ** 2 + (high_s - p_s) ** 2)


def simulated_noninferiority_power(
    design: NoninferiorityDesign,
    size: CanarySize,
    *,
    repeats: int = 4000,
    seed: int = 0,
    rule: str = "newcombe",
) -> float:
    """The share of simulated canaries of this size, drawn at the design's rates, declared
    non-inferior: a check of `noninferiority_size` by simulation. `rule="newcombe"` applies the
    decision rule itself (`newcombe_lower_bound` above -margin); `rule="wald"` the Wald bound the
    size formula assumes."""
    rng = np.random.default_rng(seed)
    wins_s = rng.binomial(size.stable, design.rate_stable, repeats)
    wins_c = rng.binomial(size.canary, design.rate_canary, repeats)
    if rule == "newcombe":
        bound = newcombe_lower_bound(wins_s, size.stable, wins_c, size.canary, design.alpha)
    elif rule == "wald":
        p_s, p_c = wins_s / size.stable, wins_c / size.canary
        se = np.sqrt(p_s * (1 - p_s) / size.stable + p_c * (1 - p_c) / size.canary)
        bound = p_c - p_s - stats.norm.ppf(1 - design.alpha) * se
    else:
        raise ValueError("rule must be 'newcombe' or 'wald'")
    return float(np.mean(bound > -design.margin))


def simulated_noninferiority_size(
    design: NoninferiorityDesign, *, repeats: int = 20000, seed: int = 0
) -> CanarySize:
    """The smallest size, in steps of 2% above the normal-approximation formula, at which the
    decision rule itself (Newcombe's bound) reaches the design's power in simulation. Near 100% the
    formula is too small for that rule, because the score interval is wider than Wald's there."""
    formula = noninferiority_size(design)
    for step in range(200):
        size = design.size_for(int(np.ceil(formula.stable * (1 + 0.02 * step))))
        if simulated_noninferiority_power(design, size, repeats=repeats, seed=seed) >= design.power:
            return size
    raise ValueError("no size up to five times the formula's reaches that power")


def noninferiority_decision(
    successes_stable: int,
    trials_stable: int,
    successes_canary: int,
    trials_canary: int,
    margin: float,
    alpha: float = 0.05,
) -> tuple[str, float]:
    """The decision rule fixed before the canary starts: ("non-inferior", bound) when the lower
    one-sided (1 - alpha) bound of p_canary - p_stable (Newcombe's interval at 1 - 2 alpha) lies
    above -margin; ("worse", bound) when the upper bound lies below 0; otherwise ("undecided", bound)."""
    interval = compare_proportions(
        successes_stable, trials_stable, successes_canary, trials_canary, 1 - 2 * alpha
    )
    if interval.low > -margin:
        return "non-inferior", interval.low
    if interval.high < 0:
        return "worse", interval.low
    return "undecided", interval.low


def bootstrap_difference(
    sample_a: Sequence[float],
    sample_b: Sequence[float],
    statistic: Callable[..., np.ndarray] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Percentile bootstrap interval for statistic(B) - statistic(A), the two samples resampled
    independently. `statistic` takes an array and an `axis` keyword (np.mean, np.median, or
    functools.partial(np.quantile, q=0.95)). The bootstrap assumes the observations within each
    sample are independent; requests from one client in one minute may not be."""
    a, b = np.asarray(sample_a, dtype=float), np.asarray(sample_b, dtype=float)

    def difference(x, y, axis):
        return statistic(y, axis=axis) - statistic(x, axis=axis)

    result = stats.bootstrap(
        (a, b),
        difference,
        vectorized=True,
        paired=False,
        confidence_level=confidence,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    value_a, value_b = float(statistic(a, axis=0)), float(statistic(b, axis=0))
    interval = result.confidence_interval
    return Comparison(
        value_a, value_b, value_b - value_a, float(interval.low), float(interval.high), confidence
    )


def per_arm_summary(assignments: Sequence) -> pd.DataFrame:
    """Label-free signals per arm from a router's records (objects with `arm`, `status`,
    `seconds`): requests, server errors (5xx), their rate, and latency percentiles in ms."""
    frame = pd.DataFrame(
        {
            "arm": [a.arm for a in assignments],
            "error": [a.status >= 500 for a in assignments],
            "ms": [1000 * a.seconds for a in assignments],
        }
    )
    return frame.groupby("arm").agg(
        requests=("error", "size"),
        errors=("error", "sum"),
        error_rate=("error", "mean"),
        p50_ms=("ms", "median"),
        p95_ms=("ms", lambda ms: float(np.quantile(ms, 0.95))),
    )


def disagreement(predicted_a: Sequence, predicted_b: Sequence) -> tuple[int, int, float, float]:
    """(disagreements, pairs, low, high): how often two versions predicted different classes for
    the same requests, with Wilson's 95% interval for the rate. Needs no labels."""
    a, b = np.asarray(predicted_a), np.asarray(predicted_b)
    differ = int(np.sum(a != b))
    low, high = wilson_interval(differ, a.size)
    return differ, int(a.size), low, high
