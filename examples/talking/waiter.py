"""Chapter 1's waiter: the smallest web service that carries a prediction order to a model and back.

It has no validation, no error handling and no configuration; Part III builds all of that.
"""

from flask import Flask, jsonify, request


def create_waiter_app(model, feature_names: list[str], class_names: list[str]) -> Flask:
    """A Flask app that serves `model` (a fitted classifier): POST /predict, and a menu at GET /."""
    app = Flask(__name__)

    @app.get("/")
    def menu():
        return jsonify(service="wine waiter", order_at="POST /predict", features=feature_names)

    @app.post("/predict")
    def predict():
        order = request.get_json()
        row = [[order["features"][name] for name in feature_names]]
        probabilities = model.predict_proba(row)[0]
        best = int(probabilities.argmax())
        return jsonify(
            prediction=class_names[best],
            probabilities={
                name: round(float(p), 4) for name, p in zip(class_names, probabilities, strict=True)
            },
        )

    return app
