"""examples/production/scaling: nginx in front of several upstream servers on 127.0.0.1 spreads requests over
them, routes around one that stopped, and leaves nothing running."""

import collections
import contextlib
import os

import psutil
import pytest
import requests

from examples.model import ensure_model
from examples.production.scaling import (
    NginxSettings,
    read_access_log,
    render_nginx_config,
    run_gunicorn_instances,
    run_nginx,
)
from examples.production.scaling.nginx import check_nginx_config
from examples.production.scaling.whoami import app as whoami
from examples.toolbox import ServerError, serve_app

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/sbin/nginx"), reason="needs Debian's nginx"
)


def _ports_answering(url: str, count: int, method: str = "GET") -> collections.Counter:
    with requests.Session() as session:
        return collections.Counter(
            session.request(
                method, url, data=b"{}" if method == "POST" else None, timeout=5
            ).json()["port"]
            for _ in range(count)
        )


def _family(pid: int) -> list[int]:
    process = psutil.Process(pid)
    return [pid, *(child.pid for child in process.children(recursive=True))]


def _gone(pids: list[int]) -> bool:
    def alive(pid):
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    return not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("balance", ["least_conn", "round_robin"])
def test_generated_config_is_accepted_by_nginx(tmp_path, balance):
    tmp_path.chmod(0o755)
    settings = NginxSettings(
        upstream_ports=[8001, 8002], listen_port=8080, directory=tmp_path, balance=balance
    )
    text = render_nginx_config(settings)
    (tmp_path / "nginx.conf").write_text(text)
    assert "syntax is ok" in check_nginx_config(tmp_path)
    assert "server 127.0.0.1:8001 max_fails=1 fail_timeout=10s;" in text
    assert "proxy_next_upstream error timeout http_502;" in text
    assert ("least_conn;" in text) == (balance == "least_conn")


def test_config_check_catches_a_planted_error(tmp_path):
    tmp_path.chmod(0o755)
    settings = NginxSettings(upstream_ports=[8001], listen_port=8080, directory=tmp_path)
    broken = render_nginx_config(settings).replace("keepalive 16;", "keepalive sixteen;")
    (tmp_path / "nginx.conf").write_text(broken)
    with pytest.raises(ServerError, match="keepalive"):
        check_nginx_config(tmp_path)


def test_settings_reject_an_unknown_method(tmp_path):
    with pytest.raises(ValueError, match="balance"):
        NginxSettings(upstream_ports=[8001], listen_port=8080, directory=tmp_path, balance="random")


def test_nginx_spreads_requests_over_both_upstreams():
    with serve_app(whoami) as first, serve_app(whoami) as second:
        with run_nginx([first.port, second.port]) as proxy:
            counts = _ports_answering(proxy.url + "/spread", 20)
    assert set(counts) == {first.port, second.port}
    assert min(counts.values()) >= 5, counts


def test_nginx_routes_around_a_stopped_upstream():
    with contextlib.ExitStack() as first_stack, serve_app(whoami) as second:
        first = first_stack.enter_context(serve_app(whoami))
        with run_nginx([first.port, second.port]) as proxy:
            assert len(_ports_answering(proxy.url + "/before", 10)) == 2
            first_stack.close()  # the first upstream stops; nginx is not told
            get_counts = _ports_answering(proxy.url + "/after", 10)
            post_counts = _ports_answering(proxy.url + "/after", 10, method="POST")
            log = read_access_log(proxy)
    assert get_counts == {second.port: 10}
    assert post_counts == {second.port: 10}
    # The request that met the stopped upstream was passed on: "502, 200" in one log line.
    after = [line for line in log if "/after" in line["request"]]
    assert all(line["status"] == "200" for line in after)
    assert any(line["upstream_status"].startswith("502, ") for line in after), after


def test_gunicorn_instances_behind_nginx_leave_nothing_running():
    with run_gunicorn_instances(
        2, "examples.production.scaling.whoami:app", config=None, ready_path="/"
    ) as instances:
        pids = [pid for server in instances for pid in _family(server.pid)]
        with run_nginx(instances.ports) as proxy:
            pids += _family(proxy.pid)
            assert set(_ports_answering(proxy.url + "/", 10)) == set(instances.ports)
            instances.stop(0)
            assert _ports_answering(proxy.url + "/", 5) == {instances.ports[1]: 5}
    assert len(pids) >= 6  # two gunicorn masters and workers, the nginx master and worker
    assert _gone(pids)


def test_the_reference_service_behind_nginx(tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("model")
    ensure_model(model_dir)
    env = {
        "SERVING_MODEL_DIR": str(model_dir),
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('db')}/predictions.sqlite3",
        "SERVING_RATE_LIMIT_DATABASE": str(tmp_path_factory.mktemp("limits") / "limits.sqlite3"),
        "SERVING_ACCESS_LOG": "off",
    }
    with run_gunicorn_instances(2, env=env) as instances:
        with run_nginx(instances.ports, reveal_upstream=True) as proxy:
            answers = [requests.get(proxy.url + "/readyz", timeout=5) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 6
    assert {answer.headers["X-Upstream"] for answer in answers} == {
        f"127.0.0.1:{port}" for port in instances.ports
    }


@pytest.mark.parametrize("threads, connections", [(None, 10), (2, 1)])
def test_upstream_keepalive_needs_threaded_workers(threads, connections):
    # gunicorn's sync worker closes the connection after each response, so nginx opens a new one
    # per request (10 client ports for 10 requests); a gthread worker keeps it, and nginx reuses it.
    with run_gunicorn_instances(
        1, "examples.production.scaling.whoami:app", config=None, ready_path="/", threads=threads
    ) as instances:
        with run_nginx(instances.ports) as proxy, requests.Session() as session:
            ports = [
                session.get(proxy.url + "/", timeout=5).json()["client_port"] for _ in range(10)
            ]
    assert len(set(ports)) == connections
