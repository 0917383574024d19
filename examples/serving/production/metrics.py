"""Prometheus metrics: counts and latencies a monitoring system reads from `GET /metrics`.

/metrics is not served on the service's public port: its numbers reveal the traffic and the mix
of predicted classes. Under gunicorn, the master process serves it on a port of its own for the
operator (SERVING_METRICS_BIND, 127.0.0.1:8001 by default, beside the public 8000; see gunicorn.conf.py). Serving it
from the master also keeps the scrape answered while every worker is busy.

Under gunicorn each worker is its own process with its own memory, so a counter kept in memory
would count only the requests of the worker that answers the scrape. prometheus-client's
multiprocess mode keeps every worker's numbers in small files under $PROMETHEUS_MULTIPROC_DIR and
adds them up when /metrics is read. Without that variable (one process: tests, `flask run`), the
ordinary in-memory registry is used. The variable must be set before prometheus_client is first
imported: gunicorn.conf.py does it.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from operator import attrgetter

from flask import Flask, Response, g, request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

# Upper edges of the latency histogram, in seconds: fine steps where our requests fall (a few
# milliseconds), coarse ones for the tail. Each bucket is one more number to update per request.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ServiceMetrics:
    """The service's metrics, created once per process in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "serving_http_requests_total",
            "HTTP requests answered, by route, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "serving_http_request_duration_seconds",
            # Not the time a request waited for a free worker: see chapter 18.
            "Time from the request reaching Flask to the response leaving it (4xx answers left out).",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "serving_predictions_total",
            "Predictions returned, by model version and predicted class.",
            ["model_version", "predicted_class"],
            registry=self.registry,
        )
        # "livemax": the largest value among the workers alive now (a dead worker's 1 is dropped by
        # gunicorn.conf.py's child_exit); every worker reports 1 for the version it serves.
        self.model_info = self._gauge(
            "serving_model_info",
            "The model being served (value 1, details in the labels).",
            mode="livemax",
            labels=["name", "version"],
        )

        # For the alerts (deploy/prometheus/alerts.yml). "livesum": the sum over the workers
        # alive now; a dead worker's value is dropped (gunicorn.conf.py's child_exit).
        self.in_progress = self._gauge(
            "serving_http_requests_in_progress",
            "Requests a worker is handling now (0 or 1 for a sync worker).",
            mode="livesum",
        )
        self.workers = self._gauge(
            "serving_workers",
            "Worker processes alive (each sets 1 when it starts: gunicorn.conf.py's post_fork).",
            mode="livesum",
        )
        self.ready = self._gauge(
            "serving_ready",
            "1 when the model is loaded and verified (what /readyz says), else 0.",
            mode="livemax",
        )

    def _gauge(self, name: str, documentation: str, *, mode: str, labels=()) -> Gauge:
        """A gauge in this registry; `mode` says how the workers' values combine in one scrape."""
        return Gauge(name, documentation, labels, multiprocess_mode=mode, registry=self.registry)

    def scraped_registry(self) -> CollectorRegistry:
        """What a scrape reads: every worker's files when there are several, else this process."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return registry
        return self.registry

    def render(self) -> bytes:
        """The text a Prometheus server scrapes: summed over all workers when there are several."""
        return generate_latest(self.scraped_registry())


_metrics: ServiceMetrics | None = None


def service_metrics() -> ServiceMetrics:
    """The process's metrics (a metric name may be registered only once per registry)."""
    global _metrics
    if _metrics is None:
        _metrics = ServiceMetrics()
    return _metrics


def set_model_info(name: str, version: str) -> None:
    """Publish which model this process serves."""
    service_metrics().model_info.labels(name, version).set(1)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()
    service_metrics().in_progress.inc()


def _observe(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        service_metrics().in_progress.dec()
    # The route pattern keeps the number of label values small; a raw path would not.
    rule = request.url_rule
    route = rule.rule if rule else "(unmatched)"
    metrics = service_metrics()
    metrics.requests.labels(route, request.method, str(response.status_code)).inc()
    # Refusals and invalid requests (4xx) are answered fast: timed with the rest, a flood of
    # them would dilute the share of slow requests that the latency SLO watches.
    if started is not None and not 400 <= response.status_code < 500:
        metrics.latency.labels(route).observe(time.perf_counter() - started)
    results = g.get("predictions")  # what the prediction routes returned, when they succeeded
    if results and response.status_code == 200:
        # One increment per class with the count, not one per row: a batch of 1,000 rows costs
        # three updates of the shared counter files instead of 1,000. One request's results all
        # come from one model version.
        version = results[0].model_version
        for label, count in Tally(map(attrgetter("prediction"), results)).items():
            metrics.predictions.labels(version, label).inc(count)
    return response


def serve_to_operator(host: str, port: int):
    """Serve /metrics on host:port in a thread of this process (gunicorn's master: when_ready in
    gunicorn.conf.py); returns the server, whose `server_port` is the port actually bound."""
    server, _thread = start_http_server(
        port, addr=host, registry=service_metrics().scraped_registry()
    )
    return server


def init_app(app: Flask, model_name: str | None = None, model_version: str | None = None) -> None:
    """Time and count every request. The numbers are read through serve_to_operator, never through
    a route of this app: the app's port is the public one."""
    if model_name and model_version:
        set_model_info(model_name, model_version)
    service_metrics().ready.set(1 if model_name and model_version else 0)
    app.before_request(_start_timer)
    app.after_request(_observe)
