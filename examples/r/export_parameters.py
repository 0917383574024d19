"""Write the trained pipeline's parameters to a JSON file that R (or any language) can read.

The pipeline is a StandardScaler followed by a multinomial LogisticRegression, so a prediction is
    z = (x - mean) / scale,   s = z W' + b,   p = softmax(s),
and these few arrays are all another language needs to compute the same probabilities.

    python -m examples.r OUT.json [--model-dir DIR]
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from examples.model import LoadedModel, ensure_model
from examples.serving.predictor import LinearPipelinePredictor

FORMAT = "wine-linear-pipeline/1"


def pipeline_parameters(loaded: LoadedModel) -> dict:
    """The scaler's means and scales, the coefficients (one row per class) and intercepts, the
    names of features and classes in the order of those arrays, and the allowed input domain."""
    pipeline, metadata = loaded.pipeline, loaded.metadata
    if not LinearPipelinePredictor.applies_to(pipeline):
        raise ValueError("only a StandardScaler followed by a multinomial LogisticRegression")
    scaler, classifier = (step for _, step in pipeline.steps)
    return {
        "format": FORMAT,
        "model": {"name": metadata.name, "version": metadata.version, "sha256": metadata.sha256},
        "features": list(metadata.features),
        # Row k of the coefficients belongs to classifier.classes_[k], which numbers the classes.
        "classes": [metadata.classes[int(label)] for label in classifier.classes_],
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "coefficients": classifier.coef_.tolist(),
        "intercepts": classifier.intercept_.tolist(),
        "domain": {
            name: {key: metadata.domain[name][key] for key in ("allowed_min", "allowed_max")}
            for name in metadata.features
        },
    }


def softmax_probabilities(parameters: dict, X: np.ndarray) -> np.ndarray:  # noqa: N803
    """The probabilities computed from the exported numbers alone, as the R twin computes them."""
    z = (np.asarray(X, dtype=np.float64) - parameters["mean"]) / parameters["scale"]
    scores = z @ np.asarray(parameters["coefficients"]).T + parameters["intercepts"]
    scores -= scores.max(axis=1, keepdims=True)  # the softmax is unchanged; exp cannot overflow
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def export_parameters(path: Path | str, model_dir: Path | str | None = None) -> dict:
    """Write the parameters of the model in `model_dir` (trained if missing) to `path`."""
    parameters = pipeline_parameters(ensure_model(model_dir))
    # json writes each float as the shortest text that reads back as the same float64.
    Path(path).write_text(json.dumps(parameters, indent=1) + "\n")
    return parameters
