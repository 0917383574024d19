"""The features together, in real gunicorn with two worker processes: no prediction lost, metrics
and rate limits that count across workers, a locked database answered with a prompt 503."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from examples.model import ensure_model
from examples.serving.production import auth
from examples.toolbox import free_port, run_command
from tests.metrics_text import metric
from tests.sqlite_lock import exclusive_lock

KEY = "ci-key-for-the-gunicorn-tests-0123456789"
LIMITED_KEY = "a-second-key-that-runs-into-the-limit"
JWT_SECRET = "jwt-secret-for-the-gunicorn-tests-0123456789"
PASSWORD = "viewer password 42"
BURST = 200  # the ci key sends fewer than this; the limited key more
CONFIG = Path(__file__).resolve().parents[3] / "examples" / "serving" / "gunicorn.conf.py"


def wait_for_workers(master_pid: int, count: int, exclude: int | None = None) -> set[int]:
    """The pids of the master's workers, once there are `count` of them (none of them `exclude`)."""
    master = psutil.Process(master_pid)
    deadline = time.monotonic() + 30
    while True:
        pids = {child.pid for child in master.children()} - {exclude}
        if len(pids) == count or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dir):
    folder = tmp_path_factory.mktemp("gunicorn")
    (folder / "metrics").mkdir()
    users = f"viewer:read:{auth.hash_password(PASSWORD)}"
    metrics_port = free_port()
    env = {
        "SERVING_BIND": "127.0.0.1:{port}",
        "SERVING_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "SERVING_WORKERS": "2",
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_DATABASE_URL": f"sqlite:///{folder / 'predictions.sqlite3'}",
        "SERVING_DATABASE_BUSY_TIMEOUT_MS": "300",
        "SERVING_RATE_LIMIT_DATABASE": str(folder / "rate_limits.sqlite3"),
        "SERVING_RATE_LIMIT_PER_MINUTE": "60",
        "SERVING_RATE_LIMIT_BURST": str(BURST),
        "SERVING_API_KEY_HASHES": f"ci:{auth.sha256_hex(KEY)},limited:{auth.sha256_hex(LIMITED_KEY)}",
        "SERVING_USERS": users,
        "SERVING_JWT_SECRET": JWT_SECRET,
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "examples.serving.wsgi:app"]
    with run_command(command, env=env, ready_path="/readyz", timeout=90) as running:
        wait_for_workers(running.pid, 2)  # ready means one worker answers; wait for both
        running.extra["database"] = folder / "predictions.sqlite3"
        running.extra["metrics_url"] = f"http://127.0.0.1:{metrics_port}/metrics"
        running.extra["features"] = ensure_model(model_dir).metadata
        yield running


@pytest.fixture(scope="module")
def wine(server):
    domain = server.extra["features"].domain
    return {
        name: (limits["allowed_min"] + limits["allowed_max"]) / 2 for name, limits in domain.items()
    }


def stored_rows(server) -> int:
    with sqlite3.connect(server.extra["database"]) as connection:
        return connection.execute("SELECT count(*) FROM predictions").fetchone()[0]


def json_lines(server) -> list[dict]:
    """Every line the server wrote, parsed: gunicorn's and the app's lines are all JSON."""
    return [json.loads(line) for line in server.log().splitlines() if line.strip()]


def test_two_workers_serve(server):
    assert len(psutil.Process(server.pid).children()) == 2


def test_metrics_are_on_the_operator_port_only(server):
    assert requests.get(server.url + "/metrics", timeout=5).status_code == 404
    response = requests.get(server.extra["metrics_url"], timeout=5)
    assert response.status_code == 200
    assert "serving_model_info" in response.text
    # What the alert rules divide and compare (deploy/prometheus/alerts.yml).
    assert metric(server, "serving_workers") == 2
    assert metric(server, "serving_ready") == 1
    assert metric(server, "serving_http_requests_in_progress") == 0  # the master answered


def test_one_idempotency_key_sent_to_both_workers_at_once_stores_one_row(server, wine):
    """Pairs of requests with the same key, sent together so that the two workers (separate
    processes, no shared lock) race: each key ends with one row and one answer."""
    before = stored_rows(server)
    keys = [f"twin-{i}" for i in range(20)]

    def predict(key: str) -> tuple[int, str]:
        headers = {"X-API-Key": KEY, "Idempotency-Key": key}
        response = requests.post(
            server.url + "/v1/predict", json={"features": wine}, headers=headers, timeout=30
        )
        return response.status_code, response.text

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(predict, [key for key in keys for _ in range(2)]))
    # A twin that arrives while the first is in flight gets 409 (test_idempotency_gunicorn.py
    # holds one in flight on purpose); one that arrives after it gets the same answer.
    assert {status for status, _ in answers} <= {200, 409}
    for i in range(len(keys)):
        assert len({text for status, text in answers[2 * i : 2 * i + 2] if status == 200}) == 1
    assert stored_rows(server) - before == len(keys)


