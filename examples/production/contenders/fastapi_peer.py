"""The same model behind FastAPI + uvicorn, with pydantic validation: the peer we compare with.

    uvicorn examples.production.contenders.fastapi_peer:create_app --factory --workers 2 \
        --loop uvloop --http httptools --host 127.0.0.1 --port 8000

Each feature is a finite float within the range the model allows; unknown fields are refused.
"""

# No `from __future__ import annotations`: FastAPI reads the request classes, defined inside
# create_app, from the annotations at run time.
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from examples.model import ensure_model
from examples.production.contenders.validation import MAX_BATCH_SIZE, features_model, predict_rows


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

    app = FastAPI(title="wine classifier (FastAPI peer)")

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    # `async def`: one prediction takes a fraction of a millisecond of CPU, less than handing it
    # to FastAPI's thread pool would cost; with two worker processes, two run at once.
    @app.post("/v1/predict")
    async def predict(body: PredictRequest):
        return {**predict_rows(pipeline, [body.features])[0], "model_version": version}

    @app.post("/v1/predict/batch")
    async def predict_batch(body: BatchRequest):
        predictions = predict_rows(pipeline, body.instances)
        return {"predictions": predictions, "model_version": version, "count": len(predictions)}

    return app
