"""Do the predicted probabilities mean what they say? Among the predictions made with confidence
about 0.8, about 80% should be right. A reliability table groups predictions by confidence and
compares, in each group, the mean confidence with the share that was right."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


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
