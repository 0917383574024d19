"""A per-client limit shared through a SQLite file: 429 with Retry-After beyond it."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from examples.serving.production import auth, rate_limit
from examples.serving.production.rate_limit import RateLimiter


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


def make_limits(path, rows=(6, 2), logins=(6, 2), failures=(6, 3)) -> rate_limit.Limits:
    """Tiny limits on one file: (per minute, burst) for clients' rows, logins and failures."""
    return rate_limit.Limits(
        clients=RateLimiter(path, *rows),
        logins=RateLimiter(path, *logins),
        failures=RateLimiter(path, *failures),
    )


def limited_client(app, path, config: auth.AuthConfig, **limits):
    """The order app.py uses: the per-address limits, then auth, then rows per client."""
    chosen = make_limits(path, **limits)
    rate_limit.init_before_auth(app, chosen)
    auth.init_app(app, config)
    rate_limit.init_after_auth(app, chosen)
    return app.test_client()


KEYS = f"a:{auth.sha256_hex('key-a')},b:{auth.sha256_hex('key-b')}"


@pytest.fixture
def client(mini_app, limiter_path):
    return limited_client(mini_app, limiter_path, auth.AuthConfig.parse(api_key_hashes=KEYS))


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


PASSWORD = "a password long enough"


@pytest.fixture(scope="module")
def users():
    return (
        f"alice:predict:{auth.hash_password(PASSWORD)},bob:predict:{auth.hash_password(PASSWORD)}"
    )


@pytest.fixture
def login_client(mini_app, limiter_path, users):
    config = auth.AuthConfig.parse(users=users, jwt_secret="s" * 40)
    # A generous allowance per address, a strict one per user name: each limit is seen alone.
    app = limited_client(mini_app, limiter_path, config, logins=(6, 3))
    return app


