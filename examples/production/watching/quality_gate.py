"""A model-quality gate: a candidate model may replace the current one only if it is not worse by
more than a margin, judged by a proper scoring rule (log loss) on the same test rows, with an
interval. Accuracy alone would pass a model whose probabilities got much worse.

    python -m examples.production.watching CURRENT_MODEL_DIR CANDIDATE_MODEL_DIR

exits 0 when the candidate passes and 1 when it fails, so a CI step can block the merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class GateResult:
    """Mean log loss of each model, the paired difference candidate - current and its one-sided
    upper bound, the margin, and the same for the Brier score (reported, not gated)."""

    current: float
    candidate: float
    difference: float
    upper: float
    margin: float
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
            f"difference {self.difference:+.4f}, 95% upper bound {self.upper:+.4f} "
            f"{'<' if self.passed else '>='} margin {self.margin}"
        )


def quality_gate(
    labels: Sequence[int],
    current: np.ndarray,
    candidate: np.ndarray,
    margin: float = DEFAULT_MARGIN,
    confidence: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> GateResult:
    """Compare two models' probabilities on the same rows (paired: one bootstrap resample of rows
    serves both). The candidate passes when the one-sided `confidence` upper bound of mean log
    loss (candidate - current) lies below `margin`."""
    labels = np.asarray(labels)
    current, candidate = np.asarray(current, float), np.asarray(candidate, float)
    differences = row_log_loss(labels, candidate) - row_log_loss(labels, current)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, labels.size, (resamples, labels.size))
    upper = float(np.quantile(differences[picks].mean(axis=1), confidence))
    brier = row_brier(labels, candidate) - row_brier(labels, current)
    return GateResult(
        current=float(row_log_loss(labels, current).mean()),
        candidate=float(row_log_loss(labels, candidate).mean()),
        difference=float(differences.mean()),
        upper=upper,
        margin=margin,
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
