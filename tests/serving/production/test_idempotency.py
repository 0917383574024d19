"""Idempotency-Key: a retried prediction gets the stored answer and stores no second row; the same
key with another body is refused (422); two requests with one key in flight at once store one row
and get one answer, decided by the database's primary key, not by a lock in the process."""

from __future__ import annotations

import threading
import time

import pytest

from examples.serving import Settings, create_app
from examples.serving.production import storage


@pytest.fixture
def service(tmp_path, model_dir):
    app = create_app(Settings.isolated(tmp_path, model_dir=model_dir))
    yield app
    app.extensions["prediction_store"].dispose()


@pytest.fixture
def wine(service):
    domain = service.extensions["serving"].predictor.metadata.domain
    return {name: (d["allowed_min"] + d["allowed_max"]) / 2 for name, d in domain.items()}


def rows(app) -> int:
    return storage.count_rows(app.extensions["prediction_store"])


def test_a_retry_gets_the_stored_answer_and_stores_nothing(service, wine):
    client = service.test_client()
    headers = {"Idempotency-Key": "order-17"}
    first = client.post("/v1/predict", json={"features": wine}, headers=headers)
    retry = client.post("/v1/predict", json={"features": wine}, headers=headers)
    assert first.status_code == retry.status_code == 200
    assert retry.data == first.data  # the same prediction_id too
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert rows(service) == 1
    # Without a key, every request is new.
    client.post("/v1/predict", json={"features": wine})
    assert rows(service) == 2


def test_the_same_rows_written_differently_are_the_same_request(service, wine):
    client = service.test_client()
    headers = {"Idempotency-Key": "batch-1", "Content-Type": "application/json"}
    body = {"instances": [wine, wine]}
    reordered = {"instances": [dict(reversed(list(wine.items())))] * 2}
    first = client.post("/v1/predict/batch", json=body, headers=headers)
    retry = client.post("/v1/predict/batch", json=reordered, headers=headers)
    assert retry.status_code == 200 and retry.data == first.data
    assert rows(service) == 2


def test_the_same_key_with_another_body_is_refused(service, wine):
    client = service.test_client()
    headers = {"Idempotency-Key": "order-18"}
    assert client.post("/v1/predict", json={"features": wine}, headers=headers).status_code == 200
    other = dict(wine, alcohol=wine["alcohol"] + 0.5)
    response = client.post("/v1/predict", json={"features": other}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    # The same key on the other route is another request too.
    batch = client.post("/v1/predict/batch", json={"instances": [wine]}, headers=headers)
    assert batch.status_code == 422
    assert rows(service) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_a_malformed_key_is_refused_before_any_work(service, wine, key):
    response = service.test_client().post(
        "/v1/predict", json={"features": wine}, headers={"Idempotency-Key": key}
    )
    assert response.status_code == 400
    assert rows(service) == 0


def test_keys_belong_to_one_client(tmp_path):
    engine = storage.create_storage_engine(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    from examples.serving.production.migrations import upgrade

    upgrade(engine)
    row = storage.StoredPrediction("r", "1.0.0", "class_0", {"class_0": 1.0}, {"x": 1.0})

    def key(client: str, answer: str) -> storage.IdempotencyKey:
        return storage.IdempotencyKey(client, "same-key", "digest", answer, 3600)

    assert storage.store_predictions(engine, [row], key("alice", "A")) is None
    assert storage.store_predictions(engine, [row], key("bob", "B")) is None
    assert storage.store_predictions(engine, [row], key("alice", "A2")).response == "A"
    assert storage.count_rows(engine) == 2
    engine.dispose()


def test_an_expired_key_can_be_used_again(tmp_path, model_dir, wine):
    app = create_app(Settings.isolated(tmp_path, model_dir=model_dir, idempotency_key_seconds=0))
    client = app.test_client()
    headers = {"Idempotency-Key": "short-lived"}
    first = client.post("/v1/predict", json={"features": wine}, headers=headers)
    time.sleep(0.01)
    second = client.post("/v1/predict", json={"features": wine}, headers=headers)
    assert second.status_code == 200 and "Idempotent-Replayed" not in second.headers
    assert second.get_json()["prediction_id"] != first.get_json()["prediction_id"]
    assert rows(app) == 2
    engine = app.extensions["prediction_store"]
    with engine.connect() as connection:
        assert len(connection.execute(storage.idempotency_keys.select()).all()) == 1
    engine.dispose()


def test_identical_keys_in_flight_at_once_store_one_row_and_get_one_answer(service, wine):
    """Eight threads, each with its own database connection, send the same key at the same moment
    (a barrier releases them together); five keys in turn."""
    n_threads, keys = 8, [f"concurrent-{i}" for i in range(5)]
    for key in keys:
        barrier, answers = threading.Barrier(n_threads), [None] * n_threads

        def send(i: int, key=key, barrier=barrier, answers=answers) -> None:
            client = service.test_client()
            barrier.wait(timeout=10)
            response = client.post(
                "/v1/predict", json={"features": wine}, headers={"Idempotency-Key": key}
            )
            answers[i] = (response.status_code, response.data)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1
    assert rows(service) == len(keys)
