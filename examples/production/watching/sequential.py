"""Looking at a running canary again and again. A test made for one look at a fixed sample size,
repeated at every look, raises a false alarm far more often than its level says. A group-sequential
design fixes the looks in advance and raises the bar at each one so that the chance of crossing at
any look is alpha (Pocock: the same bar every time; O'Brien-Fleming: a high bar early, near the
fixed-sample bar at the end)."""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

from examples.production.watching.canary import newcombe_lower_bound


def look_correlation(looks: int) -> np.ndarray:
    """Correlation of the z-statistics at equally spaced looks: corr(Z_i, Z_j) = sqrt(i / j), i <= j
    (the statistic is a standardised sum, so it behaves like Brownian motion at times i / looks)."""
    index = np.arange(1, looks + 1)
    return np.sqrt(np.minimum.outer(index, index) / np.maximum.outer(index, index))


def _shape(looks: int, kind: str) -> np.ndarray:
    if kind == "pocock":
        return np.ones(looks)
    if kind == "obrien-fleming":
        return np.sqrt(looks / np.arange(1, looks + 1))
    raise ValueError("kind must be 'pocock' or 'obrien-fleming'")


def crossing_probability(bounds: np.ndarray, two_sided: bool = False, seed: int = 0) -> float:
    """P(Z_k >= bounds[k] at some look k) under no difference (|Z_k| when two-sided), from the
    multivariate normal distribution of the looks (Genz's algorithm, scipy)."""
    bounds = np.asarray(bounds, dtype=float)
    law = stats.multivariate_normal(cov=look_correlation(bounds.size), seed=seed)
    lower = -bounds if two_sided else np.full(bounds.size, -np.inf)
    return float(1 - law.cdf(bounds, lower_limit=lower))


def sequential_bounds(
    looks: int, alpha: float = 0.05, kind: str = "obrien-fleming", two_sided: bool = False
) -> np.ndarray:
    """The z-value to cross at each of `looks` equally spaced looks, so that the chance of any
    crossing when nothing differs is `alpha` (Pocock or O'Brien-Fleming shape)."""
    shape = _shape(looks, kind)

    def excess(constant: float) -> float:
        return crossing_probability(constant * shape / shape[-1], two_sided) - alpha

    constant = optimize.brentq(excess, 1.0, 6.0, xtol=1e-5)
    return constant * shape / shape[-1]


def simulate_peeking(
    rate: float,
    looks: int,
    per_look: int,
    bounds: np.ndarray,
    *,
    canary_share: float = 0.2,
    repeats: int = 4000,
    seed: int = 0,
    margin: float | None = None,
) -> float:
    """Share of simulated canaries that cross `bounds[k]` at some look k: a false-alarm rate. Each
    look adds `per_look` requests, split at random by `canary_share`.

    Without `margin`: both arms have success `rate`, and the statistic is the pooled z for "the
    canary is worse" (a needless rollback). With `margin`: the canary is exactly `margin` worse,
    and the decision rule's own Newcombe lower bound, at the one-sided level that `bounds[k]`
    stands for, is compared with -margin at each look (a bad canary let through)."""
    rng = np.random.default_rng(seed)
    canary_rate = rate if margin is None else rate - margin
    canary = rng.binomial(per_look, canary_share, (repeats, looks)).cumsum(axis=1)
    stable = per_look * np.arange(1, looks + 1) - canary
    wins_c = rng.binomial(np.diff(canary, prepend=0, axis=1), canary_rate).cumsum(axis=1)
    wins_s = rng.binomial(np.diff(stable, prepend=0, axis=1), rate).cumsum(axis=1)
    if margin is not None:
        levels = stats.norm.sf(np.asarray(bounds, dtype=float))
        lower = newcombe_lower_bound(wins_s, stable, wins_c, np.maximum(canary, 1), levels)
        return float(np.mean((lower > -margin).any(axis=1)))
    pooled = (wins_c + wins_s) / (canary + stable)
    se = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(canary, 1) + 1 / stable))
    z = np.divide(
        wins_s / stable - wins_c / np.maximum(canary, 1), se, where=se > 0, out=np.zeros(se.shape)
    )
    return float(np.mean((z >= np.asarray(bounds)).any(axis=1)))
