"""Idempotency-Key: a retried prediction gets the stored answer and stores no second row; the same
key with another body is refused (422); a request whose twin is still in flight is refused (409,
with Retry-After); requests with one key sent at once store one row, decided by the database's
primary key, not by a lock in the process. On SQLite, and on PostgreSQL when it is installed."""

from __future__ import annotations

import threading
import time

import pytest
from flask import request

from examples.serving import Settings, create_app
from examples.serving.production import storage
from examples.toolbox import POSTGRES_BIN, run_postgres


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


def send_together(app, key: str, n: int = 8) -> list[tuple[int, bytes, dict]]:
    """n requests with one key, each thread with its own client (and database connection),
    released together by a barrier."""
    barrier, answers = threading.Barrier(n), [None] * n
    wine = middle_of_domain(app)

    def send(i: int) -> None:
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.post(
            "/v1/predict", json={"features": wine}, headers={"Idempotency-Key": key}
        )
        answers[i] = (response.status_code, response.data, dict(response.headers))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def middle_of_domain(app) -> dict[str, float]:
    domain = app.extensions["serving"].predictor.metadata.domain
    return {name: (d["allowed_min"] + d["allowed_max"]) / 2 for name, d in domain.items()}


def check_one_answer_per_key(answers) -> None:
    """Each request got the one stored answer (200, the first one's or a replay) or 409 because
    the first was still in flight; exactly one 200 is not a replay."""
    assert {status for status, _, _ in answers} <= {200, 409}
    answered = [(body, headers) for status, body, headers in answers if status == 200]
    assert len({body for body, _ in answered}) == 1
    assert sum("Idempotent-Replayed" not in headers for _, headers in answered) == 1
    for status, body, headers in answers:
        if status == 409:
            assert int(headers["Retry-After"]) >= 1
            assert b"idempotency_key_in_flight" in body


def test_identical_keys_sent_at_once_store_one_row(service):
    """Eight threads send the same key at the same moment; five keys in turn."""
    keys = [f"concurrent-{i}" for i in range(5)]
    for key in keys:
        check_one_answer_per_key(send_together(service, key))
    assert rows(service) == len(keys)


@pytest.fixture
def held(service):
    """The service with a hook after the key's claim: a request carrying X-Test-Hold waits until
    the test sets the event, so the test can keep it in flight."""
    release = threading.Event()

    @service.before_request
    def hold() -> None:
        if request.headers.get("X-Test-Hold"):
            release.wait(timeout=30)

    yield service, release
    release.set()


def test_a_twin_of_a_request_in_flight_gets_409_then_the_answer(held, wine):
    service, release = held
    headers = {"Idempotency-Key": "slow-order"}
    first: list = []
    thread = threading.Thread(
        target=lambda: first.append(
            service.test_client().post(
                "/v1/predict", json={"features": wine}, headers={**headers, "X-Test-Hold": "1"}
            )
        )
    )
    thread.start()
    try:
        wait_for_claim(service, "slow-order")
        twin = service.test_client().post("/v1/predict", json={"features": wine}, headers=headers)
    finally:
        release.set()
        thread.join(timeout=30)
    assert twin.status_code == 409
    assert twin.headers["Retry-After"] == "1"
    error = twin.get_json()["error"]
    assert error["code"] == "idempotency_key_in_flight" and "Retry-After" in error["message"]
    assert first[0].status_code == 200
    retry = service.test_client().post("/v1/predict", json={"features": wine}, headers=headers)
    assert retry.status_code == 200 and retry.data == first[0].data
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert rows(service) == 1


def wait_for_claim(app, key: str, seconds: float = 20) -> None:
    """Until the key's claim (a row with no response yet) is committed, bounded in time."""
    engine, keys = app.extensions["prediction_store"], storage.idempotency_keys
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            found = connection.execute(
                keys.select().where(keys.c.key == key, keys.c.response == storage.IN_FLIGHT)
            ).first()
        if found is not None:
            return
        time.sleep(0.02)
    raise AssertionError(f"no claim on {key!r} within {seconds} s")


def test_a_failed_request_gives_its_key_back(service, wine):
    client = service.test_client()
    headers = {"Idempotency-Key": "fixed-after-422"}
    broken = client.post("/v1/predict", json={"features": {}}, headers=headers)
    assert broken.status_code == 422
    fixed = client.post("/v1/predict", json={"features": wine}, headers=headers)
    assert fixed.status_code == 200 and "Idempotent-Replayed" not in fixed.headers
    engine = service.extensions["prediction_store"]
    with engine.connect() as connection:
        kept = connection.execute(storage.idempotency_keys.select()).all()
    assert [row.response != storage.IN_FLIGHT for row in kept] == [True]


def test_an_abandoned_claim_lapses(service, wine):
    """A worker killed mid-request leaves its claim behind; it holds the key only for its own
    short lifetime, then a retry goes ahead."""
    engine = service.extensions["prediction_store"]
    lapsed = storage.IdempotencyKey("", "orphan", "claim:x", storage.IN_FLIGHT, 0, "claim:x")
    assert storage.claim_key(engine, lapsed) is None
    time.sleep(0.01)
    response = service.test_client().post(
        "/v1/predict", json={"features": wine}, headers={"Idempotency-Key": "orphan"}
    )
    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers


def test_the_409_is_documented(service):
    operation = service.test_client().get("/openapi.json").get_json()["paths"]["/v1/predict"]
    assert "Retry-After" in operation["post"]["responses"]["409"]["headers"]


needs_postgres = pytest.mark.skipif(
    not (POSTGRES_BIN / "initdb").exists(), reason="Debian's postgresql package is not installed"
)


@pytest.fixture(scope="module")
def postgres():
    with run_postgres() as server:
        yield server


@needs_postgres
def test_on_postgres_twins_get_409_and_one_row_is_stored(postgres, model_dir, tmp_path):
    """The same checks with PostgreSQL deciding: its unique index makes a second INSERT of a key
    wait for the first transaction, which commits the claim at once."""
    app = create_app(
        Settings.isolated(tmp_path, model_dir=model_dir, database_url=postgres.extra["url"])
    )
    try:
        keys = [f"pg-{i}" for i in range(3)]
        for key in keys:
            check_one_answer_per_key(send_together(app, key))
        engine = app.extensions["prediction_store"]
        held = storage.IdempotencyKey("", "pg-held", "claim:y", storage.IN_FLIGHT, 60, "claim:y")
        assert storage.claim_key(engine, held) is None
        twin = app.test_client().post(
            "/v1/predict",
            json={"features": middle_of_domain(app)},
            headers={"Idempotency-Key": "pg-held"},
        )
        assert twin.status_code == 409 and twin.headers["Retry-After"] == "1"
        storage.release_key(engine, held)
        assert storage.claim_key(engine, held) is None  # released, so free again
        assert rows(app) == len(keys)
    finally:
        app.extensions["prediction_store"].dispose()
