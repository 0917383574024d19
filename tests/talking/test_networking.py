"""Tests for the Part I demo servers and helpers in examples/talking."""

import socket
import threading
import time

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from examples.talking.deadline import DeadlineExceeded, get_with_deadline
from examples.talking.demo_app import create_demo_app
from examples.talking.echo import EchoServer, echo_once
from examples.talking.keepalive import keepalive_server_command
from examples.talking.raw_http import (
    build_request,
    read_response,
    send_request,
    split_response,
)
from examples.toolbox import run_command, serve_app


def test_echo_server_sends_back_what_it_receives():
    with EchoServer() as server:
        assert echo_once(server.host, server.port, b"hello, world") == b"hello, world"
        assert echo_once(server.host, server.port, b"x" * 100_000) == b"x" * 100_000


def test_echo_server_stops_and_leaves_no_thread():
    before = set(threading.enumerate())
    server = EchoServer().start()
    assert server.running
    echo_once(server.host, server.port, b"ping")
    server.stop()
    assert not server.running
    assert set(threading.enumerate()) - before == set()
    # The port is released: connecting now is refused.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=1).close()


def test_a_second_listener_on_the_same_port_is_refused():
    with EchoServer() as server, socket.socket() as intruder:
        with pytest.raises(OSError) as caught:
            intruder.bind((server.host, server.port))
        assert caught.value.errno == 98  # EADDRINUSE on Linux


def test_raw_request_and_response_round_trip():
    with serve_app(create_demo_app()) as server:
        request = build_request(
            "GET", "/hello", f"127.0.0.1:{server.port}", {"Connection": "close"}
        )
        assert request.startswith(b"GET /hello HTTP/1.1\r\nHost: ")
        assert request.endswith(b"\r\n\r\n")
        response = split_response(send_request(server.host, server.port, request))
    assert response.status_code == 200
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.body == b"Hello from the server\n"


def test_post_body_gets_a_content_length():
    request = build_request("POST", "/echo", "h", {"Content-Type": "application/json"}, b'{"a":1}')
    assert b'Content-Length: 7\r\n\r\n{"a":1}' in request


def test_empty_post_says_content_length_0_and_a_callers_length_is_not_sent_twice():
    request = build_request("POST", "/echo", "h", {"Content-Length": "99"})
    assert request.count(b"Content-Length") == 1 and b"Content-Length: 0\r\n\r\n" in request
    assert b"Content-Length" not in build_request("GET", "/hello", "h")


def test_a_line_break_in_a_header_is_refused():
    with pytest.raises(ValueError, match="line break"):
        build_request("GET", "/", "h", {"X-Note": "a\r\nX-Injected: yes"})


def test_development_server_closes_the_connection_after_each_response():
    with serve_app(create_demo_app()) as server:
        request = build_request("GET", "/hello", f"127.0.0.1:{server.port}")
        with socket.create_connection((server.host, server.port), timeout=5) as connection:
            stream = connection.makefile("rb")
            connection.sendall(request)
            first = read_response(stream)
            assert first.header("Connection") == "close"
            assert read_response(stream) is None


def test_gunicorn_keeps_one_connection_for_two_requests():
    with run_command(keepalive_server_command(), ready_path="/hello") as server:
        requests.post(server.url + "/stats/reset", timeout=5)
        request = build_request("GET", "/hello", f"127.0.0.1:{server.port}")
        with socket.create_connection((server.host, server.port), timeout=5) as connection:
            stream = connection.makefile("rb")
            for _ in range(2):
                connection.sendall(request)
                response = read_response(stream)
                assert response.status_code == 200
                assert response.header("Connection") != "close"
        stats = requests.get(server.url + "/stats", timeout=5).json()
    assert stats == {"requests": 2, "connections": 1}


def test_flaky_endpoint_fails_exactly_twice_then_succeeds():
    app = create_demo_app()
    client = app.test_client()
    statuses = [client.get("/flaky").status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert len(app.extensions["demo"].flaky_attempts) == 4


def test_retry_adapter_gets_through_the_flaky_endpoint_on_the_third_attempt():
    app = create_demo_app()
    retry = Retry(total=3, backoff_factor=0.01, status_forcelist=[503])
    with serve_app(app) as server, requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        response = session.get(server.url + "/flaky", timeout=5)
    assert response.json() == {"result": "ok", "attempt": 3}
    assert len(app.extensions["demo"].flaky_attempts) == 3


def test_slow_endpoint_times_out_and_can_be_released():
    app = create_demo_app()
    with serve_app(app) as server:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(server.url + "/slow?seconds=5", timeout=0.2)
        app.extensions["demo"].release.set()
        assert requests.get(server.url + "/slow?seconds=5", timeout=5).json() == {
            "waited_seconds": 5.0
        }


def test_echo_endpoint_needs_json():
    client = create_demo_app().test_client()
    assert client.post("/echo", json={"x": 1}).get_json() == {"you_sent": {"x": 1}}
    assert client.post("/echo", data="x=1", content_type="text/plain").status_code == 415
    broken = client.post("/echo", data="{not json", content_type="application/json")
    assert broken.status_code == 400


def test_counts_one_connection_per_plain_call_and_one_per_session():
    with run_command(keepalive_server_command(), ready_path="/hello") as server:
        requests.post(server.url + "/stats/reset", timeout=5)
        for _ in range(5):
            requests.get(server.url + "/hello", timeout=5)
        assert requests.get(server.url + "/stats", timeout=5).json() == {
            "requests": 5,
            "connections": 5,
        }
        requests.post(server.url + "/stats/reset", timeout=5)
        with requests.Session() as session:
            for _ in range(5):
                session.get(server.url + "/hello", timeout=5)
        assert requests.get(server.url + "/stats", timeout=5).json() == {
            "requests": 5,
            "connections": 1,
        }


def test_get_with_deadline_retries_then_succeeds_and_gives_up_before_a_long_retry_after():
    app = create_demo_app(failures_before_success=2)
    with serve_app(app) as server, requests.Session() as session:
        answer = get_with_deadline(session, server.url + "/flaky", deadline=5, backoff_factor=0.01)
        assert answer.status_code == 200 and answer.json()["attempt"] == 3
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match="after 1 attempt"):
            get_with_deadline(session, server.url + "/busy?retry_after=3600", deadline=2)
        assert time.monotonic() - started < 1.5


def test_get_with_deadline_cuts_each_attempt_to_the_time_left():
    app = create_demo_app()
    with serve_app(app) as server, requests.Session() as session:
        started = time.monotonic()
        try:
            with pytest.raises(DeadlineExceeded):
                get_with_deadline(session, server.url + "/slow?seconds=5", deadline=0.8)
        finally:
            app.extensions["demo"].release.set()
        assert time.monotonic() - started < 2.0


def test_get_with_deadline_raises_deadline_exceeded_not_value_error_when_no_time_is_left():
    # urllib3 refuses a timeout <= 0 with ValueError; an overslept pause must not leak that.
    with requests.Session() as session, pytest.raises(DeadlineExceeded, match="after 0 attempt"):
        get_with_deadline(session, "http://127.0.0.1:9/", deadline=0)


@pytest.mark.parametrize(
    ("header", "expected"), [("3", 3.0), (" 12 ", 12.0), ("²", None), ("1.5", None)]
)
def test_retry_after_accepts_only_ascii_digits(header, expected):
    from examples.talking.deadline import _retry_after_seconds

    response = requests.Response()
    response.headers["Retry-After"] = header
    assert _retry_after_seconds(response) == expected