def test_concurrent_predictions_are_all_stored_and_counted(server, wine):
    n = 120
    before_rows = stored_rows(server)
    before_count = metric(server, "serving_http_requests_total", route="/v1/predict", status="200")

    def predict(i: int) -> int:
        headers = {"X-API-Key": KEY, "X-Request-ID": f"load-{i}"}
        return requests.post(
            server.url + "/v1/predict", json={"features": wine}, headers=headers, timeout=30
        ).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(predict, range(n)))
    assert statuses == [200] * n
    assert stored_rows(server) - before_rows == n
    after_count = metric(server, "serving_http_requests_total", route="/v1/predict", status="200")
    assert after_count - before_count == n
    # Both workers answered some of them: the sums above really were across processes.
    pids = {
        line["pid"]
        for line in json_lines(server)
        if str(line.get("request_id")).startswith("load-")
    }
    assert len(pids) == 2


def test_a_batch_is_stored_and_counted_by_class(server, wine):
    before = stored_rows(server)
    before_predictions = metric(server, "serving_predictions_total")
    response = requests.post(
        server.url + "/v1/predict/batch",
        json={"instances": [wine] * 7},
        headers={"X-API-Key": KEY},
        timeout=10,
    )
    assert response.status_code == 200
    assert stored_rows(server) - before == 7
    assert metric(server, "serving_predictions_total") - before_predictions == 7
    assert metric(server, "serving_model_info", version=response.json()["model_version"]) == 1


def test_no_key_is_401_and_a_token_without_the_scope_is_403(server, wine):
    response = requests.post(server.url + "/v1/predict", json={"features": wine}, timeout=10)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    token = requests.post(
        server.url + "/v1/token", json={"username": "viewer", "password": PASSWORD}, timeout=10
    ).json()["access_token"]
    response = requests.post(
        server.url + "/v1/predict",
        json={"features": wine},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_the_limit_holds_across_workers(server, wine):
    started = time.monotonic()

    def predict(_: int) -> requests.Response:
        return requests.post(
            server.url + "/v1/predict",
            json={"features": wine},
            headers={"X-API-Key": LIMITED_KEY},
            timeout=30,
        )

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(predict, range(BURST + 30)))
    elapsed = time.monotonic() - started
    allowed = sum(r.status_code == 200 for r in responses)
    refused = [r for r in responses if r.status_code == 429]
    assert allowed + len(refused) == len(responses)
    # The burst, plus what refilled while the requests ran (one a second at 60 a minute).
    assert BURST <= allowed <= BURST + elapsed + 1
    assert refused and all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert refused[0].json()["error"]["code"] == "rate_limited"


def test_a_locked_database_gives_a_prompt_503_then_recovers(server, wine):
    with exclusive_lock(server.extra["database"]) as started:
        response = requests.post(
            server.url + "/v1/predict",
            json={"features": wine},
            headers={"X-API-Key": KEY},
            timeout=10,
        )
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert waited < 2
    again = requests.post(
        server.url + "/v1/predict", json={"features": wine}, headers={"X-API-Key": KEY}, timeout=10
    )
    assert again.status_code == 200


def test_logs_are_json_with_the_request_id_and_no_secret(server, wine):
    requests.post(
        server.url + "/v1/predict",
        json={"features": wine},
        headers={"X-API-Key": KEY, "X-Request-ID": "find-me-42"},
        timeout=10,
    )
    requests.post(
        server.url + "/v1/token", json={"username": "viewer", "password": PASSWORD}, timeout=10
    )
    time.sleep(0.2)  # let the worker's line reach the log file
    [line] = [line for line in json_lines(server) if line.get("request_id") == "find-me-42"]
    assert line["status"] == 200 and line["path"] == "/v1/predict" and line["client"] == "ci"
    assert line["model_version"] and line["duration_ms"] > 0
    log = server.log()
    for secret in (KEY, LIMITED_KEY, JWT_SECRET, PASSWORD):
        assert secret not in log
    assert "Traceback" not in log


def test_security_headers_and_no_server_version(server):
    response = requests.get(server.url + "/healthz", timeout=5)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Server"] == "gunicorn"


def test_a_killed_worker_is_replaced_and_its_counts_are_kept(server, wine):
    counted = metric(server, "serving_http_requests_total", route="/v1/predict")
    rows = stored_rows(server)
    master = psutil.Process(server.pid)
    victim = master.children()[0]
    victim.kill()  # SIGKILL: no chance to clean up, as when the kernel kills a worker
    victim.wait(timeout=10)
    pids = wait_for_workers(server.pid, 2, exclude=victim.pid)
    assert len(pids) == 2 and victim.pid not in pids
    # Counters live in files, so the dead worker's requests still count; every row is still there.
    assert metric(server, "serving_http_requests_total", route="/v1/predict") == counted
    assert stored_rows(server) == rows
    response = requests.post(
        server.url + "/v1/predict", json={"features": wine}, headers={"X-API-Key": KEY}, timeout=10
    )
    assert response.status_code == 200
