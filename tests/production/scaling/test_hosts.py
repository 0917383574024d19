"""Three instances as three hosts: each in its own network namespace with its own address, behind
nginx, sharing one PostgreSQL and one Redis on the edge host. Needs root (`ip netns`).

One client sends 36 predictions with an allowance of 30: round robin gives each host 12, the
shared Redis admits exactly 30 in all (three separate counts would admit 36), and the shared
PostgreSQL holds exactly one row per 200."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from examples.production.scaling.hosts import (
    IP,
    namespaces_unavailable,
    network_of_hosts,
    run_inside,
)
from examples.production.scaling.nginx import GUNICORN_CONFIG, read_access_log, run_nginx
from examples.toolbox import REPO_ROOT, run_command, run_postgres, run_redis
from tests.production.scaling.test_postgres_storage import WINE
from tests.production.scaling.test_redis_limits import instance_env

WHY_NOT = namespaces_unavailable()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
ALLOWED, REQUESTS = 30, 36


def gunicorn_on(host, env):
    """gunicorn on the host's own address (for nginx) and its loopback (for the readiness poll)."""
    args = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG),
            "--bind", "127.0.0.1:{port}", "--bind", f"{host.address}:{{port}}",
            "--workers", "1", "--no-control-socket", "examples.serving.wsgi:app"]  # fmt: skip
    return run_command(args, ready_path="/readyz", env=env, cwd=REPO_ROOT)


def test_three_hosts_behind_nginx_share_postgres_and_redis(model_dir):
    with network_of_hosts(3) as network, contextlib.ExitStack() as stack:
        edge = network.edge
        # The machine's own network never sees the hosts' addresses.
        mine = subprocess.run([IP, "-brief", "addr"], capture_output=True, text=True, check=True)
        assert edge.address.rsplit(".", 1)[0] not in mine.stdout
        postgres = run_inside(edge, stack.enter_context, run_postgres(also_listen=[edge.address]))
        redis_server = run_inside(edge, stack.enter_context, run_redis(also_listen=[edge.address]))
        on_edge = {
            "database": postgres.extra["url"].replace("127.0.0.1", edge.address),
            "redis": redis_server.extra["url"].replace("127.0.0.1", edge.address),
        }
        env = instance_env(model_dir, on_edge["database"], on_edge["redis"], burst=ALLOWED)
        instances = [run_inside(host, stack.enter_context, gunicorn_on(host, env))
                     for host in network.hosts]  # fmt: skip
        upstreams = [f"{host.address}:{server.port}" for host, server in
                     zip(network.hosts, instances, strict=True)]  # fmt: skip
        proxy = run_inside(edge, stack.enter_context, run_nginx(upstreams, balance="round_robin"))

        def send() -> list[int]:
            url = proxy.url + "/v1/predict"
            return [requests.post(url, json={"features": WINE}, timeout=10).status_code
                    for _ in range(REQUESTS)]  # fmt: skip

        started = time.monotonic()
        statuses = run_inside(edge, send)
        log = read_access_log(proxy)

        def count_rows() -> int:
            engine = sa.create_engine(postgres.extra["url"])
            with engine.connect() as connection:
                rows = connection.execute(sa.text("select count(*) from predictions")).scalar()
            engine.dispose()
            return rows

        rows = run_inside(edge, count_rows)
    assert statuses == [200] * ALLOWED + [429] * (REQUESTS - ALLOWED)
    per_host = Counter(line["upstream"].rsplit(":", 1)[0] for line in log)
    assert per_host == {host.address: REQUESTS // 3 for host in network.hosts}
    assert rows == ALLOWED
    assert time.monotonic() - started < 60
