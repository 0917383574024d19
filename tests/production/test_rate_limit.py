"""A per-client limit shared through a SQLite file: 429 with Retry-After beyond it."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from examples.serving import auth, rate_limit
from examples.serving.rate_limit import RateLimiter


@pytest.fixture
def limiter_path(tmp_path):
    return tmp_path / "var" / "rate_limits.sqlite3"


def test_a_burst_then_one_per_interval(limiter_path):
    limiter = RateLimiter(limiter_path, requests_per_minute=60, burst=3)  # one per second
    now = 1_000_000.0
    assert [limiter.spend("a", now) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.spend("a", now) == pytest.approx(1.0)
    assert limiter.spend("b", now) == 0.0  # another client has its own allowance
    assert limiter.spend("a", now + 0.5) == pytest.approx(0.5)
    assert limiter.spend("a", now + 1.0) == 0.0
    assert limiter.spend("a", now + 1.0) > 0


def test_two_limiters_on_one_file_share_the_allowance(limiter_path):
    """What two gunicorn workers do: separate connections, one count."""
    first = RateLimiter(limiter_path, requests_per_minute=60, burst=10)
    second = RateLimiter(limiter_path, requests_per_minute=60, burst=10)
    now = 2_000_000.0
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda i: (first, second)[i % 2].spend("k", now), range(30)))
    assert sum(wait == 0 for wait in waits) == 10


def test_bad_limits_are_refused(limiter_path):
    with pytest.raises(ValueError):
        RateLimiter(limiter_path, requests_per_minute=0, burst=1)


@pytest.fixture
def client(mini_app, limiter_path):
    auth.init_app(
        mini_app,
        auth.AuthConfig.parse(
            api_key_hashes=f"a:{auth.sha256_hex('key-a')},b:{auth.sha256_hex('key-b')}"
        ),
    )
    rate_limit.init_app(mini_app, RateLimiter(limiter_path, requests_per_minute=6, burst=2))
    return mini_app.test_client()


def test_over_the_limit_is_429_with_retry_after(client):
    headers = {"X-API-Key": "key-a"}
    statuses = [client.post("/v1/predict", json={}, headers=headers).status_code for _ in range(2)]
    assert statuses == [200, 200]
    response = client.post("/v1/predict", json={}, headers=headers)
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 10
    # Another key is counted apart; open routes are never limited.
    assert client.post("/v1/predict", json={}, headers={"X-API-Key": "key-b"}).status_code == 200
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_anonymous_token_requests_are_limited_by_address(client):
    statuses = [client.post("/v1/token", json={}).status_code for _ in range(3)]
    assert statuses[-1] == 429


def test_a_broken_limiter_store_is_503(client, limiter_path, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(RateLimiter, "spend", broken)
    response = client.post("/v1/predict", json={}, headers={"X-API-Key": "key-a"})
    assert response.status_code == 503
