"""Step 2 (chapter 10): POST /predict answers with a class and its probabilities.

Start it with `flask --app examples.steps.ch10_predict.app run`. It trusts its input completely:
chapter 11 shows what that costs and adds validation.
"""

import numpy as np
from flask import Flask, request

from examples.model import FEATURE_NAMES, LoadedModel, ensure_model

app = Flask(__name__)

# Loaded once, when Python first imports this module (that is, when the server starts), and then
# shared by every request. Loading it inside the view would repeat the work on every request.
model = ensure_model()


@app.get("/")
def hello():
    """Answer GET / with a greeting and the model's version."""
    return {"message": "Hello from the wine classifier", "model_version": model.metadata.version}


def predict_features(loaded: LoadedModel, features: dict) -> dict:
    """Probabilities for one wine, given as {feature name: value}, and the most probable class."""
    # The pipeline wants a 1 x 13 array with the columns in training order, whatever order the
    # client wrote the names in.
    row = np.array([[features[name] for name in FEATURE_NAMES]], dtype=float)
    probabilities = loaded.pipeline.predict_proba(row)[0]
    classes = loaded.metadata.classes
    return {
        "prediction": classes[int(np.argmax(probabilities))],
        # tolist() turns numpy floats into Python floats, which Flask can write as JSON.
        "probabilities": dict(zip(classes, probabilities.tolist(), strict=True)),
        "model_version": loaded.metadata.version,
    }


@app.post("/predict")
def predict():
    """Read {"features": {...}} from the JSON body and return the prediction for it."""
    body = request.get_json()
    return predict_features(model, body["features"])
