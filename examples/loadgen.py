"""A bounded load generator for a server on this machine, and the statistics to read its results.

    result = run_load(server.url + "/v1/predict", json=body, concurrency=8,
                      max_requests=2_000, max_seconds=10)
    percentiles(result.latencies(), [50, 99])        # seconds
    bootstrap_percentile_ci(result.latencies(), 99)  # a 95 % interval for the p99
    littles_law(result.records)                      # L against lambda * W

Two caps bound every run: no request starts after `max_requests` have started or after
`max_seconds` have passed. Only loopback addresses are accepted: this tool is for measuring our own
servers, never for sending load to someone else's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import requests

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Upper bounds on the caps themselves, so that a typo cannot turn a measurement into a flood.
MOST_REQUESTS = 1_000_000
MOST_SECONDS = 600.0
MOST_CONCURRENCY = 256
# The status recorded when no HTTP answer came back (refused connection, timeout, reset).
NO_RESPONSE = 0


@dataclass(frozen=True)
class RequestRecord:
    """One request: when it started (seconds after the run began), how long it took, its status."""

    start: float
    latency: float
    status: int
    error: str | None = None

    @property
    def end(self) -> float:
        return self.start + self.latency


@dataclass
class LoadResult:
    """Every request of one run, in the order they started, and the run's settings."""

    records: list[RequestRecord]
    concurrency: int
    wall_seconds: float

    def latencies(self, only_ok: bool = True) -> np.ndarray:
        """Latencies in seconds; by default of the requests that got a 2xx answer only."""
        chosen = [r.latency for r in self.records if not only_ok or 200 <= r.status < 300]
        return np.asarray(chosen, dtype=float)

    def status_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for record in self.records:
            counts[record.status] = counts.get(record.status, 0) + 1
        return dict(sorted(counts.items()))

    def throughput(self) -> float:
        """Completed requests per second over the run."""
        return throughput(self.records)


def check_loopback(url: str) -> str:
    """Return the URL if its host is this machine's loopback address; raise ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"only http(s) URLs can be loaded, not {url!r}")
    host = (parts.hostname or "").lower()
    if host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"refusing to send load to {host or url!r}: only 127.0.0.1, localhost and ::1 are allowed"
        )
    return url


def _check_caps(concurrency: int, max_requests: int, max_seconds: float) -> None:
    if not 1 <= concurrency <= MOST_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MOST_CONCURRENCY}, not {concurrency}")
    if not 1 <= max_requests <= MOST_REQUESTS:
        raise ValueError(f"max_requests must be between 1 and {MOST_REQUESTS}, not {max_requests}")
    if not 0 < max_seconds <= MOST_SECONDS:
        raise ValueError(
            f"max_seconds must be above 0 and at most {MOST_SECONDS}, not {max_seconds}"
        )


class _Tickets:
    """Hands out permission to start a request until either cap is reached; thread-safe."""

    def __init__(self, max_requests: int, deadline: float):
        self._lock = threading.Lock()
        self._left = max_requests
        self._deadline = deadline

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0 or time.perf_counter() >= self._deadline:
                return False
            self._left -= 1
            return True


def run_load(
    url: str,
    *,
    method: str = "GET",
    json: object | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    concurrency: int = 1,
    max_requests: int = 1_000,
    max_seconds: float = 10.0,
    timeout: float = 10.0,
    progress: bool = False,
) -> LoadResult:
    """Send the same request from `concurrency` threads, each with its own connection, until
    `max_requests` have started or `max_seconds` have passed; return every request's record."""
    check_loopback(url)
    _check_caps(concurrency, max_requests, max_seconds)
    if json is not None:
        # Serialise once, so the threads measure the server and not the client's JSON encoder.
        import json as json_module

        data = json_module.dumps(json).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    begin = time.perf_counter()
    tickets = _Tickets(max_requests, begin + max_seconds)
    per_thread: list[list[RequestRecord]] = [[] for _ in range(concurrency)]
    bar = _progress_bar(max_requests) if progress else None

    def worker(mine: list[RequestRecord]) -> None:
        with requests.Session() as session:
            while tickets.take():
                started = time.perf_counter()
                try:
                    response = session.request(
                        method, url, data=data, headers=headers, timeout=timeout
                    )
                    status, error = response.status_code, None
                except requests.RequestException as failure:
                    status, error = NO_RESPONSE, type(failure).__name__
                finished = time.perf_counter()
                mine.append(RequestRecord(started - begin, finished - started, status, error))
                if bar is not None:
                    bar.update(1)

    threads = [
        threading.Thread(target=worker, args=(mine,), name=f"loadgen-{i}")
        for i, mine in enumerate(per_thread)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if bar is not None:
        bar.close()
    records = sorted((r for mine in per_thread for r in mine), key=lambda r: r.start)
    return LoadResult(records, concurrency, time.perf_counter() - begin)


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="req", leave=False)


