"""examples/production/traffic_split.py: the canary router forwards requests unchanged, splits them by the asked share, names
the version in a header and in its records, and answers in the service's error shape when the
chosen version is down."""

import json

import pytest
import requests
from scipy import stats

from examples.production.traffic_split import ARM_HEADER, CanaryRouter
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


def test_a_client_stays_on_one_arm(upstreams):
    router = CanaryRouter(*upstreams, share=0.3, sticky_header="X-Client-Id", salt="trial-1")
    with serve_app(router) as front, requests.Session() as session:
        seen = {}
        for _ in range(3):
            for client in range(40):
                answer = session.get(
                    front.url + "/", headers={"X-Client-Id": f"c{client}"}, timeout=5
                )
                seen.setdefault(client, set()).add(answer.headers[ARM_HEADER])
    assert all(len(arms) == 1 for arms in seen.values())
    assert {a.client for a in router.assignments} == {f"c{i}" for i in range(40)}


def test_sticky_assignment_follows_the_share_and_the_salt():
    from examples.production.traffic_split import sticky_arm

    ids = [f"client-{i}" for i in range(4000)]
    canary = sum(sticky_arm(i, 0.2, "a") for i in ids)
    assert stats.binomtest(canary, 4000, 0.2).pvalue > 0.001
    # Another salt is another, nearly independent, draw of the clients.
    both = sum(sticky_arm(i, 0.2, "a") and sticky_arm(i, 0.2, "b") for i in ids)
    assert both == pytest.approx(4000 * 0.04, abs=60)


def test_shadow_mode_answers_from_stable_and_records_the_canary(upstreams):
    router = CanaryRouter(*upstreams, share=0.5, shadow=True)
    with serve_app(router) as front, requests.Session() as session:
        names = [
            session.post(front.url + "/p", data="x", timeout=5).json()["name"] for _ in range(10)
        ]
    assert names == ["one"] * 10
    assert len(router.shadow_pairs) == 10
    assert {json.loads(p.canary_body)["name"] for p in router.shadow_pairs} == {"two"}
    assert all(a.arm == "stable" and a.seconds > 0 for a in router.assignments)


def test_per_arm_summary_and_disagreement():
    from examples.production.traffic_split import Assignment
    from examples.production.watching import disagreement, per_arm_summary

    records = [Assignment("stable", "/", 200, 0.010)] * 8 + [
        Assignment("canary", "/", 503, 0.020)
    ] * 2
    summary = per_arm_summary(records)
    assert summary.loc["canary", "error_rate"] == 1.0 and summary.loc["stable", "errors"] == 0
    assert summary.loc["stable", "p50_ms"] == pytest.approx(10.0)
    differ, pairs, low, high = disagreement(["a", "b", "c", "a"], ["a", "b", "a", "a"])
    assert (differ, pairs) == (1, 4) and low < 0.25 < high
