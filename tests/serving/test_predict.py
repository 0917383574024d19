"""Predictions, batches, model information, liveness and readiness."""

import uuid

import numpy as np
import pytest

from examples.model import CLASS_NAMES, FEATURE_NAMES, load_model
from examples.serving import Settings, create_app
from examples.serving.schemas import BatchPredictionResponse, ModelInfo, PredictionResponse


def test_one_prediction_has_the_documented_shape(client, features):
    response = client.post("/v1/predict", json={"features": features})
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["prediction_id", "prediction", "probabilities", "model_version"]
    PredictionResponse.model_validate(body, strict=True)
    uuid.UUID(body["prediction_id"].removesuffix("-0"))  # a random UUID, then the row's position
    assert list(body["probabilities"]) == CLASS_NAMES
    assert body["prediction"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["model_version"] == "1.0.0"


def test_integers_are_numbers_too(client, features):
    row = dict(features, proline=int(features["proline"]), magnesium=int(features["magnesium"]))
    assert client.post("/v1/predict", json={"features": row}).status_code == 200


def in_domain(X, metadata):
    """Which rows lie inside every allowed range: two wines of the test split do not."""
    inside = np.ones(len(X), dtype=bool)
    for name in FEATURE_NAMES:
        low, high = metadata.domain[name]["allowed_min"], metadata.domain[name]["allowed_max"]
        inside &= X[name].between(low, high).to_numpy()
    return inside


def test_golden_served_predictions_equal_the_pipeline(client, model_dir, metadata, test_split):
    """The whole test split, one request per wine, against predict_proba called directly."""
    X_test, _ = test_split
    inside = in_domain(X_test, metadata)
    expected = load_model(model_dir).pipeline.predict_proba(X_test.to_numpy()[inside])
    served, refused = [], []
    for row, ok in zip(X_test.to_dict(orient="records"), inside, strict=True):
        response = client.post("/v1/predict", json={"features": row})
        if ok:
            served.append([response.get_json()["probabilities"][name] for name in CLASS_NAMES])
        else:
            refused.append(response.get_json()["error"]["details"][0]["field"])
    np.testing.assert_allclose(np.array(served), expected, rtol=0, atol=1e-12)
    # The two wines outside the training range are refused, each naming its field.
    assert sorted(refused) == ["features.flavanoids", "features.proline"]


def test_golden_batch_equals_the_pipeline(client, model_dir, metadata, test_split):
    X_test, _ = test_split
    inside = in_domain(X_test, metadata)
    expected = load_model(model_dir).pipeline.predict_proba(X_test.to_numpy()[inside])
    instances = X_test[inside].to_dict(orient="records")
    body = client.post("/v1/predict/batch", json={"instances": instances}).get_json()
    BatchPredictionResponse.model_validate(body, strict=True)
    assert body["count"] == len(instances) == len(body["predictions"]) == 43
    served = [[item["probabilities"][c] for c in CLASS_NAMES] for item in body["predictions"]]
    np.testing.assert_allclose(np.array(served), expected, rtol=0, atol=1e-12)
    assert [item["prediction"] for item in body["predictions"]] == [
        CLASS_NAMES[i] for i in expected.argmax(axis=1)
    ]


def test_every_row_of_a_batch_has_its_own_id(client, features):
    body = client.post("/v1/predict/batch", json={"instances": [features] * 3}).get_json()
    ids = [item["prediction_id"] for item in body["predictions"]]
    assert len(set(ids)) == 3
    assert [i.rsplit("-", 1)[1] for i in ids] == ["0", "1", "2"]
    again = client.post("/v1/predict/batch", json={"instances": [features]}).get_json()
    assert again["predictions"][0]["prediction_id"] not in ids


def test_a_batch_is_one_call_to_predict_proba(app, client, features):
    calls = []
    predictor = app.extensions["serving"].predictor
    original = predictor.predict_proba
    predictor.predict_proba = lambda X: calls.append(X.shape) or original(X)  # noqa: N803
    response = client.post("/v1/predict/batch", json={"instances": [features] * 50})
    assert response.status_code == 200
    assert calls == [(50, len(FEATURE_NAMES))]


def test_the_batch_limit_comes_from_the_settings(model_dir, tmp_path, features):
    client = create_app(Settings.isolated(tmp_path, model_dir, max_batch_size=3)).test_client()
    assert client.post("/v1/predict/batch", json={"instances": [features] * 3}).status_code == 200
    response = client.post("/v1/predict/batch", json={"instances": [features] * 4})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [
        {"field": "instances", "problem": "must contain at most 3 items, got 4"}
    ]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"instances": []}, "instances", "must contain at least 1 item(s), got 0"),
        ({"instances": {}}, "instances", "must be an array, got an object"),
        ({}, "instances", "is required"),
    ],
)
def test_bad_batches(client, body, field, problem):
    response = client.post("/v1/predict/batch", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == [{"field": field, "problem": problem}]


def test_a_bad_row_in_a_batch_is_named_by_its_index(client, features):
    instances = [features, dict(features, hue="dark"), features]
    response = client.post("/v1/predict/batch", json={"instances": instances})
    assert response.get_json()["error"]["details"] == [
        {"field": "instances.1.hue", "problem": "must be a number, got a string"}
    ]


def test_the_default_batch_limit_is_1000(client, features):
    assert (
        client.post("/v1/predict/batch", json={"instances": [features] * 1000}).status_code == 200
    )
    response = client.post("/v1/predict/batch", json={"instances": [features] * 1001})
    assert response.status_code == 422


def test_model_info(client, metadata):
    response = client.get("/v1/model")
    assert response.status_code == 200
    info = ModelInfo.model_validate(response.get_json()).model_dump()
    assert info["name"] == "wine-classifier" and info["version"] == "1.0.0"
    assert info["classes"] == CLASS_NAMES
    assert [f["name"] for f in info["features"]] == FEATURE_NAMES
    assert info["features"][0] == {
        "name": "alcohol",
        "allowed_min": metadata.domain["alcohol"]["allowed_min"],
        "allowed_max": metadata.domain["alcohol"]["allowed_max"],
    }
    assert info["metrics"] == metadata.metrics and info["created_at"] == metadata.created_at


def test_liveness_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "model_version": "1.0.0"}


