"""Request counts, latencies and predictions by class, read back as a scrape would; /metrics is
served on the operator's port, never on the service's public one."""

import pytest
import requests
from flask import request
from prometheus_client.parser import text_string_to_metric_families

from examples.serving.production import metrics


def samples(text: str) -> dict[tuple, float]:
    """Every sample of the exposition text, keyed by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def client(mini_app):
    metrics.init_app(mini_app, "wine-classifier", "1.0.0")
    return mini_app.test_client()


def read(client) -> dict[tuple, float]:
    """What a scrape would read now (the client's app shares the process's metrics)."""
    return samples(metrics.service_metrics().render().decode())


def test_the_public_port_has_no_metrics_and_the_operator_port_has(client):
    assert client.get("/metrics").status_code == 404
    server = metrics.serve_to_operator("127.0.0.1", 0)  # 0: any free port
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        response = requests.get(url, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "serving_model_info" in response.text


def test_the_reference_app_has_no_public_metrics_route(tmp_path, model_dir):
    from examples.serving import Settings, create_app

    app = create_app(Settings.isolated(tmp_path, model_dir=model_dir))
    assert app.test_client().get("/metrics").status_code == 404
    assert "/metrics" not in app.test_client().get("/openapi.json").get_json()["paths"]
    app.extensions["prediction_store"].dispose()


def test_requests_and_predictions_are_counted(client):
    before = read(client)
    for _ in range(3):
        client.post("/v1/predict", json={})
    client.post("/v1/predict/batch", json={})
    client.get("/nowhere")
    after = read(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    ok = {"route": "/v1/predict", "method": "POST", "status": "200"}
    assert delta("serving_http_requests_total", **ok) == 3
    assert (
        delta("serving_http_requests_total", route="(unmatched)", method="GET", status="404") == 1
    )
    assert delta("serving_predictions_total", model_version="1.0.0", predicted_class="class_0") == 4
    assert delta("serving_predictions_total", model_version="1.0.0", predicted_class="class_1") == 2
    assert delta("serving_http_request_duration_seconds_count", route="/v1/predict") == 3
    assert after[("serving_model_info", (("name", "wine-classifier"), ("version", "1.0.0")))] == 1


def test_refusals_are_counted_but_not_timed(client):
    """A 4xx is a request (counted by status) but not a latency sample: fast refusals would
    otherwise dilute the slow share the latency SLO watches."""
    before = read(client)
    assert client.get("/nowhere").status_code == 404
    client.post("/v1/predict", json={})
    after = read(client)
    unmatched = (("method", "GET"), ("route", "(unmatched)"), ("status", "404"))
    counted = ("serving_http_requests_total", unmatched)
    assert after.get(counted, 0) - before.get(counted, 0) == 1
    for route in ("(unmatched)", "/v1/predict"):
        timed = ("serving_http_request_duration_seconds_count", (("route", route),))
        assert after.get(timed, 0) - before.get(timed, 0) == (route == "/v1/predict")


def test_failed_predictions_are_not_counted_as_predictions(mini_app):
    metrics.init_app(mini_app)

    @mini_app.after_request
    def fail(response):  # registered later, so it runs first, as storage's 503 does
        if request.path.startswith("/v1/"):
            response.status_code = 503
        return response

    client = mini_app.test_client()
    before = read(client)
    client.post("/v1/predict", json={})
    after = read(client)
    key = (
        "serving_predictions_total",
        (("model_version", "1.0.0"), ("predicted_class", "class_0")),
    )
    assert after.get(key, 0) == before.get(key, 0)


def test_multiprocess_mode_reads_the_shared_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # No worker has written a file yet: the summed view is empty but valid.
    assert samples(metrics.service_metrics().render().decode()) == {}
