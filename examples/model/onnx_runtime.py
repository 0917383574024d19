"""The same pipeline run by onnxruntime: export it with skl2onnx, predict with an InferenceSession.

ONNX computes in float32 here, scikit-learn in float64, so the two agree only up to rounding:
PROBABILITY_TOLERANCE is the largest difference in any probability that chapter 8 and the tests
accept. The service itself does not run onnxruntime: it uses its own float64 numpy arithmetic
(examples/serving/predictor.py, LinearPipelinePredictor), with a tolerance of its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.pipeline import Pipeline

from examples.model.training import FEATURE_NAMES

# float32 carries about 7 significant digits (its unit roundoff is 2**-24, about 6e-8); after a
# scaling, a matrix product and a softmax the probabilities differ from float64 by a few 1e-7.
# 1e-5 leaves a wide margin above that and is still far below any difference that would matter.
PROBABILITY_TOLERANCE = 1e-5
INPUT_NAME = "features"
PROBABILITIES_OUTPUT = "probabilities"


def export_onnx(pipeline: Pipeline, n_features: int = len(FEATURE_NAMES)) -> bytes:
    """Translate a fitted pipeline into an ONNX graph with one float32 input of n_features columns."""
    classifier = pipeline.steps[-1][1]
    model = to_onnx(
        pipeline,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        # Without this, the classifier's output is a list of {class: probability} dictionaries
        # (a "ZipMap"); a plain matrix is what predict_proba returns and is faster to produce.
        options={id(classifier): {"zipmap": False}},
    )
    return model.SerializeToString()


class OnnxPredictor:
    """predict_proba and predict on an ONNX model, with onnxruntime instead of scikit-learn."""

    def __init__(self, model: bytes | str | Path):
        options = onnxruntime.SessionOptions()
        # One thread per call: our matrices are tiny, and a server already runs one worker per core.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        source = model if isinstance(model, bytes) else str(model)
        self.session = onnxruntime.InferenceSession(
            source, options, providers=["CPUExecutionProvider"]
        )

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline) -> OnnxPredictor:
        return cls(export_onnx(pipeline))

    def _as_input(self, X: np.ndarray) -> np.ndarray:  # noqa: N803 - the usual name for a design matrix
        X = np.asarray(X, dtype=np.float32)  # noqa: N806
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D array (rows, features), got shape {X.shape}")
        return X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Class probabilities, one row per input row (float32)."""
        (probabilities,) = self.session.run([PROBABILITIES_OUTPUT], {INPUT_NAME: self._as_input(X)})
        return probabilities

    def predict(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """The index of the most probable class for every row."""
        return np.argmax(self.predict_proba(X), axis=1)


def max_probability_difference(pipeline: Pipeline, predictor: OnnxPredictor, X) -> float:  # noqa: N803
    """The largest absolute difference between the two runtimes' probabilities over the rows of X."""
    X = np.asarray(X, dtype=np.float64)  # noqa: N806
    return float(np.max(np.abs(pipeline.predict_proba(X) - predictor.predict_proba(X))))
