"""A bounded load generator for a server on this machine, and the statistics to read its results.

    result = run_load(server.url + "/v1/predict", json=body, concurrency=8,
                      max_requests=2_000, max_seconds=10)          # closed loop
    result = run_open_loop(server.url + "/v1/predict", json=body, rate=300,
                           seconds=5, arrivals="poisson")          # open loop
    percentiles(result.latencies(), [50, 99])        # seconds
    check_littles_law(8, result.throughput(), result.latencies().mean())  # an independent L

For intervals on tail percentiles use `examples.measurement` (order statistics): a bootstrap
bound never exceeds the sample's largest value, so it cannot cover an extreme percentile of a
small sample with the confidence it states.

A closed loop (`run_load`) runs `concurrency` clients, each sending its next request when the
previous answer is in. An open loop (`run_open_loop`) sends on a timetable fixed in advance (a
fixed or Poisson rate), whatever the server does, and times each request from the moment it was
*due*, so a stall that delays sending is charged to the requests it delayed (no coordinated
omission). `run_wrk` runs Debian's wrk, a closed-loop generator written in C.

Two caps bound every run: no request starts after `max_requests` have started or after
`max_seconds` have passed. Only loopback addresses are accepted: this tool is for measuring our own
servers, never for sending load to someone else's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import requests

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Upper bounds on the caps themselves, so that a typo cannot turn a measurement into a flood.
MOST_REQUESTS = 1_000_000
MOST_SECONDS = 600.0
MOST_CONCURRENCY = 256
MOST_RATE = 20_000.0  # open loop: requests per second
# The status recorded when no HTTP answer came back (refused connection, timeout, reset).
NO_RESPONSE = 0


@dataclass(frozen=True)
class RequestRecord:
    """One request: when it started (seconds after the run began), how long it took, its status."""

    start: float
    latency: float
    status: int
    error: str | None = None
    # Open loop only: how late the request left after its due time (`start`). `latency` counts
    # from the due time; `latency - send_delay` is what a client timing from its send would see.
    send_delay: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.latency


@dataclass
class LoadResult:
    """Every request of one run, in the order they started, and the run's settings."""

    records: list[RequestRecord]
    concurrency: int
    wall_seconds: float
    offered_rate: float | None = None  # open loop: the timetable's mean rate, requests per second
    unsent: int = 0  # open loop: due requests never sent because the time cap came first

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
    client: str = "requests",
) -> LoadResult:
    """Send the same request from `concurrency` threads, each with its own connection, until
    `max_requests` have started or `max_seconds` have passed; return every request's record.
    `client="socket"` sends each request on a new socket (as `run_open_loop` does), far cheaper
    in client CPU than the requests library."""
    check_loopback(url)
    _check_caps(concurrency, max_requests, max_seconds)
    if json is not None:
        # Serialise once, so the threads measure the server and not the client's JSON encoder.
        import json as json_module

        data = json_module.dumps(json).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    if client not in {"requests", "socket"}:
        raise ValueError(f'client must be "requests" or "socket", not {client!r}')
    raw = _raw_request(method, url, data, headers or {})
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    begin = time.perf_counter()
    tickets = _Tickets(max_requests, begin + max_seconds)
    per_thread: list[list[RequestRecord]] = [[] for _ in range(concurrency)]
    bar = _progress_bar(max_requests) if progress else None

    def worker(mine: list[RequestRecord]) -> None:
        with requests.Session() as session:
            while tickets.take():
                started = time.perf_counter()
                try:
                    if client == "socket":
                        status, error = _exchange(address, raw, timeout), None
                    else:
                        response = session.request(
                            method, url, data=data, headers=headers, timeout=timeout
                        )
                        status, error = response.status_code, None
                except (requests.RequestException, OSError, ValueError, IndexError) as failure:
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


# ---- open loop ----------------------------------------------------------------------------------


def arrival_times(
    rate: float, seconds: float, arrivals: str = "poisson", seed: int = 0
) -> np.ndarray:
    """Due times (seconds after the start) of an open-loop timetable: every 1/rate seconds
    ("fixed"), or with independent exponential gaps of mean 1/rate ("poisson"); all below `seconds`."""
    if not 0 < rate <= MOST_RATE:
        raise ValueError(f"rate must be above 0 and at most {MOST_RATE}, not {rate}")
    if not 0 < seconds <= MOST_SECONDS:
        raise ValueError(f"seconds must be above 0 and at most {MOST_SECONDS}, not {seconds}")
    expected = int(rate * seconds)
    if arrivals == "fixed":
        times = np.arange(expected + 1) / rate
    elif arrivals == "poisson":
        gaps = np.random.default_rng(seed).exponential(
            1 / rate, size=expected + 10 * int(expected**0.5) + 10
        )
        times = np.cumsum(gaps) - gaps[0]  # the first request is due at once
    else:
        raise ValueError(f'arrivals must be "fixed" or "poisson", not {arrivals!r}')
    return times[times < seconds]


