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


# ---- open loop, the socket client, wrk ---------------------------------------------------------


def test_a_fixed_timetable_is_evenly_spaced_and_bounded():
    from examples.loadgen import arrival_times

    times = arrival_times(50, 2.0, "fixed")
    assert times.size == 100 and times[0] == 0.0
    assert np.allclose(np.diff(times), 0.02)
    assert times[-1] < 2.0


def test_a_poisson_timetable_has_the_right_rate_and_is_reproducible():
    from examples.loadgen import arrival_times

    times = arrival_times(1_000, 20.0, "poisson", seed=4)
    assert np.array_equal(times, arrival_times(1_000, 20.0, "poisson", seed=4))
    assert times.size == pytest.approx(20_000, abs=4 * 20_000**0.5)  # Poisson count, 4 sd
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1e-3, rel=0.03)
    assert gaps.std() == pytest.approx(1e-3, rel=0.05)  # exponential: sd = mean
    assert times.max() < 20.0


@pytest.mark.parametrize(
    "kwargs", [{"rate": 0}, {"rate": 1e9}, {"seconds": 0}, {"seconds": 1e6}, {"arrivals": "bursty"}]
)
def test_absurd_timetables_are_refused(kwargs):
    from examples.loadgen import arrival_times

    with pytest.raises(ValueError):
        arrival_times(**{"rate": 10, "seconds": 1, **kwargs})


def test_the_open_loop_sends_every_request_on_its_timetable():
    from examples.loadgen import arrival_times, run_open_loop

    app = slow_app(0.0)
    with serve_app(app) as server:
        result = run_open_loop(server.url + "/echo", method="POST", json={"x": 1}, rate=100,
                               seconds=1.0, arrivals="fixed")  # fmt: skip
    assert [r.start for r in result.records] == pytest.approx(
        list(arrival_times(100, 1.0, "fixed"))
    )
    assert result.status_counts() == {200: 100} and app.config["served"] == 100
    assert result.offered_rate == 100 and result.unsent == 0
    assert all(r.latency >= r.send_delay >= 0 for r in result.records)
    assert result.wall_seconds < 3.0


def test_the_open_loop_refuses_other_hosts_and_stops_at_its_time_cap():
    from examples.loadgen import run_open_loop

    with pytest.raises(ValueError, match="refusing"):
        run_open_loop("http://example.com/", rate=1, seconds=1)
    with serve_app(slow_app(0.2)) as server:
        # One thread, 0.2 s per request, 20 due per second: it falls behind and the cap cuts it.
        result = run_open_loop(server.url + "/echo", method="POST", rate=20, seconds=2.0,
                               arrivals="fixed", connections=1, max_seconds=1.0)  # fmt: skip
    assert result.unsent > 0
    assert all(r.start + r.send_delay < 1.0 for r in result.records)
    assert len(result.records) + result.unsent == 40


def test_late_requests_are_charged_their_lateness():
    from examples.loadgen import run_open_loop

    with serve_app(slow_app(0.05)) as server:
        # One connection, 0.05 s per request, due every 0.025 s: each waits longer than the last.
        result = run_open_loop(server.url + "/echo", method="POST", rate=40, seconds=0.5,
                               arrivals="fixed", connections=1)  # fmt: skip
    delays = [r.send_delay for r in result.records]
    assert delays[-1] > 0.15 and delays[-1] > delays[1]
    service = [r.latency - r.send_delay for r in result.records]
    assert max(service) < result.records[-1].latency


def test_the_socket_client_matches_the_requests_client():
    app = slow_app(0.0)
    with serve_app(app) as server:
        result = run_load(server.url + "/echo", method="POST", json={"x": 1}, concurrency=2,
                          max_requests=20, max_seconds=10, client="socket")  # fmt: skip
    assert result.status_counts() == {200: 20} and app.config["served"] == 20
    with pytest.raises(ValueError):
        run_load(server.url, client="curl", max_requests=1, max_seconds=1)


def test_open_loop_p99_sees_pauses_that_the_closed_loop_hides():
    from examples.loadgen import run_open_loop
    from examples.production.demos.pausing_app import create_app

    pause, every = 0.1, 1.0
    app = create_app(pause_ms=pause * 1e3, every_ms=every * 1e3)
    with serve_app(app) as server:
        closed = run_load(server.url + "/work", concurrency=1, max_requests=100_000,
                          max_seconds=2.0, client="socket")  # fmt: skip
        pauses = app.test_client().get("/stats").json["pauses"]
        opened = run_open_loop(server.url + "/work", rate=200, seconds=2.0)
    # A closed-loop client meets each pause with its one request in flight: at most one slow
    # request per pause. On the timetable, every request due during a pause waits for it.
    slow_closed = int(np.sum(closed.latencies() >= 0.8 * pause))
    assert slow_closed <= pauses + 3  # a little slack for a busy machine's own stalls
    slow_share = np.mean(opened.latencies() >= 0.2 * pause)
    assert slow_share > 0.03  # about (pause - 0.2 pause) / (pause + every) = 7 % expected
    assert percentiles(opened.latencies(), [99])[99] > 0.5 * pause
    assert slow_share > 3 * slow_closed / closed.latencies().size


def test_pausing_app_settings_are_bounded():
    from examples.production.demos.pausing_app import create_app

    with pytest.raises(ValueError):
        create_app(pause_ms=10_000_000)
    stats = create_app(pause_ms=0, work_ms=0).test_client()
    assert stats.get("/work").status_code == 200
    assert stats.get("/stats").json["served"] == 1


@pytest.mark.skipif(not __import__("os").path.exists("/usr/bin/wrk"), reason="needs Debian's wrk")
def test_wrk_reports_its_counts_and_its_own_cpu():
    from examples.loadgen import run_wrk

    app = slow_app(0.0)
    with serve_app(app) as server:
        result = run_wrk(server.url + "/echo", method="POST", json={"x": 1}, connections=2,
                         seconds=1)  # fmt: skip
    assert result.requests > 0 and result.non_2xx == 0 and result.errors == 0
    assert app.config["served"] >= result.requests
    assert 0 < result.client_cpu_seconds < 5
    assert result.rate == pytest.approx(result.requests / result.seconds)


def test_littles_law_check_passes_and_fails():
    from examples.loadgen import check_littles_law

    passing = check_littles_law(in_system=8, arrival_rate=400, mean_latency=0.0195)
    assert passing.holds and passing.ratio == pytest.approx(0.975)
    # W timed by the server alone misses the backlog: lambda W ~ 1 busy worker, not 8 clients.
    failing = check_littles_law(in_system=8, arrival_rate=400, mean_latency=0.0025)
    assert not failing.holds and failing.ratio == pytest.approx(0.125)
    with pytest.raises(ValueError):
        check_littles_law(0, 1, 1)
