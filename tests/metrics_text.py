"""Reading the service's /metrics page in tests: one sum over the samples that match."""

import requests
from prometheus_client.parser import text_string_to_metric_families


def metric(server, name: str, **labels: str) -> float:
    """The sum of a metric's samples (over all workers) that carry the given labels, read from
    the operator's metrics URL the fixture put in `server.extra["metrics_url"]`."""
    text = requests.get(server.extra["metrics_url"], timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
