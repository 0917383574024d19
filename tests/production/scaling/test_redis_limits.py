"""Rate limits kept in Redis: the same rule as the SQLite limiter, and exact across instances."""

import random
from concurrent.futures import ThreadPoolExecutor

import requests

from examples.production.scaling.nginx import run_gunicorn_instances
from examples.serving.production.allowances import RateLimiter, RedisRateLimiter
from tests.production.scaling.test_postgres_storage import WINE


def test_redis_and_sqlite_give_the_same_answers(redis_server, tmp_path):
    sqlite = RateLimiter(tmp_path / "limits.sqlite3", requests_per_minute=6, burst=5)
    shared = RedisRateLimiter(redis_server.extra["url"], requests_per_minute=6, burst=5)
    # Simulated times, ten seconds a unit: every Redis key outlives the loop (they expire in
    # real milliseconds), so both stores see the same history.
    rng = random.Random(16)
    now = 1_000_000.0
    for _ in range(300):
        now += rng.choice([0.0, 1.0, 5.0, 10.0, 30.0])
        client, cost = rng.choice(["a", "b"]), rng.choice([1, 1, 2, 6])
        expected = sqlite.spend(client, now=now, cost=cost)
        got = shared.spend("equal:" + client, now=now, cost=cost)
        assert got == expected or abs(got - expected) < 1e-6, (now, client, cost)
        assert abs(shared.wait("equal:" + client, now=now) - sqlite.wait(client, now=now)) < 1e-6


def instance_env(model_dir, database_url, redis_url, burst):
    return {
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_DATABASE_URL": database_url,
        "SERVING_AUTH_ENABLED": "false",
        "SERVING_RATE_LIMIT_URL": redis_url,
        "SERVING_RATE_LIMIT_PER_MINUTE": "1",
        "SERVING_RATE_LIMIT_BURST": str(burst),
        "SERVING_METRICS_BIND": "off",
        "SERVING_LOG_LEVEL": "WARNING",
    }


def test_three_instances_admit_one_client_exactly_its_burst(
    model_dir, database_url, redis_server, tmp_path
):
    burst = 20
    env = instance_env(model_dir, database_url, redis_server.extra["url"], burst)
    with run_gunicorn_instances(3, env=env, workers=2) as instances:
        urls = [server.url + "/v1/predict" for server in instances] * 30  # 90 requests

        def ask(url):
            return requests.post(url, json={"features": WINE}, timeout=10).status_code

        with ThreadPoolExecutor(max_workers=9) as pool:
            statuses = list(pool.map(ask, urls))
    # One unit a minute: within the test's few seconds, the burst is all one client may spend.
    assert statuses.count(200) == burst
    assert statuses.count(429) == len(urls) - burst
