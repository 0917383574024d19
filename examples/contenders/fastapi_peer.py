"""The same model behind FastAPI + uvicorn, with pydantic validation: the peer we compare with.

    uvicorn examples.contenders.fastapi_peer:create_app --factory --workers 2 \
        --loop uvloop --http httptools --host 127.0.0.1 --port 8000

Each feature is a finite float within the range the model allows; unknown fields are refused.
"""

# No `from __future__ import annotations`: FastAPI reads the request classes, defined inside
# create_app, from the annotations at run time.
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, create_model

from examples.model import CLASS_NAMES, FEATURE_NAMES, ensure_model

MAX_BATCH_SIZE = 1_000


def features_model(domain: dict[str, dict[str, float]]) -> type[BaseModel]:
    """A pydantic model with one float field per feature, bounded by the model's allowed range."""
    fields = {
        name: (float, Field(ge=domain[name]["allowed_min"], le=domain[name]["allowed_max"]))
        for name in FEATURE_NAMES
    }
    strict = ConfigDict(extra="forbid", allow_inf_nan=False)
    return create_model("Features", __config__=strict, **fields)


def create_app(model_dir: str | None = None) -> FastAPI:
    loaded = ensure_model(model_dir)
    pipeline, version = loaded.pipeline, loaded.metadata.version
    Features = features_model(loaded.metadata.domain)  # noqa: N806 - a class, named like one

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        features: Features

    class BatchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        instances: list[Features] = Field(min_length=1, max_length=MAX_BATCH_SIZE)

    def predict_rows(rows: list[BaseModel]) -> list[dict]:
        matrix = np.array([[getattr(row, name) for name in FEATURE_NAMES] for row in rows])
        probabilities = pipeline.predict_proba(matrix)
        return [
            {
                "prediction": CLASS_NAMES[int(p.argmax())],
                "probabilities": dict(zip(CLASS_NAMES, p.tolist(), strict=True)),
            }
            for p in probabilities
        ]

    app = FastAPI(title="wine classifier (FastAPI peer)")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    # `async def`: one prediction takes a fraction of a millisecond of CPU, less than handing it
    # to FastAPI's thread pool would cost; with two worker processes, two run at once.
    @app.post("/v1/predict")
    async def predict(body: PredictRequest):
        return {**predict_rows([body.features])[0], "model_version": version}

    @app.post("/v1/predict/batch")
    async def predict_batch(body: BatchRequest):
        predictions = predict_rows(body.instances)
        return {"predictions": predictions, "model_version": version, "count": len(predictions)}

    return app
