"""A bare batch endpoint: the model loaded once, rows straight into a numpy array, one vectorised
call, the reply. No validation, no logging, no storage: the most a batch endpoint can do per second.
"""

from __future__ import annotations

import numpy as np
from flask import Flask, request

from examples.model import CLASS_NAMES, FEATURE_NAMES, ensure_model
from examples.production.contenders.flask_base import health_checked_app


def create_app(model_dir: str | None = None) -> Flask:
    loaded = ensure_model(model_dir)
    pipeline, version = loaded.pipeline, loaded.metadata.version
    app = health_checked_app(__name__)

    @app.post("/v1/predict/batch")
    def predict_batch():
        instances = request.get_json()["instances"]
        rows = np.array([[row[name] for name in FEATURE_NAMES] for row in instances], dtype=float)
        probabilities = pipeline.predict_proba(rows)
        winners = probabilities.argmax(axis=1)
        predictions = [
            {"prediction": CLASS_NAMES[w], "probabilities": dict(zip(CLASS_NAMES, p, strict=True))}
            for w, p in zip(winners.tolist(), probabilities.tolist(), strict=True)
        ]
        return {"predictions": predictions, "model_version": version, "count": len(predictions)}

    return app
