"""A real Prometheus (Debian's binary) scrapes the service's operator port: the request counter it
stores matches the requests sent, and it has loaded and evaluated every alert rule. Started on
127.0.0.1 with a temporary configuration and storage folder (examples.toolbox.run_prometheus),
every wait bounded, both servers always stopped."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from examples.model import ensure_model
from examples.toolbox import PROMETHEUS, free_port, run_command, run_prometheus

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "examples" / "serving" / "gunicorn.conf.py"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
REQUESTS = 25

pytestmark = pytest.mark.skipif(
    not PROMETHEUS.exists(), reason="Debian's prometheus package is not installed"
)


def query(prometheus, promql: str) -> list[dict]:
    """The result of an instant query through Prometheus' HTTP API."""
    answer = requests.get(prometheus.url + "/api/v1/query", params={"query": promql}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def value_when(prometheus, promql: str, expected: float, seconds: float = 60) -> float | None:
    """Poll until the query's single value equals `expected` (a scrape takes up to an interval,
    and the first only starts a few seconds after Prometheus does); the last value seen."""
    deadline, seen = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        result = query(prometheus, promql)
        seen = float(result[0]["value"][1]) if result else None
        if seen == expected:
            break
        time.sleep(0.5)
    return seen


def evaluated_rules(prometheus, seconds: float = 30) -> dict[str, dict]:
    """The loaded rules by name, once each has been evaluated (health "unknown" before that)."""
    deadline = time.monotonic() + seconds
    while True:
        groups = requests.get(prometheus.url + "/api/v1/rules", timeout=10).json()["data"]
        rules = {rule["name"]: rule for group in groups["groups"] for rule in group["rules"]}
        if time.monotonic() > deadline or "unknown" not in {r["health"] for r in rules.values()}:
            return rules
        time.sleep(0.5)


@pytest.fixture(scope="module")
def service(tmp_path_factory, model_dir):
    folder = tmp_path_factory.mktemp("scraped")
    metrics_bind = f"127.0.0.1:{free_port()}"
    env = {
        "SERVING_BIND": "127.0.0.1:{port}",
        "SERVING_METRICS_BIND": metrics_bind,
        "SERVING_WORKERS": "2",
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_DATABASE_URL": f"sqlite:///{folder / 'predictions.sqlite3'}",
        "SERVING_AUTH_ENABLED": "false",
        "SERVING_RATE_LIMIT_ENABLED": "false",
        "SERVING_LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(CONFIG), "examples.serving.wsgi:app"]
    with run_command(command, env=env, ready_path="/readyz", timeout=90) as running:
        running.extra["metrics_bind"] = metrics_bind
        domain = ensure_model(model_dir).metadata.domain
        running.extra["wine"] = {
            n: (d["allowed_min"] + d["allowed_max"]) / 2 for n, d in domain.items()
        }
        yield running


def test_prometheus_stores_what_the_service_counted(service):
    with run_prometheus([service.extra["metrics_bind"]], [RULES]) as prometheus:
        for _ in range(REQUESTS):
            answer = requests.post(
                service.url + "/v1/predict", json={"features": service.extra["wine"]}, timeout=10
            )
            assert answer.status_code == 200
        counted = 'sum(serving_http_requests_total{route="/v1/predict", status="200"})'
        assert value_when(prometheus, counted, REQUESTS) == REQUESTS
        assert value_when(prometheus, 'up{job="serving"}', 1) == 1
        assert value_when(prometheus, "sum(serving_workers)", 2) == 2
        loaded = evaluated_rules(prometheus)
    written = yaml.safe_load(RULES.read_text())
    names = {rule["alert"] for group in written["groups"] for rule in group["rules"]}
    assert set(loaded) == names
    # Each rule was evaluated against the real series without an error.
    assert {rule["health"] for rule in loaded.values()} == {"ok"}, loaded
