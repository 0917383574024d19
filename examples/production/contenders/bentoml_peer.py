"""The same model behind BentoML, with the same pydantic validation as the FastAPI peer.

    BENTOML_DO_NOT_TRACK=True SERVING_MODEL_DIR=... bentoml serve \
        examples.production.contenders.bentoml_peer:WineClassifier --host 127.0.0.1 --port 3000

BentoML runs in its own virtual environment (benchmarks/peers.py makes it), so the book's own
requirements stay lean. This module is the service's entry point: like a wsgi.py, it loads the
model when imported, because BentoML reads the request types from the class at import time.
"""

from __future__ import annotations

import os
from typing import Annotated

import bentoml
from pydantic import Field

from examples.model import ensure_model
from examples.production.contenders.validation import MAX_BATCH_SIZE, features_model, predict_rows

LOADED = ensure_model(os.environ.get("SERVING_MODEL_DIR"))
Features = features_model(LOADED.metadata.domain)
Instances = Annotated[list[Features], Field(min_length=1, max_length=MAX_BATCH_SIZE)]


# No access log, as the FastAPI peer runs with --no-access-log.
@bentoml.service(
    workers=int(os.environ.get("PEER_WORKERS", "2")),
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},
)
class WineClassifier:
    """One endpoint for a row and one for a batch, answering in the reference's shape."""

    def __init__(self) -> None:
        self.pipeline = LOADED.pipeline
        self.version = LOADED.metadata.version

    @bentoml.api(route="/v1/predict")
    def predict(self, features: Features) -> dict:  # type: ignore[valid-type]
        return {**predict_rows(self.pipeline, [features])[0], "model_version": self.version}

    @bentoml.api(route="/v1/predict/batch")
    def predict_batch(self, instances: Instances) -> dict:  # type: ignore[valid-type]
        predictions = predict_rows(self.pipeline, instances)
        return {"predictions": predictions, "model_version": self.version,
                "count": len(predictions)}  # fmt: skip
