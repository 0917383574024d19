"""The same model behind LitServe, with the same pydantic validation as the FastAPI peer.

    SERVING_MODEL_DIR=... python -m examples.production.contenders.litserve_peer --port 8000

LitServe runs in its own virtual environment (benchmarks/peers.py makes it). Its design differs
from a WSGI server's: uvicorn processes answer HTTP and pass each parsed body through a queue to
separate inference processes (`workers_per_device` per endpoint), which validate it
(`decode_request`), predict, and send the answer back the same way. With two endpoints and two
workers each that is four inference processes and, by LitServe's default, four HTTP processes.
`fast_queue=True` carries the queues over ZeroMQ, which LitServe recommends above 100 requests/s,
instead of a multiprocessing manager process.
"""

from __future__ import annotations

import argparse
import os

import litserve as ls
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from examples.model import ensure_model
from examples.production.contenders.validation import MAX_BATCH_SIZE, features_model, predict_rows


class WineAPI(ls.LitAPI):
    """One row, or a batch of rows, validated and predicted in the reference's shape."""

    def __init__(self, model_dir: str | None, batch: bool) -> None:
        super().__init__(api_path="/v1/predict/batch" if batch else "/v1/predict")
        self.model_dir, self.batch = model_dir, batch

    def setup(self, device) -> None:
        loaded = ensure_model(self.model_dir)
        self.pipeline, self.version = loaded.pipeline, loaded.metadata.version
        features = features_model(loaded.metadata.domain)
        strict = ConfigDict(extra="forbid")
        if self.batch:
            field = (list[features], Field(min_length=1, max_length=MAX_BATCH_SIZE))
            self.request_model = type("BatchRequest", (BaseModel,), {
                "model_config": strict, "__annotations__": {"instances": field[0]},
                "instances": field[1]})  # fmt: skip
        else:
            self.request_model = type("PredictRequest", (BaseModel,), {
                "model_config": strict, "__annotations__": {"features": features}})  # fmt: skip

    def decode_request(self, request: dict):
        try:
            body = self.request_model.model_validate(request)
        except ValidationError as error:
            raise HTTPException(status_code=422, detail=error.errors(include_url=False)) from None
        return body.instances if self.batch else [body.features]

    def predict(self, rows):
        return predict_rows(self.pipeline, rows)

    def encode_response(self, predictions: list[dict]) -> dict:
        if self.batch:
            return {"predictions": predictions, "model_version": self.version,
                    "count": len(predictions)}  # fmt: skip
        return {**predictions[0], "model_version": self.version}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("PEER_WORKERS", "2")))
    arguments = parser.parse_args()
    model_dir = os.environ.get("SERVING_MODEL_DIR")
    apis = [WineAPI(model_dir, batch=False), WineAPI(model_dir, batch=True)]
    server = ls.LitServer(apis, accelerator="cpu", workers_per_device=arguments.workers,
                          healthcheck_path="/healthz", fast_queue=True)  # fmt: skip
    server.run(host="127.0.0.1", port=arguments.port, log_level="warning",
               generate_client_file=False)  # fmt: skip


if __name__ == "__main__":
    main()
