"""Load with no-loss accounting: at several concurrency levels, two gunicorn workers answer every
request, and the predictions table holds exactly one row for every 200, matched by request id."""

from __future__ import annotations

import pytest

from tests.reliability.conftest import (
    KEY,
    answered_ok,
    drive,
    record_figure,
    scaled,
    stored_request_ids,
)

LEVELS = scaled([1, 8, 32], [1, 4, 8, 16, 32, 64])
MAX_REQUESTS = scaled(300, 5_000)
MAX_SECONDS = scaled(4.0, 60.0)


@pytest.mark.parametrize("concurrency", LEVELS)
def test_every_answer_has_exactly_its_row(service, wine, concurrency):
    prefix = f"load-c{concurrency}"
    outcomes = drive(
        service.url + "/v1/predict",
        {"features": wine},
        prefix=prefix,
        concurrency=concurrency,
        max_requests=MAX_REQUESTS,
        max_seconds=MAX_SECONDS,
        headers={"X-API-Key": KEY},
    )
    statuses = {o.status for o in outcomes}
    assert statuses == {200}, f"not every request succeeded: {statuses}"
    stored = stored_request_ids(service.extra["database"], prefix)
    # One row per answer, no row without an answer, no row twice.
    assert set(stored) == answered_ok(outcomes)
    assert set(stored.values()) == {1}
    assert not [o for o in outcomes if o.leaks]
    seconds = max(o.end for o in outcomes) - min(o.start for o in outcomes)
    record_figure(
        f"load c={concurrency}",
        f"{len(outcomes)} requests in ~{seconds:.1f} s, ~{len(outcomes) / seconds:.0f} req/s, "
        f"rows {sum(stored.values())}, lost {len(answered_ok(outcomes) - set(stored))}",
    )


def test_a_batch_stores_one_row_per_instance_under_one_request_id(service, wine):
    size = scaled(50, 1000)
    outcomes = drive(
        service.url + "/v1/predict/batch",
        {"instances": [wine] * size},
        prefix="batch",
        concurrency=4,
        max_requests=scaled(20, 200),
        max_seconds=MAX_SECONDS,
        headers={"X-API-Key": KEY},
    )
    assert {o.status for o in outcomes} == {200}
    stored = stored_request_ids(service.extra["database"], "batch")
    assert set(stored) == answered_ok(outcomes)
    assert set(stored.values()) == {size}
