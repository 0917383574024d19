"""Train the wine classifier: a scikit-learn Pipeline, fixed randomness, a held-out evaluation and
the input domain (feature names, types and ranges) that the service will validate against."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

MODEL_NAME = "wine-classifier"
MODEL_VERSION = "1.0.0"
RANDOM_STATE = 42
TEST_SIZE = 0.25
# How far outside the range seen in training a value may lie, as a share of that range, before the
# service refuses it: a little room for new measurements, none for values the model never saw.
DOMAIN_MARGIN = 0.10

# scikit-learn's name "od280/od315_of_diluted_wines" has a slash; a JSON field and a Python
# attribute are both easier without one.
FEATURE_NAMES: list[str] = [name.replace("/", "_") for name in load_wine().feature_names]
CLASS_NAMES: list[str] = [str(name) for name in load_wine().target_names]


@dataclass
class TrainingResult:
    """A fitted pipeline with what we learnt about it while training."""

    pipeline: Pipeline
    metrics: dict[str, float]
    domain: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    feature_types: dict[str, str] = field(default_factory=dict)


def load_wine_frame() -> pd.DataFrame:
    """The wine data as one table: 13 chemical measurements and the cultivar (class) of 178 wines."""
    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns=lambda name: name.replace("/", "_"))
    return frame


def split_data(frame: pd.DataFrame | None = None):
    """The fixed train/test split every chapter uses: X_train, X_test, y_train, y_test."""
    frame = load_wine_frame() if frame is None else frame
    features, target = frame[FEATURE_NAMES], frame["target"]
    return train_test_split(
        features, target, test_size=TEST_SIZE, random_state=RANDOM_STATE, stratify=target
    )


def make_pipeline(C: float = 1.0) -> Pipeline:  # noqa: N803 - scikit-learn's name for it
    """Standardise the features, then a multinomial logistic regression."""
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(C=C, max_iter=1000, random_state=RANDOM_STATE)),
        ]
    )


def input_domain(X: pd.DataFrame) -> dict[str, dict[str, float]]:  # noqa: N803
    """Observed range of every feature, and the wider range the service accepts."""
    domain = {}
    for name in FEATURE_NAMES:
        low, high = float(X[name].min()), float(X[name].max())
        margin = DOMAIN_MARGIN * (high - low)
        domain[name] = {
            "observed_min": low,
            "observed_max": high,
            "allowed_min": round(max(0.0, low - margin), 6),
            "allowed_max": round(high + margin, 6),
        }
    return domain


def feature_types_of(X: pd.DataFrame) -> dict[str, str]:  # noqa: N803
    """The numeric type of every feature as numpy names it (all 13 are float64 here)."""
    return {name: str(X[name].dtype) for name in FEATURE_NAMES}


def evaluate(pipeline: Pipeline, X_test, y_test) -> dict[str, float]:  # noqa: N803
    """Held-out accuracy, macro F1 and log loss, rounded so that reruns print the same figures."""
    probabilities = pipeline.predict_proba(X_test)
    predicted = np.argmax(probabilities, axis=1)
    return {
        "accuracy": round(float(accuracy_score(y_test, predicted)), 4),
        "macro_f1": round(float(f1_score(y_test, predicted, average="macro")), 4),
        "log_loss": round(float(log_loss(y_test, probabilities)), 4),
    }


def train_model(C: float = 1.0) -> TrainingResult:  # noqa: N803
    """Fit the pipeline on the training split and evaluate it on the held-out split."""
    X_train, X_test, y_train, y_test = split_data()  # noqa: N806
    # Fitted on a plain array: the service sends arrays in FEATURE_NAMES order, and a pipeline
    # fitted on a DataFrame would warn on every array it is given.
    pipeline = make_pipeline(C).fit(X_train.to_numpy(), y_train.to_numpy())
    return TrainingResult(
        pipeline=pipeline,
        metrics=evaluate(pipeline, X_test.to_numpy(), y_test.to_numpy()),
        domain=input_domain(X_train),
        n_train=len(X_train),
        n_test=len(X_test),
        feature_types=feature_types_of(X_train),
    )