# ---- statistics -------------------------------------------------------------------------------


def percentiles(values: Sequence[float] | np.ndarray, qs: Sequence[float]) -> dict[float, float]:
    """The q-th percentiles (0..100) of the values, with numpy's default linear interpolation."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no values: cannot compute percentiles")
    return {q: float(v) for q, v in zip(qs, np.percentile(values, qs), strict=True)}


def bootstrap_percentile_ci(
    values: Sequence[float] | np.ndarray,
    q: float,
    *,
    confidence: float = 0.95,
    resamples: int = 2_000,
    seed: int = 0,
) -> tuple[float, float]:
    """A percentile-bootstrap confidence interval for the q-th percentile of the values.

    Resample the values with replacement, take the q-th percentile of each resample, and return
    the middle `confidence` share of those percentiles. The seed is fixed: same data, same answer.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no values: cannot bootstrap")
    rng = np.random.default_rng(seed)
    # Draw the resamples in chunks of about four million numbers, so memory stays bounded.
    chunk = max(1, 4_000_000 // values.size)
    estimates = np.concatenate(
        [
            np.percentile(
                rng.choice(values, size=(min(chunk, resamples - done), values.size)), q, axis=1
            )
            for done in range(0, resamples, chunk)
        ]
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def throughput(records: Sequence[RequestRecord]) -> float:
    """Completed requests per second, from the first start to the last end."""
    if not records:
        return 0.0
    span = max(r.end for r in records) - min(r.start for r in records)
    return len(records) / span if span > 0 else float("inf")


@dataclass(frozen=True)
class LittlesLaw:
    """Both sides of Little's law, L = lambda * W, measured over one window of time."""

    mean_in_system: float  # L: time-average number of requests in flight
    arrival_rate: float  # lambda: requests started per second
    mean_latency: float  # W: mean time a request spends in flight, in seconds
    window: tuple[float, float]

    @property
    def predicted_in_system(self) -> float:
        return self.arrival_rate * self.mean_latency


def mean_in_flight(records: Sequence[RequestRecord], window: tuple[float, float]) -> float:
    """Time-average of the number of requests in flight during the window, from the timeline:
    +1 at each start and -1 at each end, integrated as a step function."""
    low, high = window
    if high <= low:
        raise ValueError("the window must have a positive length")
    events = sorted(
        [(max(r.start, low), 1) for r in records if r.end > low and r.start < high]
        + [(min(r.end, high), -1) for r in records if r.end > low and r.start < high]
    )
    area, in_flight, previous = 0.0, 0, low
    for moment, step in events:
        area += in_flight * (moment - previous)
        in_flight, previous = in_flight + step, moment
    return area / (high - low)


def littles_law(
    records: Sequence[RequestRecord], window: tuple[float, float] | None = None
) -> LittlesLaw:
    """Measure L from the timeline and, separately, lambda and W from the requests that started in
    the window. Over a window that holds whole busy periods the two sides agree exactly; over a
    slice of a steady run they agree up to edge effects."""
    if not records:
        raise ValueError("no requests")
    if window is None:
        window = (min(r.start for r in records), max(r.end for r in records))
    low, high = window
    started = [r for r in records if low <= r.start < high]
    rate = len(started) / (high - low)
    mean_latency = float(np.mean([r.latency for r in started])) if started else 0.0
    return LittlesLaw(mean_in_flight(records, window), rate, mean_latency, window)


def summarize(result: LoadResult, qs: Sequence[float] = (50, 90, 99)) -> dict[str, object]:
    """The figures worth printing for one run: counts, throughput, percentiles in milliseconds."""
    ok = result.latencies()
    summary: dict[str, object] = {
        "requests": len(result.records),
        "ok": int(ok.size),
        "statuses": result.status_counts(),
        "throughput_per_s": result.throughput(),
    }
    if ok.size:
        for q, value in percentiles(ok, qs).items():
            summary[f"p{q:g}_ms"] = value * 1e3
    return summary
