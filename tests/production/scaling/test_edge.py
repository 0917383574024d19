"""nginx as the edge: TLS with a private CA, HTTP sent to HTTPS, HSTS; an unready instance passed
over; 413 before gunicorn; the client's address through ProxyFix, a forged one ignored."""

import socket
import time

import pytest
import requests

from examples.production.scaling.clients import session_from
from examples.production.scaling.nginx import read_access_log, run_gunicorn_instances, run_nginx
from examples.production.scaling.tls import make_certificates
from tests.production.scaling.test_postgres_storage import WINE
from tests.production.scaling.test_redis_limits import instance_env

WHOAMI = "examples.production.scaling.whoami:app"


def test_tls_redirect_hsts_and_verification(tmp_path):
    certificates = make_certificates(tmp_path)
    with (
        run_gunicorn_instances(1, WHOAMI, config=None, ready_path="/") as instances,
        run_nginx(
            instances.ports, tls=(certificates.chain, certificates.key), reveal_upstream=True
        ) as proxy,
    ):
        https = proxy.extra["https_url"]
        moved = requests.get(proxy.url + "/a?b=1", allow_redirects=False, timeout=5)
        assert moved.status_code == 301
        assert moved.headers["Location"] == f"{https.replace('localhost', '127.0.0.1')}/a?b=1"
        answer = requests.get(https + "/a", verify=certificates.ca_bundle, timeout=5)
        assert answer.status_code == 200 and answer.json()["path"] == "/a"
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
        # Without our CA, the client cannot tell this server from an impostor, and refuses.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(https + "/a", timeout=5)


def test_no_live_instance_gets_html_502_by_default_and_json_503_when_asked():
    with run_gunicorn_instances(2, WHOAMI, config=None, ready_path="/") as instances:
        with (
            run_nginx(instances.ports) as plain,
            run_nginx(instances.ports, json_errors=True, retry_after_s=7) as shaped,
        ):
            instances.stop(0)
            instances.stop(1)
            html = requests.get(plain.url + "/", timeout=10)
            answers = [requests.post(shaped.url + "/v1/predict", timeout=10) for _ in range(2)]
            health = requests.get(shaped.url + "/nginx-health", timeout=10)
    assert html.status_code == 502 and html.headers["Content-Type"].startswith("text/html")
    for answer in answers:  # refused (then left out): the same JSON 503 both times
        assert answer.status_code == 503
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Retry-After"] == "7"
        error = answer.json()["error"]
        assert set(error) == {"status", "code", "message", "details"}
        assert (error["status"], error["code"], error["details"]) == (503, "unavailable", [])
    assert health.status_code == 200  # nginx itself is up


def test_nginx_passes_over_an_unready_instance():
    unready = {"WHOAMI_READY": "false"}
    with run_gunicorn_instances(
        2, WHOAMI, config=None, ready_path="/healthz", instance_env=[unready, {}]
    ) as instances:
        ready_port = instances.ports[1]
        # Our default list (error, timeout, 502; nginx's own is error, timeout): the 503s reach clients.
        with run_nginx(instances.ports, balance="round_robin") as proxy:
            statuses = [requests.get(proxy.url + "/", timeout=5).status_code for _ in range(10)]
        assert statuses.count(503) == 5
        # With http_503 listed, nginx asks the other instance instead (a GET may be retried),
        # and counts the 503 as a failure, leaving the instance out for fail_timeout seconds.
        with run_nginx(
            instances.ports, balance="round_robin", next_upstream="error timeout http_502 http_503"
        ) as proxy:
            answers = [requests.get(proxy.url + "/", timeout=5) for _ in range(10)]
            log = read_access_log(proxy)
        assert [a.status_code for a in answers] == [200] * 10
        assert {a.json()["port"] for a in answers} == {ready_port}
        tried_unready = [line for line in log if str(instances.ports[0]) in line["upstream"]]
        assert len(tried_unready) == 1  # once, then left out


def test_a_body_over_the_limit_gets_413_from_nginx_not_gunicorn():
    with (
        run_gunicorn_instances(1, WHOAMI, config=None, ready_path="/") as instances,
        run_nginx(instances.ports, client_max_body_size="1k") as proxy,
    ):
        refused = requests.post(proxy.url + "/", data=b"x" * 5000, timeout=5)
        accepted = requests.post(proxy.url + "/", data=b"x" * 500, timeout=5)
        log = read_access_log(proxy)
    assert refused.status_code == 413 and accepted.status_code == 200
    assert [line["upstream"] for line in log] == ["-", f"127.0.0.1:{instances.ports[0]}"]


def slow_request(port: int, seconds: float) -> socket.socket:
    """Open a connection and send half a request, then wait (a client on a slow network)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    return sock


def test_a_slow_client_holds_a_sync_worker_without_nginx_not_with_it():
    with run_gunicorn_instances(1, WHOAMI, config=None, ready_path="/", workers=1) as instances:
        port = instances.ports[0]
        slow = slow_request(port, 3)
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            requests.get(f"http://127.0.0.1:{port}/", timeout=1.5)  # the one worker is waiting
        blocked = time.monotonic() - started
        slow.close()
        with run_nginx([port]) as proxy:
            slow = slow_request(proxy.port, 3)  # nginx holds it; gunicorn has seen nothing yet
            started = time.monotonic()
            assert requests.get(proxy.url + "/", timeout=5).status_code == 200
            served = time.monotonic() - started
            slow.close()
    assert blocked >= 1.5 and served < 1.0


def test_two_clients_behind_nginx_get_their_own_buckets_and_a_forged_address_is_ignored(
    model_dir, database_url, redis_server
):
    env = instance_env(model_dir, database_url, redis_server.extra["url"], burst=2)
    env["SERVING_TRUSTED_PROXY_HOPS"] = "1"
    with run_gunicorn_instances(1, env=env) as instances, run_nginx(instances.ports) as proxy:
        alice, bob = session_from("127.0.0.2"), session_from("127.0.0.3")

        def ask(session, **headers):
            url = proxy.url + "/v1/predict"
            return session.post(url, json={"features": WINE}, headers=headers, timeout=10)

        assert [ask(alice).status_code for _ in range(3)] == [200, 200, 429]
        # A client that writes someone else's address into X-Forwarded-For: nginx appends the
        # address it saw, and the app, trusting one hop, reads only that last one.
        assert ask(alice, **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
        assert [ask(bob).status_code for _ in range(3)] == [200, 200, 429]
