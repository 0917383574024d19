"""Do the predicted probabilities mean what they say? Among the predictions made with confidence
about 0.8, about 80% should be right. A reliability table groups predictions by confidence and
compares, in each group, the mean confidence with the share that was right."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


def top_label(
    y_true: Sequence, probabilities: np.ndarray, classes: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correct): the highest predicted probability of each row, and whether that
    class was the true one. `probabilities` has one column per class, in the order of `classes`
    (default 0, 1, ..., K-1); a 1-D array is read as P(class 1) of a binary problem."""
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim == 1:
        probabilities = np.column_stack([1 - probabilities, probabilities])
    classes = np.asarray(classes if classes is not None else np.arange(probabilities.shape[1]))
    predicted = classes[np.argmax(probabilities, axis=1)]
    return probabilities.max(axis=1), predicted == np.asarray(y_true)


def reliability_table(
    y_true: Sequence, probabilities: np.ndarray, classes: Sequence | None = None, n_bins: int = 10
) -> pd.DataFrame:
    """One row per non-empty confidence bin of equal width on [0, 1]: how many predictions, their
    mean confidence, the share that was right (accuracy), and the gap accuracy - confidence
    (negative: overconfident)."""
    confidence, correct = top_label(y_true, probabilities, classes)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds confidences in (edges[i], edges[i+1]]; a confidence of exactly 0 joins bin 0.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    frame = pd.DataFrame({"bin": index, "confidence": confidence, "correct": correct.astype(float)})
    table = frame.groupby("bin").agg(
        count=("correct", "size"),
        mean_confidence=("confidence", "mean"),
        accuracy=("correct", "mean"),
    )
    table.insert(0, "upper", edges[table.index + 1])
    table.insert(0, "lower", edges[table.index])
    table["gap"] = table["accuracy"] - table["mean_confidence"]
    return table.reset_index(drop=True)


def expected_calibration_error(
    y_true: Sequence, probabilities: np.ndarray, classes: Sequence | None = None, n_bins: int = 10
) -> float:
    """ECE: the average over bins of |accuracy - mean confidence|, weighted by the bins' sizes.
    0 for perfect calibration. It depends on the number of bins, and with few predictions per
    bin it is biased upwards (noise alone makes the gaps non-zero)."""
    table = reliability_table(y_true, probabilities, classes, n_bins)
    weights = table["count"] / table["count"].sum()
    return float((weights * table["gap"].abs()).sum())


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a proportion, from beta quantiles: its coverage is
    at least `confidence` for every true proportion, also when every trial succeeded."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    tail = (1 - confidence) / 2
    low = 0.0 if successes == 0 else stats.beta.ppf(tail, successes, trials - successes + 1)
    high = (
        1.0 if successes == trials else stats.beta.ppf(1 - tail, successes + 1, trials - successes)
    )
    return float(low), float(high)


@dataclass(frozen=True)
class ConfidenceCheck:
    """Mean confidence against accuracy: a model that says on average `mean_confidence` should be
    right about that often; `low`-`high` is the Clopper-Pearson interval for its accuracy."""

    mean_confidence: float
    correct: int
    trials: int
    low: float
    high: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.trials

    @property
    def verdict(self) -> str:
        if self.mean_confidence < self.low:
            return "underconfident: the mean confidence lies below the accuracy's interval"
        if self.mean_confidence > self.high:
            return "overconfident: the mean confidence lies above the accuracy's interval"
        return "consistent: the mean confidence lies inside the accuracy's interval"


def confidence_check(
    y_true: Sequence, probabilities: np.ndarray, classes: Sequence | None = None, confidence=0.95
) -> ConfidenceCheck:
    """Compare the mean top-label confidence with the accuracy and its exact interval. Only the
    overall level is tested, not each confidence bin, but the test is valid at any sample size."""
    top, correct = top_label(y_true, probabilities, classes)
    low, high = clopper_pearson(int(correct.sum()), correct.size, confidence)
    return ConfidenceCheck(float(top.mean()), int(correct.sum()), int(correct.size), low, high)


def ece_if_calibrated(
    probabilities: np.ndarray, n_bins: int = 10, repeats: int = 500, seed: int = 0
) -> np.ndarray:
    """ECE values of a perfectly calibrated model with these very probabilities: labels drawn from
    the probabilities themselves, so every gap is noise. Their size shows ECE's upward bias at
    this sample size (a calibrated model's ECE is never 0 in a finite sample)."""
    probabilities = np.asarray(probabilities, dtype=float)
    rng = np.random.default_rng(seed)
    confidence = probabilities.max(axis=1)
    predicted = probabilities.argmax(axis=1)
    # The same bins as reliability_table, computed once: only the labels change between draws.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    confidence_sums = np.bincount(index, weights=confidence, minlength=n_bins)
    cumulative = probabilities.cumsum(axis=1)
    draws = rng.random((repeats, len(probabilities), 1))
    labels = (draws > cumulative).sum(axis=2).clip(max=probabilities.shape[1] - 1)
    values = np.empty(repeats)
    for repeat in range(repeats):
        correct_sums = np.bincount(
            index, weights=(labels[repeat] == predicted).astype(float), minlength=n_bins
        )
        values[repeat] = np.abs(correct_sums - confidence_sums).sum() / len(probabilities)
    return values
