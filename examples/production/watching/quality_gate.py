"""A model-quality gate: a candidate model may replace the current one only if it is not worse by
more than a margin, judged by a proper scoring rule (log loss) on the same test rows, with an
interval. Accuracy alone would pass a model whose probabilities got much worse.

The interval is a paired t bound on the per-row differences, not a percentile bootstrap. The
rows are the test rows, each scored by both models, so the differences are paired and their mean
is what we bound. The t bound assumes the rows are independent and that the mean of n of them is
close to normal (the central limit theorem, n = 45 here); it needs no random resampling, so the
verdict does not depend on a seed. A percentile bootstrap of a mean is too narrow at small n (it
uses the plug-in spread and a normal-like quantile). Strongly skewed differences, a few rows much
worse under the candidate, make every one of these bounds cover less than stated at n = 45: more
test rows are the cure, and chapter 25 compares the bound with scipy's BCa bootstrap as a check.

    python -m examples.production.watching CURRENT_MODEL_DIR CANDIDATE_MODEL_DIR

exits 0 when the candidate passes and 1 when it fails, so a CI step can block the merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

# Log loss in nats per prediction, chosen before looking at any candidate: a twentieth of a nat
# is about three quarters of the current model's own log loss on the test rows (0.067).
DEFAULT_MARGIN = 0.05


def row_log_loss(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """-ln p(true class) for each row, the probability clipped at 1e-15 to stay finite."""
    picked = probabilities[np.arange(len(labels)), np.asarray(labels)]
    return -np.log(np.clip(picked, 1e-15, 1.0))


def row_brier(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Multi-class Brier score per row: squared distance of the probabilities from the one-hot truth."""
    truth = np.eye(probabilities.shape[1])[np.asarray(labels)]
    return ((probabilities - truth) ** 2).sum(axis=1)


def paired_differences(
    labels: Sequence[int], current: np.ndarray, candidate: np.ndarray
) -> np.ndarray:
    """Each row's log loss under the candidate minus its log loss under the current model."""
    labels = np.asarray(labels)
    current, candidate = np.asarray(current, float), np.asarray(candidate, float)
    return row_log_loss(labels, candidate) - row_log_loss(labels, current)


def paired_t_upper_bound(differences: np.ndarray, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound for the mean of paired differences, mean + t(n-1) * s /
    sqrt(n) (scipy's one-sample t-test). Differences that are all equal (an identical retrain)
    have no spread, and the bound is their common value."""
    differences = np.asarray(differences, float)
    if differences.size < 2:
        raise ValueError("the bound needs at least two rows")
    if np.ptp(differences) == 0:
        return float(differences[0])
    test = stats.ttest_1samp(differences, 0.0, alternative="less")
    return float(test.confidence_interval(confidence).high)


@dataclass(frozen=True)
class GateResult:
    """Mean log loss of each model on the same rows, the mean paired difference candidate -
    current with its one-sided upper bound, the margin, and (reported, not gated) the Brier
    score's difference and each model's accuracy."""

    current: float
    candidate: float
    difference: float
    upper: float
    margin: float
    rows: int
    confidence: float
    brier_difference: float
    accuracy_current: float
    accuracy_candidate: float

    @property
    def passed(self) -> bool:
        return self.upper < self.margin

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"{verdict}: log loss current {self.current:.4f}, candidate {self.candidate:.4f}; "
            f"difference {self.difference:+.4f}, paired t {self.confidence:.0%} upper bound "
            f"{self.upper:+.4f} (n = {self.rows}) {'<' if self.passed else '>='} margin "
            f"{self.margin}"
        )


def quality_gate(
    labels: Sequence[int],
    current: np.ndarray,
    candidate: np.ndarray,
    margin: float = DEFAULT_MARGIN,
    confidence: float = 0.95,
) -> GateResult:
    """Compare two models' probabilities on the same rows. The candidate passes when the
    one-sided `confidence` upper bound of the mean paired difference in log loss (candidate -
    current) lies below `margin`."""
    labels = np.asarray(labels)
    current, candidate = np.asarray(current, float), np.asarray(candidate, float)
    differences = paired_differences(labels, current, candidate)
    brier = row_brier(labels, candidate) - row_brier(labels, current)
    return GateResult(
        current=float(row_log_loss(labels, current).mean()),
        candidate=float(row_log_loss(labels, candidate).mean()),
        difference=float(differences.mean()),
        upper=paired_t_upper_bound(differences, confidence),
        margin=margin,
        rows=int(labels.size),
        confidence=confidence,
        brier_difference=float(brier.mean()),
        accuracy_current=float(np.mean(current.argmax(axis=1) == labels)),
        accuracy_candidate=float(np.mean(candidate.argmax(axis=1) == labels)),
    )


def gate_models(current_dir, candidate_dir, margin: float = DEFAULT_MARGIN) -> GateResult:
    """Load two model folders and run the gate on the book's fixed test split."""
    from examples.model.artifact import load_model
    from examples.model.training import split_data

    _, X_test, _, y_test = split_data()  # noqa: N806 - scikit-learn's naming
    rows = X_test.to_numpy()
    current, candidate = load_model(current_dir), load_model(candidate_dir)
    return quality_gate(
        y_test.to_numpy(),
        current.pipeline.predict_proba(rows),
        candidate.pipeline.predict_proba(rows),
        margin,
    )