def test_a_tampered_model_is_alive_but_not_ready(model_dir, tmp_path, caplog):
    copy = tmp_path / "model"
    copy.mkdir()
    for file in model_dir.iterdir():
        if file.is_file():
            (copy / file.name).write_bytes(file.read_bytes())
    with open(copy / "model.skops", "ab") as model_file:
        model_file.write(b"tampered")
    app = create_app(Settings.isolated(tmp_path, copy))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "unavailable"
    assert "the file was changed after training" in app.extensions["serving"].load_error
    assert "the file was changed after training" in caplog.text
    assert "sha256" not in response.get_data(as_text=True)


def test_a_missing_model_is_trained_on_first_use(tmp_path):
    app = create_app(Settings.isolated(tmp_path, tmp_path / "fresh"))
    assert app.test_client().get("/readyz").status_code == 200
    assert (tmp_path / "fresh" / "model.skops").exists()


def test_the_wsgi_module_builds_the_app_from_the_environment(model_dir, tmp_path, monkeypatch):
    import importlib
    import sys

    monkeypatch.setenv("SERVING_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SERVING_DATABASE_URL", f"sqlite:///{tmp_path / 'predictions.sqlite3'}")
    monkeypatch.setenv("SERVING_RATE_LIMIT_DATABASE", str(tmp_path / "rate_limits.sqlite3"))
    monkeypatch.setenv("SERVING_MAX_BATCH_SIZE", "5")
    sys.modules.pop("examples.serving.wsgi", None)
    wsgi = importlib.import_module("examples.serving.wsgi")
    assert wsgi.app.extensions["serving"].settings.max_batch_size == 5
    sys.modules.pop("examples.serving.wsgi", None)
