"""Security under real gunicorn: requests without a valid credential never reach the model, keys
are compared in constant time, the rate limit holds across two workers, no secret or internal
detail leaks into a response or a log line, and ruff's bandit rules find nothing in examples/."""

from __future__ import annotations

import hmac
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from examples.serving import Settings, create_app
from examples.serving.production import auth
from examples.toolbox import REPO_ROOT
from tests.reliability.conftest import (
    KEY,
    PASSWORD,
    assert_clean_log,
    drive,
    gunicorn,
    json_log_lines,
    leaks_in,
    metric,
    record_figure,
    scaled,
    stored_request_ids,
)

ATTEMPTS = scaled(25, 400)


def token_for(server, username: str) -> str:
    response = requests.post(
        server.url + "/v1/token", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200 and not leaks_in(response.text)
    return response.json()["access_token"]


@pytest.mark.parametrize(
    ("credential", "status"),
    [
        ("none", 401),
        ("wrong key", 401),
        ("key one character off", 401),
        ("forged token", 401),
        ("token without the predict scope", 403),
    ],
)
def test_bad_credentials_never_reach_the_model(service, wine, credential, status):
    headers = {
        "none": {},
        "wrong key": {"X-API-Key": "not-a-key-we-ever-issued"},
        "key one character off": {"X-API-Key": KEY[:-1] + ("x" if KEY[-1] != "x" else "y")},
        "forged token": {"Authorization": "Bearer " + token_for(service, "analyst")[:-4] + "AAAA"},
        "token without the predict scope": {
            "Authorization": "Bearer " + token_for(service, "viewer")
        },
    }[credential]
    prefix = "deny-" + credential.replace(" ", "-")
    predictions_before = metric(service, "serving_predictions_total")
    refused_before = metric(
        service, "serving_http_requests_total", route="/v1/predict", status=str(status)
    )
    outcomes = drive(
        service.url + "/v1/predict",
        {"features": wine},
        prefix=prefix,
        concurrency=4,
        max_requests=ATTEMPTS,
        max_seconds=30,
        headers=headers,
    )
    assert {o.status for o in outcomes} == {status}
    assert not [o for o in outcomes if o.leaks]
    # Counted as refusals, across both workers; no prediction made, no row stored.
    refused_after = metric(
        service, "serving_http_requests_total", route="/v1/predict", status=str(status)
    )
    assert refused_after - refused_before == len(outcomes)
    assert metric(service, "serving_predictions_total") == predictions_before
    assert not stored_request_ids(service.extra["database"], prefix)


def test_a_valid_key_and_a_valid_token_do_reach_the_model(service, wine):
    before = metric(service, "serving_predictions_total")
    for headers in (
        {"X-API-Key": KEY},
        {"Authorization": "Bearer " + token_for(service, "analyst")},
    ):
        response = requests.post(
            service.url + "/v1/predict", json={"features": wine}, headers=headers, timeout=30
        )
        assert response.status_code == 200
    assert metric(service, "serving_predictions_total") == before + 2


def test_keys_are_compared_with_hmac_compare_digest(model_dir, tmp_path, wine, monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.credentials.hmac, "compare_digest", spy)
    app = create_app(
        Settings.isolated(
            tmp_path,
            model_dir,
            train_if_missing=False,
            auth_enabled=True,
            api_key_hashes=f"one:{auth.sha256_hex('x' * 40)},two:{auth.sha256_hex(KEY)}",
        )
    )
    client = app.test_client()
    wrong = client.post("/v1/predict", json={"features": wine}, headers={"X-API-Key": "y" * 40})
    assert wrong.status_code == 401
    # Every configured digest was compared, each through compare_digest, even after a match
    # would have been impossible: the time taken does not depend on which key came closest.
    assert len(calls) == 2 and all(len(a) == len(b) == 32 for a, b in calls)
    calls.clear()
    right = client.post("/v1/predict", json={"features": wine}, headers={"X-API-Key": KEY})
    assert right.status_code == 200
    assert len(calls) == 2 and any(a == b for a, b in calls)


def test_the_rate_limit_holds_across_two_workers(tmp_path, model_dir, wine):
    burst, per_minute = scaled(60, 300), 6  # one request refills every 10 s
    interval = 60 / per_minute
    extra = scaled(40, 300)
    with gunicorn(
        tmp_path,
        model_dir,
        SERVING_RATE_LIMIT_BURST=str(burst),
        SERVING_RATE_LIMIT_PER_MINUTE=str(per_minute),
    ) as server:

        def predict(i: int) -> requests.Response:
            return requests.post(
                server.url + "/v1/predict",
                json={"features": wine},
                headers={"X-API-Key": KEY, "X-Request-ID": f"limit-{i}"},
                timeout=30,
            )

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(predict, range(burst + extra)))
        elapsed = time.monotonic() - started
        stored = stored_request_ids(server.extra["database"], "limit")
        served_by = {
            line["pid"]
            for line in json_log_lines(server)
            if str(line.get("request_id", "")).startswith("limit-")
        }
        assert_clean_log(server)
    allowed = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(allowed) + len(refused) == len(responses)
    record_figure(
        "rate limit",
        f"burst {burst}, {len(responses)} requests from one key in ~{elapsed:.1f} s through 2 "
        f"workers: {len(allowed)} answered, {len(refused)} refused with 429",
    )
    # GCRA: exactly `burst` at once, plus one per interval that passed during the run.
    assert burst <= len(allowed) <= burst + int(elapsed / interval) + 1
    if elapsed < interval:
        assert len(allowed) == burst
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert {r.json()["error"]["code"] for r in refused} == {"rate_limited"}
    assert len(stored) == len(allowed)
    # Both workers answered, so the allowance really was shared between processes.
    assert len(served_by) == 2


def test_ruff_bandit_rules_find_nothing_in_examples():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--select", "S", "--output-format", "concise", "examples/"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
