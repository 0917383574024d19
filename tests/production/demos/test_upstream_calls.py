"""The async section's demo: both fronts call the upstream and pass its answer on."""

import sys

import pytest
import requests

from examples.toolbox import run_command

UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port", "{port}",
           "--log-level", "warning"]  # fmt: skip
GUNICORN = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}", "--workers", "1"]


@pytest.fixture(scope="module")
def upstream():
    command = [*UVICORN, "examples.production.demos.upstream_calls:create_upstream_app"]
    with run_command(command, ready_path="/healthz") as server:
        yield server.url + "/wait"


@pytest.mark.parametrize(
    "command",
    [
        [*GUNICORN, "examples.production.demos.upstream_calls:create_flask_app()"],
        [
            *GUNICORN,
            "--threads",
            "4",
            "examples.production.demos.upstream_calls:create_flask_app()",
        ],
        [*UVICORN, "examples.production.demos.upstream_calls:create_async_app"],
    ],
    ids=["sync", "gthread", "async"],
)
def test_each_front_passes_the_upstreams_answer_on(upstream, command):
    with run_command(command, env={"UPSTREAM_URL": upstream}, ready_path="/healthz") as front:
        answers = [requests.get(front.url + "/call", timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == {"upstream": {"waited_s": 0.05}}
