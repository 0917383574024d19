"""A GET with retries that never runs past an overall deadline (chapter 5).

urllib3's `Retry` bounds the number of attempts, and `timeout=` bounds each wait inside one attempt,
but nothing bounds the whole call: a server's `Retry-After: 3600` alone makes urllib3 sleep an hour
(it honours up to `Retry.DEFAULT_RETRY_AFTER_MAX`, six hours). This loop keeps a deadline instead.
"""

from __future__ import annotations

import random
import re
import time

import requests

# Temporary by their nature: rate limited, and the three a proxy or an overloaded server sends.
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class DeadlineExceeded(TimeoutError):
    """The call could not get an answer worth returning before its deadline."""


def _retry_after_seconds(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After", "") if response is not None else ""
    # str.isdigit() accepts '²', which float() refuses; RFC 9110 allows only ASCII digits here.
    digits = re.fullmatch(r"[0-9]+", value.strip())
    return float(digits.group()) if digits else None  # the HTTP-date form is not handled


def get_with_deadline(
    session: requests.Session,
    url: str,
    *,
    deadline: float,
    timeout: tuple[float, float] = (2.0, 5.0),
    backoff_factor: float = 0.2,
    backoff_jitter: float = 0.1,
) -> requests.Response:
    """GET `url`, retrying connection errors, timeouts and RETRY_STATUSES, for at most `deadline` s.

    Each attempt's (connect, read) timeout is cut to the time left. A read timeout bounds each wait
    for bytes and restarts with every chunk, so a server that trickles bytes can overrun the
    deadline without bound; a hard bound needs a watchdog, or stream=True and a clock check.
    """
    stop_at = time.monotonic() + deadline
    failures = 0
    while True:
        left = stop_at - time.monotonic()
        if left <= 0:  # urllib3 refuses a timeout <= 0 with ValueError; say what happened instead
            raise DeadlineExceeded(f"no answer within {deadline} s after {failures} attempt(s)")
        response = None
        try:
            response = session.get(url, timeout=(min(timeout[0], left), min(timeout[1], left)))
            if response.status_code not in RETRY_STATUSES:
                return response
        except (requests.ConnectionError, requests.Timeout):
            pass
        failures += 1
        pause = _retry_after_seconds(response)
        if pause is None:  # exponential backoff, spread by a random jitter
            pause = backoff_factor * 2 ** (failures - 1) + random.uniform(0, backoff_jitter)  # noqa: S311 - jitter, not a secret
        if time.monotonic() + pause >= stop_at:
            raise DeadlineExceeded(
                f"no answer within {deadline} s after {failures} attempt(s); next wait {pause:.1f} s"
            )
        time.sleep(pause)