def _raw_request(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if data is not None:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (data or b"")


def _exchange(address: tuple[str, int], request: bytes, timeout: float) -> int:
    """Send one request on a new connection and read the answer until the server closes;
    return the status code. A new connection per request is what gunicorn's sync workers do."""
    with socket.create_connection(address, timeout=timeout) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head = b"".join(chunks[:1])[:32]
    if not head.startswith(b"HTTP/1."):
        raise ConnectionError("no HTTP answer")
    return int(head.split(b" ", 2)[1])


def run_open_loop(
    url: str,
    *,
    rate: float,
    seconds: float,
    arrivals: str = "poisson",
    seed: int = 0,
    method: str = "GET",
    json: object | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 64,
    max_requests: int = 100_000,
    max_seconds: float | None = None,
    timeout: float = 10.0,
) -> LoadResult:
    """Send requests on a timetable fixed in advance, from up to `connections` threads at once,
    and time each from its due time. Requests that find every thread busy leave late, and their
    lateness counts in their latency; none is sent after `max_seconds` (default: `seconds` + 5)."""
    check_loopback(url)
    due = arrival_times(rate, seconds, arrivals, seed)[:max_requests]
    max_seconds = seconds + 5.0 if max_seconds is None else max_seconds
    _check_caps(connections, max(1, due.size), max_seconds)
    if json is not None:
        import json as json_module

        data = json_module.dumps(json).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    request = _raw_request(method, url, data, headers or {})
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    lock = threading.Lock()
    next_index = iter(range(due.size))
    records: list[RequestRecord] = []
    unsent = 0
    begin = time.perf_counter()

    def worker() -> None:
        nonlocal unsent
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            due_at = begin + float(due[index])
            if due_at - begin >= max_seconds or time.perf_counter() - begin >= max_seconds:
                with lock:
                    unsent += 1
                continue
            wait = due_at - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            try:
                status, error = _exchange(address, request, timeout), None
            except (OSError, ValueError, IndexError) as failure:
                status, error = NO_RESPONSE, type(failure).__name__
            finished = time.perf_counter()
            record = RequestRecord(
                float(due[index]), finished - due_at, status, error, sent - due_at
            )
            with lock:
                records.append(record)

    threads = [threading.Thread(target=worker, name=f"openloop-{i}") for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records.sort(key=lambda r: r.start)
    wall = time.perf_counter() - begin
    return LoadResult(records, connections, wall, offered_rate=rate, unsent=unsent)


# ---- wrk ----------------------------------------------------------------------------------------

WRK = "/usr/bin/wrk"


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reports, and the CPU time wrk itself used (from the kernel, at exit)."""

    requests: int
    seconds: float
    non_2xx: int
    errors: int
    client_cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


_WRK_LUA = """\
wrk.method = {method}
wrk.body = {body}
{headers}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d\\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(
    url: str,
    *,
    method: str = "GET",
    json: object | None = None,
    connections: int = 8,
    seconds: int = 3,
    threads: int = 1,
) -> WrkResult:
    """Run wrk (a closed loop of `connections` connections) for whole `seconds`; return its counts
    and its own user + system CPU seconds, read from the kernel when it exits."""
    import json as json_module
    import tempfile

    check_loopback(url)
    _check_caps(connections, 1, seconds)
    headers = 'wrk.headers["Content-Type"] = "application/json"' if json is not None else ""
    body = json_module.dumps(json_module.dumps(json)) if json is not None else "nil"
    script = _WRK_LUA.format(method=json_module.dumps(method), body=body, headers=headers)
    with tempfile.TemporaryDirectory() as folder:
        script_path = Path(folder) / "load.lua"
        script_path.write_text(script)
        command = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s",
                   "--timeout", "10s", "-s", str(script_path), url]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603 - a fixed program and arguments, no shell
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        # wait4 returns the child's resource usage as it is reaped: wrk's own CPU time. wrk's
        # output is a few lines, far below a pipe's buffer, so reading after the exit is safe.
        deadline = time.monotonic() + seconds + 30
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                raise RuntimeError(f"wrk did not finish within {seconds + 30} s")
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        output, errors = process.stdout.read(), process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    for line in output.decode().splitlines():
        if line.startswith("WRK "):
            requests_done, micros, non_2xx, failures = (int(x) for x in line.split()[1:])
            break
    else:
        raise RuntimeError(f"wrk printed no result: {output.decode()} {errors.decode()}")
    return WrkResult(
        requests_done, micros / 1e6, non_2xx, failures, usage.ru_utime + usage.ru_stime
    )


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
    Fine for the median; not for a tail percentile of a small sample (see examples.measurement).
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
    slice of a steady run they agree up to edge effects. Both sides come from the same timeline,
    so this is a consistency check of the records, not a test of the law: `check_littles_law`
    takes an L measured independently."""
    if not records:
        raise ValueError("no requests")
    if window is None:
        window = (min(r.start for r in records), max(r.end for r in records))
    low, high = window
    started = [r for r in records if low <= r.start < high]
    rate = len(started) / (high - low)
    mean_latency = float(np.mean([r.latency for r in started])) if started else 0.0
    return LittlesLaw(mean_in_flight(records, window), rate, mean_latency, window)


@dataclass(frozen=True)
class LittleCheck:
    """Little's law with L measured on its own (not from the same latencies): lambda W against L."""

    in_system: float  # L, measured independently: the closed loop's clients, or sampled counts
    arrival_rate: float  # lambda, requests per second
    mean_latency: float  # W, seconds, from wherever it was timed
    tolerance: float  # the relative gap still called agreement

    @property
    def predicted_in_system(self) -> float:
        return self.arrival_rate * self.mean_latency

    @property
    def ratio(self) -> float:
        """lambda W / L: 1 when the law holds for what was measured."""
        return self.predicted_in_system / self.in_system

    @property
    def holds(self) -> bool:
        return abs(self.ratio - 1) <= self.tolerance


def check_littles_law(
    in_system: float, arrival_rate: float, mean_latency: float, tolerance: float = 0.1
) -> LittleCheck:
    """Compare lambda W with an L measured independently. A ratio well below 1 means W was timed
    over a window that misses part of the time requests spend in the system (a queue before it)."""
    if in_system <= 0 or arrival_rate < 0 or mean_latency < 0:
        raise ValueError("L must be positive, lambda and W not negative")
    return LittleCheck(in_system, arrival_rate, mean_latency, tolerance)


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
