"""The Idempotency-Key under gunicorn: two worker processes with four threads each, on SQLite and
on PostgreSQL. While a request is held in flight, its twins get 409 with Retry-After, whichever
worker takes them; once it answers, a retry gets its answer; one row is stored. No timing is
asserted: the test waits for the claim to appear in the database, then for the answer."""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from examples.model import ensure_model
from examples.serving.production import storage
from examples.toolbox import POSTGRES_BIN, run_command, run_postgres

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parents[2] / "examples" / "serving" / "gunicorn.conf.py"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('held') / 'predictions.sqlite3'}"
        return
    if not (POSTGRES_BIN / "initdb").exists():
        pytest.skip("Debian's postgresql package is not installed")
    with run_postgres() as server:
        yield server.extra["url"]


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory, model_dir):
    folder = tmp_path_factory.mktemp("gunicorn-held")
    env = {
        "SERVING_BIND": "127.0.0.1:{port}",
        "SERVING_WORKERS": "2",
        "SERVING_THREADS": "4",
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_DATABASE_URL": database_url,
        "SERVING_AUTH_ENABLED": "false",
        "SERVING_RATE_LIMIT_ENABLED": "false",
        "SERVING_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG),
               "--pythonpath", str(HERE), "held_app:app"]  # fmt: skip
    with run_command(command, env=env, ready_path="/readyz", timeout=90) as running:
        engine = storage.create_storage_engine(database_url)
        running.extra.update(engine=engine, folder=folder)
        domain = ensure_model(model_dir).metadata.domain
        running.extra["wine"] = {
            n: (d["allowed_min"] + d["allowed_max"]) / 2 for n, d in domain.items()
        }
        yield running
        engine.dispose()


def claimed(server, key: str) -> bool:
    keys = storage.idempotency_keys
    with server.extra["engine"].connect() as connection:
        row = connection.execute(sa.select(keys.c.response).where(keys.c.key == key)).first()
    return row is not None and row.response == storage.IN_FLIGHT


def stored_rows(server) -> int:
    return storage.count_rows(server.extra["engine"])


def post(server, key: str, **headers) -> requests.Response:
    return requests.post(
        server.url + "/v1/predict",
        json={"features": server.extra["wine"]},
        headers={"Idempotency-Key": key, **headers},
        timeout=60,
    )


def test_twins_of_a_request_in_flight_get_409_then_its_answer(server):
    before, gate = stored_rows(server), server.extra["folder"] / "gate"
    first: list[requests.Response] = []
    holder = threading.Thread(
        target=lambda: first.append(post(server, "held-1", **{"X-Test-Hold": str(gate)}))
    )
    holder.start()
    try:
        deadline = time.monotonic() + 30
        while not claimed(server, "held-1"):
            assert time.monotonic() < deadline, "the held request never claimed its key"
            time.sleep(0.02)
        with ThreadPoolExecutor(6) as pool:  # more twins than one worker has threads
            twins = list(pool.map(lambda _: post(server, "held-1"), range(6)))
    finally:
        gate.touch()
        holder.join(timeout=60)
    assert [twin.status_code for twin in twins] == [409] * 6
    assert {twin.headers["Retry-After"] for twin in twins} == {"1"}
    assert {twin.json()["error"]["code"] for twin in twins} == {"idempotency_key_in_flight"}
    assert first[0].status_code == 200 and "Idempotent-Replayed" not in first[0].headers
    retry = post(server, "held-1")
    assert retry.status_code == 200 and retry.text == first[0].text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert stored_rows(server) - before == 1


def test_pairs_released_together_store_one_row_per_key(server):
    """Twenty keys, two requests each, sent at once from eight threads: one row per key; every
    request gets the one answer or a 409."""
    before, keys = stored_rows(server), [f"twin-{i}" for i in range(20)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda key: post(server, key), [k for k in keys for _ in range(2)]))
    assert {answer.status_code for answer in answers} <= {200, 409}
    for i in range(len(keys)):
        pair = answers[2 * i : 2 * i + 2]
        bodies = {answer.text for answer in pair if answer.status_code == 200}
        assert len(bodies) == 1  # at least one answered, and never two different answers
    assert stored_rows(server) - before == len(keys)
