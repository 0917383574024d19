"""The naive tutorial service: on every request it unpickles the model from a file and builds a
pandas DataFrame from the JSON body. It works, and it is what we measure the cost of.

The pickle's path comes from $NAIVE_MODEL_PICKLE; the benchmark harness writes that file into a
temporary folder from our own trained model (a pickle is only ever loaded from a file we wrote).
"""

from __future__ import annotations

import os
import pickle
import warnings

import pandas as pd
from flask import Flask, request

from examples.model import CLASS_NAMES, FEATURE_NAMES, MODEL_VERSION
from examples.production.contenders.flask_base import health_checked_app


def create_app() -> Flask:
    # The model was fitted on an array; a DataFrame makes scikit-learn warn on every call. The
    # naive service still pays for the check, but its log stays readable.
    warnings.filterwarnings("ignore", message="X has feature names")
    app = health_checked_app(__name__)

    @app.post("/v1/predict")
    def predict():
        # The two costly habits, on purpose: the model is read from disk for every request...
        with open(os.environ["NAIVE_MODEL_PICKLE"], "rb") as file:
            model = pickle.load(file)  # noqa: S301 - the harness wrote this file itself
        # ... and one row of numbers becomes a whole DataFrame.
        frame = pd.DataFrame([request.get_json()["features"]], columns=FEATURE_NAMES)
        probabilities = model.predict_proba(frame)[0]
        return {
            "prediction": str(CLASS_NAMES[int(probabilities.argmax())]),
            "probabilities": dict(zip(CLASS_NAMES, map(float, probabilities), strict=True)),
            "model_version": MODEL_VERSION,
        }

    return app
