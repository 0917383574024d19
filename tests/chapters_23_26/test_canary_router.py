"""examples/canary: the router forwards requests unchanged, splits them by the asked share, names
the version in a header and in its records, and answers in the service's error shape when the
chosen version is down."""

import json

import pytest
import requests
from scipy import stats

from examples.canary import ARM_HEADER, CanaryRouter
from examples.toolbox import free_port, serve_app


def echo(name):
    """A tiny upstream that answers with its name and what it received."""

    def app(environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.dumps(
            {
                "name": name,
                "method": environ["REQUEST_METHOD"],
                "path": environ["PATH_INFO"],
                "query": environ.get("QUERY_STRING", ""),
                "body": environ["wsgi.input"].read(size).decode(),
                "api_key": environ.get("HTTP_X_API_KEY"),
            }
        ).encode()
        status = "422 UNPROCESSABLE ENTITY" if environ["PATH_INFO"] == "/bad" else "200 OK"
        start_response(status, [("Content-Type", "application/json"), ("X-Echo", name)])
        return [body]

    return app


@pytest.fixture
def upstreams():
    with serve_app(echo("one")) as one, serve_app(echo("two")) as two:
        yield one.url, two.url


def test_share_zero_and_one_send_everything_to_one_version(upstreams):
    for share, expected in ((0.0, "stable"), (1.0, "canary")):
        router = CanaryRouter(*upstreams, share=share)
        with serve_app(router) as front:
            arms = {requests.get(front.url + "/", timeout=5).headers[ARM_HEADER] for _ in range(20)}
        assert arms == {expected}


def test_the_split_matches_the_share(upstreams):
    router = CanaryRouter(*upstreams, share=0.2, seed=1)
    with serve_app(router) as front, requests.Session() as session:
        names = [session.get(front.url + "/", timeout=5).json()["name"] for _ in range(400)]
    canary = names.count("two")
    # A two-sided binomial test at level 0.001: a correct router fails it once in a thousand seeds.
    assert stats.binomtest(canary, 400, 0.2).pvalue > 0.001, canary
    assert [a.arm for a in router.assignments].count("canary") == canary


def test_requests_and_answers_pass_unchanged(upstreams):
    router = CanaryRouter(*upstreams, share=1.0)
    with serve_app(router) as front:
        answer = requests.post(
            front.url + "/v1/predict?x=1", json={"a": 1}, headers={"X-API-Key": "k"}, timeout=5
        )
        bad = requests.get(front.url + "/bad", timeout=5)
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/v1/predict", "x=1")
    assert json.loads(seen["body"]) == {"a": 1} and seen["api_key"] == "k"
    assert answer.headers["X-Echo"] == "two" and answer.headers[ARM_HEADER] == "canary"
    assert bad.status_code == 422
    assert [(a.arm, a.path, a.status) for a in router.assignments] == [
        ("canary", "/v1/predict", 200),
        ("canary", "/bad", 422),
    ]


def test_a_version_that_is_down_gives_the_error_shape(upstreams):
    router = CanaryRouter(upstreams[0], f"http://127.0.0.1:{free_port()}", share=1.0, timeout=2)
    with serve_app(router) as front:
        answer = requests.get(front.url + "/v1/predict", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "unavailable"
    assert answer.headers[ARM_HEADER] == "canary"


def test_share_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="share"):
        CanaryRouter("http://127.0.0.1:1", "http://127.0.0.1:2", share=1.5)
