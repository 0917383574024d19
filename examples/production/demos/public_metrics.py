"""The reference app with /metrics back on its public port, answered by whichever worker takes
the connection: chapter 18 runs it without multiprocess mode to show each worker counting only
its own requests. A demonstration, never a way to serve: the real service keeps /metrics on the
operator's port (examples/serving/production/metrics.py)."""

from flask import Response
from prometheus_client import CONTENT_TYPE_LATEST

from examples.serving import create_app
from examples.serving.production.metrics import service_metrics

app = create_app()


@app.get("/metrics")
def metrics() -> Response:
    return Response(service_metrics().render(), content_type=CONTENT_TYPE_LATEST)
