"""The model inside the service: loaded and verified once, at start-up, and asked for
probabilities a whole array at a time."""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from examples.model import ArtifactError, LoadedModel, ModelMetadata, ensure_model, load_model
from examples.serving.settings import Settings


class Predictor(Protocol):
    """What the routes need from a model. A faster runtime (ONNX, chapter 8) only has to offer this."""

    metadata: ModelMetadata
    class_names: list[str]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - the usual name for a design matrix
        """Rows of X are in `metadata.features` order; column j of the result is `class_names[j]`."""
        ...


class PipelinePredictor:
    """The scikit-learn pipeline from the verified skops artifact."""

    def __init__(self, loaded: LoadedModel):
        self.pipeline = loaded.pipeline
        self.metadata = loaded.metadata
        # The pipeline numbers the classes 0, 1, 2; the metadata names them in that order.
        self.class_names = [loaded.metadata.classes[int(label)] for label in self.pipeline.classes_]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        return self.pipeline.predict_proba(X)


class LinearPipelinePredictor(PipelinePredictor):
    """The same arithmetic as the pipeline (standardise, linear scores, softmax) in plain numpy.

    scikit-learn checks its input on every call, which costs far more than the arithmetic for a
    13-feature model (chapter 8 measures it). The service has already validated the input, so it
    may skip those checks; `verified` proves at start-up that the answers are the pipeline's.
    """

    # Largest difference in any probability we accept between this and predict_proba: both are
    # float64, so they differ only by the order of rounding, around 1e-16.
    TOLERANCE = 1e-9

    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        scaler, classifier = (step for _, step in self.pipeline.steps)
        self.mean = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale = np.asarray(scaler.scale_, dtype=np.float64)
        # Folding the scaling into the weights: ((x - m) / s) W' + b = x (W / s)' + (b - (m / s) W')
        self.weights = (classifier.coef_ / self.scale).T
        self.offset = classifier.intercept_ - (self.mean / self.scale) @ classifier.coef_.T

    @staticmethod
    def applies_to(pipeline) -> bool:
        """True for a StandardScaler followed by a multinomial LogisticRegression."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        steps = [step for _, step in getattr(pipeline, "steps", [])]
        return (
            len(steps) == 2
            and type(steps[0]) is StandardScaler
            and type(steps[1]) is LogisticRegression
            and len(steps[1].classes_) > 2
            and steps[0].with_mean
            and steps[0].with_std
        )

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        scores = X @ self.weights + self.offset
        scores -= scores.max(axis=1, keepdims=True)  # softmax is unchanged; exp cannot overflow
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def verified(self, n_rows: int = 512, seed: int = 0) -> bool:
        """Compare with the pipeline on random rows spread over the whole allowed input domain."""
        domain = self.metadata.domain
        low = np.array([domain[name]["allowed_min"] for name in self.metadata.features])
        high = np.array([domain[name]["allowed_max"] for name in self.metadata.features])
        rows = np.random.default_rng(seed).uniform(low, high, size=(n_rows, len(low)))
        difference = np.abs(self.predict_proba(rows) - self.pipeline.predict_proba(rows)).max()
        return bool(difference <= self.TOLERANCE)


def load_predictor(settings: Settings, logger=None) -> PipelinePredictor:
    """Load the model named by the settings; raises ArtifactError when it fails its checks.

    With `settings.fast_path` (the default), a pipeline of the usual shape is run by
    LinearPipelinePredictor once it has reproduced the pipeline's probabilities.
    """
    # SERVING_MODEL_SHA256, when set, names the one model file this service may load.
    expected = settings.model_sha256 or None
    if settings.train_if_missing:
        loaded = ensure_model(settings.model_dir, expected_sha256=expected)
    else:
        loaded = load_model(settings.model_dir, expected_sha256=expected)
    if settings.fast_path and LinearPipelinePredictor.applies_to(loaded.pipeline):
        fast = LinearPipelinePredictor(loaded)
        if fast.verified():
            return fast
        if logger is not None:
            logger.warning("fast path disagrees with the pipeline; using scikit-learn instead")
    return PipelinePredictor(loaded)


class ModelNotLoaded(RuntimeError):
    """The model failed to load and settings.model_required says the service must not start."""


class ServiceState:
    """What one app knows about its model: the predictor, or why there is none, and the schemas."""

    def __init__(
        self, settings: Settings, predictor: Predictor | None = None, load_error: str | None = None
    ):
        from examples.serving.schemas import build_schemas  # schemas need no model to import

        self.settings = settings
        self.predictor = predictor
        self.load_error = load_error
        metadata = predictor.metadata if predictor else None
        self.schemas = build_schemas(metadata, settings.max_batch_size)

    @classmethod
    def start(cls, settings: Settings, predictor: Predictor | None, logger) -> ServiceState:
        """Load the model once. A model that cannot be read is retried a bounded number of times;
        one that fails its checks is not. After the last failure the service stays up but not
        ready, or, with settings.model_required, the start-up fails (ModelNotLoaded)."""
        if predictor is not None:
            return cls(settings, predictor)
        wait = settings.model_load_retry_seconds
        for attempt in range(1, settings.model_load_attempts + 1):
            # Only the failures a model can have are caught: a bug (TypeError, ...) is raised.
            try:
                return cls(settings, load_predictor(settings, logger))
            except ArtifactError as error:
                failure = error
                break
            except OSError as error:
                failure = error
                if attempt < settings.model_load_attempts:
                    logger.warning("model not loaded (try %d): %s; retrying", attempt, error)
                    time.sleep(wait)
                    wait *= 2
        reason = f"{type(failure).__name__}: {failure}"
        if settings.model_required:
            raise ModelNotLoaded(f"model not loaded: {failure}") from failure
        logger.error("model not loaded: %s", failure)
        return cls(settings, None, load_error=reason)

    @property
    def ready(self) -> bool:
        return self.predictor is not None


def service_state() -> ServiceState:
    """The state of the app handling the current request."""
    from flask import current_app

    return current_app.extensions["serving"]
