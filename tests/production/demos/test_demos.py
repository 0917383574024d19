"""The small demo programs of chapters 16-18 do what the chapters say they do."""

import pytest
import requests

from examples.production.demos import blas_threads, slow_app
from examples.toolbox import serve_app


def test_blas_thread_limit_reaches_every_process():
    result = blas_threads.run_processes(processes=2, size=50, repeats=1, blas_threads=1)
    assert [report["blas_threads"] for report in result["processes"]] == [1, 1]
    assert result["wall_seconds"] > 0


def test_blas_demo_refuses_oversized_runs():
    with pytest.raises(ValueError, match="processes"):
        blas_threads.run_processes(processes=100, size=50, repeats=1, blas_threads=1)
    with pytest.raises(ValueError, match="size"):
        blas_threads.run_processes(processes=1, size=10**6, repeats=1, blas_threads=1)


def test_slow_app_sleeps_as_asked_and_caps_the_sleep():
    app = slow_app.create_app()
    with serve_app(app) as server:
        answer = requests.get(server.url + "/sleep", params={"seconds": "0.05"}, timeout=5).json()
        assert answer["slept_seconds"] == 0.05
        assert requests.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"
    client = app.test_client()
    assert slow_app.LONGEST_SLEEP_SECONDS == 30.0
    assert client.get("/sleep?seconds=0").get_json()["slept_seconds"] == 0.0