def login(client, username, password=PASSWORD, address="192.0.2.1"):
    return client.post(
        "/v1/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_logins_are_limited_per_user_name_before_the_password_is_checked(login_client, monkeypatch):
    statuses = [login(login_client, "alice", "wrong", f"192.0.2.{i}").status_code for i in range(3)]
    assert statuses == [401, 401, 401]  # three addresses, one user name
    checked = []
    monkeypatch.setattr(
        "examples.serving.production.auth.hooks.verify_password",
        lambda *a: checked.append(a) or True,
    )
    response = login(login_client, "alice", PASSWORD, "192.0.2.99")
    assert response.status_code == 429 and not checked  # refused before any hash is computed
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 10  # one interval: 60 s / 6
    assert "user name" in response.get_json()["error"]["message"]
    assert login(login_client, "bob", PASSWORD, "192.0.2.98").status_code == 200


def test_logins_are_limited_per_address_across_user_names(mini_app, limiter_path, users):
    config = auth.AuthConfig.parse(users=users, jwt_secret="s" * 40)
    client = limited_client(mini_app, limiter_path, config, logins=(6, 2))
    statuses = [login(client, f"user{i}", "guess").status_code for i in range(3)]
    assert statuses == [401, 401, 429]
    assert "address" in login(client, "alice").get_json()["error"]["message"]
    assert login(client, "alice", address="198.51.100.7").status_code == 200


def test_login_backoff_lasts_one_interval_per_attempt(limiter_path):
    """GCRA's Retry-After: after the burst, each further attempt waits one more interval."""
    limiter = RateLimiter(limiter_path, requests_per_minute=6, burst=2)
    now = 3_000_000.0
    assert [limiter.spend("login-user:x", now) for _ in range(2)] == [0.0, 0.0]
    assert limiter.spend("login-user:x", now) == pytest.approx(10.0)
    assert limiter.spend("login-user:x", now + 10) == 0.0
    assert limiter.spend("login-user:x", now + 10) == pytest.approx(10.0)


def test_bad_credentials_are_limited_per_address_before_they_are_checked(client, monkeypatch):
    """failures=(6, 3): three 401s, then 429 without looking at the credential at all."""
    bad = {"X-API-Key": "not-a-key"}
    statuses = [client.post("/v1/predict", json={}, headers=bad).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    monkeypatch.setattr(
        "examples.serving.production.auth.hooks.check_api_key",
        lambda *a: pytest.fail("a credential was checked"),
    )
    for headers in (bad, {}, {"X-API-Key": "key-a"}):
        response = client.post("/v1/predict", json={}, headers=headers)
        assert (
            response.status_code == 429
            and "failed credentials" in response.get_json()["error"]["message"]
        )
    other = {"REMOTE_ADDR": "203.0.113.5"}
    monkeypatch.undo()
    assert client.post("/v1/predict", json={}, headers=bad, environ_base=other).status_code == 401


def test_valid_credentials_do_not_spend_the_failure_allowance(client):
    good, bad = {"X-API-Key": "key-a"}, {"X-API-Key": "bad"}
    assert [client.post("/v1/predict", json={}, headers=good).status_code for _ in range(2)] == [
        200,
        200,
    ]
    statuses = [client.post("/v1/predict", json={}, headers=bad).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]  # the burst of three failures is still whole


def batch(rows: int) -> dict:
    return {"instances": [{"alcohol": 13.0}] * rows}


def test_a_batch_costs_one_unit_per_row(mini_app, limiter_path):
    client = limited_client(
        mini_app, limiter_path, auth.AuthConfig.parse(api_key_hashes=KEYS), rows=(60, 10)
    )
    headers = {"X-API-Key": "key-a"}
    assert client.post("/v1/predict/batch", json=batch(8), headers=headers).status_code == 200
    refused = client.post("/v1/predict/batch", json=batch(3), headers=headers)
    assert refused.status_code == 429  # 8 + 3 rows > 10
    assert int(refused.headers["Retry-After"]) == 1  # one row refills in 1 s at 60 a minute
    assert "3 rows" in refused.get_json()["error"]["message"]
    assert client.post("/v1/predict/batch", json=batch(2), headers=headers).status_code == 200
    assert client.post("/v1/predict", json={}, headers=headers).status_code == 429


def test_a_batch_larger_than_the_burst_is_refused_clearly(mini_app, limiter_path):
    client = limited_client(
        mini_app, limiter_path, auth.AuthConfig.parse(api_key_hashes=KEYS), rows=(60, 10)
    )
    response = client.post("/v1/predict/batch", json=batch(11), headers={"X-API-Key": "key-a"})
    # 413, not 429: waiting cannot help, and clients (chapter 5's among them) retry a 429.
    assert response.status_code == 413 and "Retry-After" not in response.headers
    assert "split it" in response.get_json()["error"]["message"]
    # Nothing was spent: the allowance is whole.
    assert (
        client.post("/v1/predict/batch", json=batch(10), headers={"X-API-Key": "key-a"}).status_code
        == 200
    )


def test_a_malformed_batch_costs_one(mini_app, limiter_path):
    client = limited_client(
        mini_app, limiter_path, auth.AuthConfig.parse(api_key_hashes=KEYS), rows=(60, 2)
    )
    headers = {"X-API-Key": "key-a", "Content-Type": "application/json"}
    for body in (b"not json", b"[1, 2, 3]", b'{"instances": 5}'):
        assert rate_limit_cost(client, body, headers) == 1


def rate_limit_cost(client, body, headers) -> int:
    # Pushing a request context matches the URL, so url_rule is set as in a real request.
    with client.application.test_request_context(
        "/v1/predict/batch", method="POST", data=body, headers=headers
    ):
        return rate_limit.rows_in_request()


def test_client_identity_is_one_function_of_the_address(mini_app, monkeypatch, limiter_path):
    """A proxy setting changes client_address, and every per-address limit follows it."""
    client = limited_client(
        mini_app, limiter_path, auth.AuthConfig.parse(api_key_hashes=KEYS), failures=(6, 1)
    )
    monkeypatch.setattr(rate_limit, "client_address", lambda: "one-proxy-user")
    bad = {"X-API-Key": "bad"}
    assert client.post("/v1/predict", json={}, headers=bad).status_code == 401
    other = {"REMOTE_ADDR": "203.0.113.9"}  # a different socket address, the same client
    assert client.post("/v1/predict", json={}, headers=bad, environ_base=other).status_code == 429


def test_a_broken_limiter_store_is_503(client, limiter_path, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(RateLimiter, "spend", broken)
    response = client.post("/v1/predict", json={}, headers={"X-API-Key": "key-a"})
    assert response.status_code == 503


def test_the_reference_app_orders_the_limits_around_authentication(tmp_path, model_dir, users):
    """create_app itself: failures and logins limited per address, rows per client after auth."""
    from examples.serving import Settings, create_app

    settings = Settings.isolated(
        tmp_path,
        model_dir,
        train_if_missing=False,
        auth_enabled=True,
        rate_limit_enabled=True,
        api_key_hashes=KEYS,
        users=users,
        jwt_secret="s" * 40,
        rate_limit_per_minute=60,
        rate_limit_burst=5,
        login_per_minute=6,
        login_burst=2,
        failed_auth_per_minute=6,
        failed_auth_burst=2,
    )
    client = create_app(settings).test_client()
    bad, good = {"X-API-Key": "bad"}, {"X-API-Key": "key-a"}
    failures = [client.post("/v1/predict", json={}, headers=bad).status_code for _ in range(3)]
    assert failures == [401, 401, 429]
    elsewhere = {"REMOTE_ADDR": "198.51.100.1"}
    refused = client.post("/v1/predict/batch", json=batch(6), headers=good, environ_base=elsewhere)
    assert refused.status_code == 413 and "split it" in refused.get_json()["error"]["message"]
    logins = [login(client, "alice", "wrong", "198.51.100.2").status_code for _ in range(3)]
    assert logins == [401, 401, 429]
    document = client.get("/openapi.json").get_json()
    assert "429" in document["paths"]["/v1/token"]["post"]["responses"]


def test_expired_allowances_are_pruned_as_the_limiter_runs(limiter_path):
    """Guessed user names and passing addresses must not keep a row for good."""
    limiter = RateLimiter(limiter_path, requests_per_minute=60, burst=1)
    limiter.prune_every = 5
    now = 4_000_000.0
    for i in range(4):
        limiter.spend(f"login-user:guess-{i}", now)
    count = "SELECT count(*) FROM allowances"
    assert limiter._connection().execute(count).fetchone()[0] == 4
    limiter.spend("someone", now + 60)  # the fifth spend prunes the four expired rows first
    assert limiter._connection().execute(count).fetchone()[0] == 1
