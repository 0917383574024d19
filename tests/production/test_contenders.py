"""The comparison apps answer the contract's shape and predict what the trained model predicts."""

import pickle

import pytest
from fastapi.testclient import TestClient

from examples.model import CLASS_NAMES, FEATURE_NAMES, ensure_model, split_data
from examples.production.contenders import bare_batch, ceiling, fastapi_peer, naive


@pytest.fixture(scope="module")
def loaded():
    return ensure_model()


@pytest.fixture(scope="module")
def rows_and_classes(loaded):
    X_test = split_data()[1].to_numpy()[:6]
    rows = [dict(zip(FEATURE_NAMES, map(float, row), strict=True)) for row in X_test]
    classes = [CLASS_NAMES[i] for i in loaded.pipeline.predict(X_test)]
    return rows, classes


def test_the_ceiling_answers_a_constant():
    client = ceiling.create_app().test_client()
    first = client.post("/v1/predict", json={"features": {}}).get_json()
    assert first == client.post("/v1/predict", json={"anything": 1}).get_json()
    assert first["prediction"] in CLASS_NAMES
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_the_naive_service_unpickles_and_predicts(tmp_path, monkeypatch, loaded, rows_and_classes):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(loaded.pipeline))
    monkeypatch.setenv("NAIVE_MODEL_PICKLE", str(path))
    client = naive.create_app().test_client()
    rows, classes = rows_and_classes
    for row, expected in zip(rows, classes, strict=True):
        reply = client.post("/v1/predict", json={"features": row}).get_json()
        assert reply["prediction"] == expected
        assert sum(reply["probabilities"].values()) == pytest.approx(1.0)


def test_the_bare_batch_endpoint_predicts_every_row(rows_and_classes):
    client = bare_batch.create_app().test_client()
    rows, classes = rows_and_classes
    reply = client.post("/v1/predict/batch", json={"instances": rows}).get_json()
    assert reply["count"] == len(rows)
    assert [item["prediction"] for item in reply["predictions"]] == classes


def test_the_fastapi_peer_predicts_and_validates(loaded, rows_and_classes):
    client = TestClient(fastapi_peer.create_app())
    rows, classes = rows_and_classes
    one = client.post("/v1/predict", json={"features": rows[0]})
    assert one.status_code == 200 and one.json()["prediction"] == classes[0]
    batch = client.post("/v1/predict/batch", json={"instances": rows}).json()
    assert [item["prediction"] for item in batch["predictions"]] == classes
    too_big = loaded.metadata.domain["alcohol"]["allowed_max"] + 1
    for bad in ({**rows[0], "alcohol": too_big}, {**rows[0], "colour": 1.0}, {"alcohol": 13.0},
                {**rows[0], "alcohol": "strong"}):  # fmt: skip
        assert client.post("/v1/predict", json={"features": bad}).status_code == 422
    assert client.post("/v1/predict/batch", json={"instances": []}).status_code == 422
