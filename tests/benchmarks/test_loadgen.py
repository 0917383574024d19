"""The load generator: its caps hold, it refuses other hosts, and its statistics are right."""

import threading
import time

import numpy as np
import pytest
from flask import Flask

from examples.loadgen import (
    RequestRecord,
    bootstrap_percentile_ci,
    check_loopback,
    littles_law,
    mean_in_flight,
    percentiles,
    run_load,
    summarize,
    throughput,
)
from examples.toolbox import serve_app


def slow_app(delay: float) -> Flask:
    """Answers after `delay` seconds, and counts what it served."""
    app = Flask(__name__)
    app.config["served"] = 0
    lock = threading.Lock()

    @app.post("/echo")
    def echo():
        time.sleep(delay)
        with lock:
            app.config["served"] += 1
        return {"ok": True}

    return app


def test_the_request_cap_holds():
    app = slow_app(0.0)
    with serve_app(app) as server:
        result = run_load(server.url + "/echo", method="POST", json={"x": 1}, concurrency=4,
                          max_requests=37, max_seconds=30)  # fmt: skip
    assert len(result.records) == 37
    assert app.config["served"] == 37
    assert result.status_counts() == {200: 37}


def test_the_time_cap_holds():
    delay, cap = 0.05, 0.5
    with serve_app(slow_app(delay)) as server:
        result = run_load(server.url + "/echo", method="POST", concurrency=2,
                          max_requests=100_000, max_seconds=cap)  # fmt: skip
    assert all(record.start < cap for record in result.records)
    # No request starts after the cap; the ones in flight finish, so the run ends soon after it.
    assert result.wall_seconds < cap + 10 * delay + 1.0
    assert 2 <= len(result.records) <= 2 * cap / delay + 2


def test_refused_connections_are_recorded_not_raised():
    from examples.toolbox import free_port

    result = run_load(f"http://127.0.0.1:{free_port()}/", max_requests=3, max_seconds=5, timeout=1)
    assert [r.status for r in result.records] == [0, 0, 0]
    assert all(r.error == "ConnectionError" for r in result.records)
    assert result.latencies().size == 0


@pytest.mark.parametrize(
    "url", ["http://example.com/", "http://10.0.0.1:8000/", "http://127.0.0.2/", "ftp://127.0.0.1/",
            "http://localhost.example.com/", "http://[::2]:80/"],
)  # fmt: skip
def test_non_loopback_hosts_are_refused(url):
    with pytest.raises(ValueError, match="refusing|only http"):
        run_load(url, max_requests=1, max_seconds=1)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/", "http://localhost/x", "http://[::1]:80/"])
def test_loopback_hosts_are_accepted(url):
    assert check_loopback(url) == url


@pytest.mark.parametrize(
    "caps", [{"max_requests": 0}, {"max_requests": 10**9}, {"max_seconds": 0},
             {"max_seconds": 3600}, {"concurrency": 0}, {"concurrency": 10_000}],
)  # fmt: skip
def test_unbounded_or_absurd_caps_are_refused(caps):
    with pytest.raises(ValueError):
        run_load("http://127.0.0.1:9/", **caps)


def test_percentiles_match_the_definition():
    values = np.arange(1, 101, dtype=float)  # 1..100
    assert percentiles(values, [50, 99, 100]) == {50: 50.5, 99: pytest.approx(99.01), 100: 100.0}
    with pytest.raises(ValueError):
        percentiles([], [50])


def test_the_bootstrap_interval_covers_the_true_percentile_and_is_reproducible():
    rng = np.random.default_rng(1)
    sample = rng.exponential(scale=1.0, size=2_000)
    low, high = bootstrap_percentile_ci(sample, 50, seed=3)
    assert low < np.log(2) < high  # the exponential's true median is ln 2
    assert high - low < 0.15
    assert bootstrap_percentile_ci(sample, 50, seed=3) == (low, high)
    # A wider confidence level gives a wider interval.
    wide = bootstrap_percentile_ci(sample, 50, seed=3, confidence=0.99)
    assert wide[0] <= low and wide[1] >= high


def test_the_bootstrap_interval_is_right_for_a_constant():
    assert bootstrap_percentile_ci([2.0] * 50, 99) == (2.0, 2.0)


def synthetic_records() -> list[RequestRecord]:
    # Two requests overlap on [1, 2]: in flight 1 on [0, 1], 2 on [1, 2], 1 on [2, 3], 0 on [3, 4],
    # and 1 on [4, 5].
    return [RequestRecord(0.0, 2.0, 200), RequestRecord(1.0, 2.0, 200),
            RequestRecord(4.0, 1.0, 503)]  # fmt: skip


def test_throughput_counts_completed_requests_over_the_span():
    assert throughput(synthetic_records()) == pytest.approx(3 / 5)
    assert throughput([]) == 0.0


def test_mean_in_flight_integrates_the_timeline():
    assert mean_in_flight(synthetic_records(), (0.0, 5.0)) == pytest.approx((1 + 2 + 1 + 0 + 1) / 5)
    assert mean_in_flight(synthetic_records(), (1.0, 2.0)) == pytest.approx(2.0)


def test_littles_law_holds_exactly_over_a_whole_busy_period():
    law = littles_law(synthetic_records())
    assert law.window == (0.0, 5.0)
    assert law.arrival_rate == pytest.approx(3 / 5)
    assert law.mean_latency == pytest.approx(5 / 3)
    assert law.mean_in_system == pytest.approx(law.predicted_in_system) == pytest.approx(1.0)


def test_littles_law_holds_for_a_simulated_queue():
    # A steady stream with random latencies: over a middle window the two sides agree closely.
    rng = np.random.default_rng(7)
    starts = np.cumsum(rng.exponential(0.01, size=20_000))
    records = [
        RequestRecord(s, lat, 200)
        for s, lat in zip(starts, rng.gamma(2.0, 0.02, starts.size), strict=True)
    ]
    law = littles_law(records, window=(20.0, 180.0))
    assert law.mean_in_system == pytest.approx(law.predicted_in_system, rel=0.02)
    assert law.mean_in_system == pytest.approx(4.0, rel=0.1)  # lambda = 100/s, W = 0.04 s


def test_summary_reports_counts_and_milliseconds():
    from examples.loadgen import LoadResult

    result = LoadResult(synthetic_records(), concurrency=2, wall_seconds=5.0)
    summary = summarize(result, qs=(50,))
    assert summary["requests"] == 3 and summary["ok"] == 2
    assert summary["statuses"] == {200: 2, 503: 1}
    assert summary["p50_ms"] == pytest.approx(2000.0)
