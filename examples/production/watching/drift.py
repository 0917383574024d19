"""Has the input changed? Compare the features the service sees now with the training data, one
feature at a time: the population stability index (PSI, a size of change) and the two-sample
Kolmogorov-Smirnov test (a p-value), with a correction for testing many features at once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

# Conventional PSI bands, a rule of thumb from credit scoring, not a statistical test:
# below 0.1 "stable", 0.1 to 0.25 "moderate" change, above 0.25 "major" change.
PSI_BANDS = ((0.1, "stable"), (0.25, "moderate"), (np.inf, "major"))


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Interior bin edges at the reference's quantiles 1/bins, ..., (bins-1)/bins.

    Repeated values (a discrete feature) can make two quantiles equal; duplicates are dropped, so
    there may be fewer bins than asked. The outer bins are open-ended: a current value below the
    reference's minimum or above its maximum still lands in a bin instead of being dropped.
    """
    if bins < 2:
        raise ValueError("bins must be at least 2")
    reference = np.asarray(reference, dtype=float)
    inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def bin_proportions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `values` in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    values = np.asarray(values, dtype=float)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
    return counts / counts.sum()


def psi(
    reference: Sequence[float], current: Sequence[float], bins: int = 10, epsilon: float = 1e-4
) -> float:
    """Population stability index of `current` against `reference`.

    PSI = sum over bins of (c - r) * ln(c / r), where r and c are the shares of the reference and
    of the current data in each bin (bins from the reference's quantiles). It is the symmetrised
    Kullback-Leibler divergence between the two binned distributions: 0 when they agree, larger
    the more they differ. A bin that one sample leaves empty would make ln(c / r) infinite, so
    shares below `epsilon` are raised to `epsilon` (a choice that caps the term; it is not a
    correction with a statistical justification).
    """
    reference, current = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if reference.size == 0 or current.size == 0:
        raise ValueError("both samples need at least one value")
    edges = quantile_edges(reference, bins)
    r = np.maximum(bin_proportions(reference, edges), epsilon)
    c = np.maximum(bin_proportions(current, edges), epsilon)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_band(value: float) -> str:
    """'stable', 'moderate' or 'major', by the conventional thresholds in PSI_BANDS."""
    return next(label for limit, label in PSI_BANDS if value < limit)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values: rejecting where adjusted < alpha keeps the chance of
    even one false rejection among all the tests (the family-wise error rate) at most alpha,
    whatever the dependence between the tests."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p)
    # The i-th smallest p-value (i from 0) is multiplied by m - i; running maximum keeps order.
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values: rejecting where adjusted < alpha keeps the expected
    share of false rejections among the rejections (the false discovery rate) at most alpha,
    for independent or positively dependent tests. Less strict than Holm."""
    return stats.false_discovery_control(np.asarray(p_values, dtype=float), method="bh")


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg, "none": lambda p: np.asarray(p, float)}


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str] | None = None,
    *,
    bins: int = 10,
    alpha: float = 0.05,
    correction: str = "holm",
) -> pd.DataFrame:
    """One row per feature: PSI and its band, the KS statistic, its p-value, the p-value adjusted
    for testing every feature (`correction`: "holm", "bh" or "none"), and whether the adjusted
    p-value is below `alpha`.

    With thousands of logged requests the KS test detects differences too small to matter; with
    a handful it misses large ones. Read `psi` for the size of a change, `p_adjusted` for whether
    the data can tell it from chance.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}")
    features = list(features if features is not None else reference.columns)
    rows = []
    for name in features:
        ref, cur = reference[name].to_numpy(float), current[name].to_numpy(float)
        test = stats.ks_2samp(ref, cur)
        value = psi(ref, cur, bins=bins)
        rows.append(
            {
                "feature": name,
                "psi": value,
                "psi_band": psi_band(value),
                "ks_statistic": float(test.statistic),
                "p_value": float(test.pvalue),
                "reference_mean": float(ref.mean()),
                "current_mean": float(cur.mean()),
            }
        )
    report = pd.DataFrame(rows).set_index("feature")
    report.insert(4, "p_adjusted", CORRECTIONS[correction](report["p_value"].to_numpy()))
    report.insert(5, "drifted", report["p_adjusted"] < alpha)
    return report


def ks_permutation_test(
    reference: Sequence[float],
    current: Sequence[float],
    n_permutations: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """(KS statistic, permutation p-value). scipy's p-value assumes continuous data; with ties (an
    integer feature such as magnesium) it is conservative. Shuffling the pooled values between
    the two samples gives the statistic's null distribution with the ties as they are."""
    reference, current = np.asarray(reference, float), np.asarray(current, float)
    observed = stats.ks_2samp(reference, current).statistic
    pooled = np.concatenate([reference, current])
    rng = np.random.default_rng(seed)
    larger = 0
    for _ in range(n_permutations):
        shuffled = rng.permutation(pooled)
        larger += stats.ks_2samp(
            shuffled[: reference.size], shuffled[reference.size :]
        ).statistic >= (observed - 1e-12)
    return float(observed), float((larger + 1) / (n_permutations + 1))


def cusum(z_values: Sequence[float], allowance: float = 0.5) -> np.ndarray:
    """Two-sided CUSUM path: S_t = max(S+_t, S-_t) with S+_t = max(0, S+_{t-1} + z_t - k) and
    S-_t = max(0, S-_{t-1} - z_t - k). Small shifts that persist add up; noise drains away at k
    per step. An alarm is S_t above a threshold h chosen for a false-alarm budget."""
    upper = lower = 0.0
    path = []
    for z in np.asarray(z_values, dtype=float):
        upper, lower = max(0.0, upper + z - allowance), max(0.0, lower - z - allowance)
        path.append(max(upper, lower))
    return np.array(path)


def hourly_z(
    rng: np.random.Generator,
    hours: int,
    per_hour: int,
    shift: float = 0.0,
    start: int = 0,
    reference_size: int | None = None,
    repeats: int = 1,
) -> np.ndarray:
    """Simulated hourly z-statistics of one standardised feature, (repeats, hours): the hour's mean
    minus the reference mean, over 1/sqrt(per_hour). From hour `start` on, the feature's mean has
    moved by `shift` standard deviations. With `reference_size`, the reference mean is itself
    estimated from that many rows, an error shared by every hour of the month."""
    means = rng.normal(0.0, 1 / np.sqrt(per_hour), (repeats, hours))
    means[:, start:] += shift
    if reference_size:
        means -= rng.normal(0.0, 1 / np.sqrt(reference_size), (repeats, 1))
    return means * np.sqrt(per_hour)


def cusum_paths(z: np.ndarray, allowance: float = 0.5) -> np.ndarray:
    """The two-sided CUSUM path of each row of hourly z-values (months x hours), as `cusum`."""
    z = np.atleast_2d(np.asarray(z, dtype=float))
    upper, lower = np.zeros(z.shape[0]), np.zeros(z.shape[0])
    paths = np.empty(z.shape)
    for hour in range(z.shape[1]):
        upper = np.maximum(0.0, upper + z[:, hour] - allowance)
        lower = np.maximum(0.0, lower - z[:, hour] - allowance)
        paths[:, hour] = np.maximum(upper, lower)
    return paths


def cusum_alarms(z: np.ndarray, threshold: float, allowance: float = 0.5) -> np.ndarray:
    """For each row of hourly z-values: the first hour whose CUSUM exceeds `threshold`, or -1."""
    crossed = cusum_paths(z, allowance) > threshold
    return np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
