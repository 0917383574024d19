"""The R client (examples/r/client.R) against the reference service: it sends the API key, reads a
422's JSON error, and waits for the seconds a 429's Retry-After names before it tries again."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from examples.serving.app import create_app
from examples.serving.production import auth
from examples.serving.settings import Settings
from examples.toolbox import serve_app
from tests.r.conftest import R_FOLDER, needs_r

pytestmark = needs_r

KEY = "r-client-test-key-5b0e27c91d4f8a63"
PER_MINUTE = 20  # with a burst of 1: one request every 3 s, so the second one in a row gets a 429


@pytest.fixture(scope="module")
def service(model_dir, tmp_path_factory):
    """The reference service with an API key and a tiny rate limit, in a background thread."""
    settings = Settings.isolated(
        tmp_path_factory.mktemp("service"),
        model_dir=model_dir,
        auth_enabled=True,
        api_key_hashes=f"r:{auth.sha256_hex(KEY)}",
        rate_limit_enabled=True,
        rate_limit_per_minute=PER_MINUTE,
        rate_limit_burst=1,
    )
    with serve_app(create_app(settings), ready_path="/readyz") as server:
        yield server


def run_client(url, wines, tmp_path, key=KEY) -> list[str]:
    path = tmp_path / "wines.json"
    path.write_text(json.dumps(wines))
    finished = subprocess.run(
        ["Rscript", "client.R", url, str(path)],
        cwd=R_FOLDER,
        env={**os.environ, "SERVING_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return finished.stdout.splitlines()


def seconds(line: str) -> float:
    return float(re.search(r"~([\d.]+) s\]", line)[1])


def test_a_prediction_a_422_message_and_a_wait_for_retry_after(service, held_out_wines, tmp_path):
    wine = held_out_wines[0]
    bad = {**wine, "alcohol": "13.2"}
    first, second, third = run_client(service.url, [wine, bad, wine], tmp_path)
    assert re.match(r"wine 1: 200 class_\d \(p = 0\.\d{4}\) \[1 attempt\(s\)", first)
    # The second request in a row is over the limit: a 429, a wait, then the service's verdict.
    assert second.startswith(
        "wine 2: 422 validation_error: The request is not valid: features.alcohol must be a number"
    )
    # Retry-After said 3 s; without it httr2 would have waited 1-2 s (its first backoff), so a
    # wait of 2.5 s or more shows that the header was honoured.
    assert "[2 attempt(s)" in second and seconds(second) >= 2.5
    assert third.startswith("wine 3: 200 class_") and "[2 attempt(s)" in third
    assert seconds(third) >= 2.5


def test_a_wrong_key_gets_the_401_message(service, held_out_wines, tmp_path):
    [line] = run_client(service.url, held_out_wines[:1], tmp_path, key="not-a-key-we-issued")
    assert line.startswith("wine 1: 401 unauthorized: ")
    assert "[1 attempt(s)" in line  # a 401 is not retried: waiting would not help


def test_no_answer_is_reported_not_raised(tmp_path, held_out_wines):
    from examples.toolbox import free_port

    # Nothing listens on this port: every attempt is refused at once (then httr2 backs off 1-2 s).
    [line] = run_client(f"http://127.0.0.1:{free_port()}", held_out_wines[:1], tmp_path)
    assert line.startswith("wine 1: no answer: ")
