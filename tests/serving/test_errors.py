"""Every way a request can fail gets the right status and the one error shape, never internals."""

import json
import math

import pytest
from flask import abort

from examples.serving import Settings, create_app
from examples.serving.predictor import load_predictor
from tests.chunked import post_chunked
from tests.failing_predictor import FailingPredictor


def assert_error(response, status, code):
    """The response is JSON with exactly the documented error shape."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status and error["code"] == code
    assert error["message"].endswith(".")
    return error


def with_changes(features, **changes):
    row = dict(features)
    for name, value in changes.items():
        if value is ...:
            del row[name]
        else:
            row[name] = value
    return row


BAD_FEATURES = [
    ({"alcohol": "13.2"}, "features.alcohol", "must be a number, got a string"),
    ({"alcohol": True}, "features.alcohol", "must be a number, got a boolean"),
    ({"alcohol": None}, "features.alcohol", "must be a number, got null"),
    ({"alcohol": [13.2]}, "features.alcohol", "must be a number, got an array"),
    ({"alcohol": ...}, "features.alcohol", "is required"),
    ({"alcohool": 13.2}, "features.alcohool", "is not an accepted field"),
    ({"proline": 99999.0}, "features.proline", "must be at most"),
    ({"hue": -1.0}, "features.hue", "must be at least"),
]


@pytest.mark.parametrize(("changes", "field", "problem"), BAD_FEATURES)
def test_bad_features_name_the_field_and_the_problem(client, features, changes, field, problem):
    body = {"features": with_changes(features, **changes)}
    error = assert_error(client.post("/v1/predict", json=body), 422, "validation_error")
    assert error["details"] == [{"field": field, "problem": error["details"][0]["problem"]}]
    assert problem in error["details"][0]["problem"]
    assert field in error["message"]


@pytest.mark.parametrize(
    ("constant", "spelt"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")]
)
def test_nan_and_infinity_are_refused(client, features, constant, spelt):
    # Python's json writes NaN and Infinity (which are not JSON); a careless client sends them.
    text = json.dumps({"features": with_changes(features, ash=math.nan)}).replace("NaN", constant)
    response = client.post("/v1/predict", data=text, content_type="application/json")
    error = assert_error(response, 422, "validation_error")
    assert error["details"] == [
        {"field": "features.ash", "problem": f"must be a finite number, got {spelt}"}
    ]


def test_every_problem_is_listed(client, features):
    row = with_changes(features, alcohol="x", hue=..., colour=1.0)
    error = assert_error(
        client.post("/v1/predict", json={"features": row}), 422, "validation_error"
    )
    assert {d["field"] for d in error["details"]} == {
        "features.alcohol",
        "features.hue",
        "features.colour",
    }
    assert "and 2 more problem(s)" in error["message"]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ([1, 2], "body", "must be an object, got an array"),
        ({}, "features", "is required"),
        ({"features": [1.0] * 13}, "features", "must be an object, got an array"),
        ({"features": {}, "extra": 1}, "extra", "is not an accepted field"),
    ],
)
def test_wrong_body_shapes(client, body, field, problem):
    error = assert_error(client.post("/v1/predict", json=body), 422, "validation_error")
    assert {"field": field, "problem": problem} in error["details"]


@pytest.mark.parametrize("text", ["{bad", "", '{"features": {"alcohol": 13.2,}}', "[1, 2"])
def test_malformed_json_is_400(client, text):
    response = client.post("/v1/predict", data=text, content_type="application/json")
    error = assert_error(response, 400, "invalid_json")
    assert error["message"].startswith("The request body is not valid JSON: ")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_declared_json_is_415(client, features, content_type):
    data = json.dumps({"features": features})
    response = client.post("/v1/predict", data=data, content_type=content_type)
    error = assert_error(response, 415, "unsupported_media_type")
    assert response.headers["Accept"] == "application/json"  # which media type would do
    assert "application/json" in error["message"]


def test_a_body_over_the_limit_is_413(model_dir, tmp_path, features):
    app = create_app(Settings.isolated(tmp_path, model_dir, max_body_bytes=100))
    response = app.test_client().post("/v1/predict", json={"features": features})
    assert_error(response, 413, "payload_too_large")


def test_the_default_limit_is_one_mebibyte(client):
    response = client.post(
        "/v1/predict", data=b" " * (1024 * 1024 + 1), content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", ["/", "/predict", "/v2/predict", "/v1/predict/"])
def test_unknown_paths_are_404(client, path):
    assert_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/v1/predict", "POST"),
        ("delete", "/v1/predict/batch", "POST"),
        ("post", "/healthz", "GET"),
    ],
)
def test_wrong_methods_are_405_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_error(response, 405, "method_not_allowed")
    assert allowed in response.headers["Allow"]
    assert response.headers["Content-Length"] == str(len(response.get_data()))


def test_an_unexpected_error_is_500_without_internals(settings, features, caplog):
    app = create_app(settings, predictor=FailingPredictor(load_predictor(settings)))
    response = app.test_client().post("/v1/predict", json={"features": features})
    error = assert_error(response, 500, "internal_error")
    assert error["details"] == []
    text = response.get_data(as_text=True)
    for leak in ("secret", "RuntimeError", "Traceback", "/srv", ".py", "offset"):
        assert leak not in text
    # ...but the operator's log has the whole story.
    assert "RuntimeError" in caplog.text and "secret detail" in caplog.text


def test_a_response_model_bug_is_500_not_422(app, client, monkeypatch):
    from examples.serving import routes

    class Broken(routes.HealthResponse):
        status: int  # the route passes "ok": pydantic refuses it, and that is our bug

    monkeypatch.setattr(routes, "HealthResponse", Broken)
    app.config["TESTING"] = False
    assert_error(client.get("/healthz"), 500, "internal_error")


def test_testing_lets_the_bug_itself_reach_the_test(app, client, monkeypatch):
    from examples.serving import routes

    def broken(**fields):
        raise KeyError("a bug in the route")

    monkeypatch.setattr(routes, "HealthResponse", broken)
    assert app.config["TESTING"]  # the fixture's app: Flask re-raises instead of answering 500
    with pytest.raises(KeyError, match="a bug in the route"):
        client.get("/healthz")


def test_an_abort_500_gets_the_one_shape(app, client):
    @app.get("/test-only/abort-500")
    def abort_500():
        abort(500)

    assert_error(client.get("/test-only/abort-500"), 500, "internal_error")


@pytest.mark.parametrize("digits", [310, 400, 4000])
def test_a_huge_integer_is_named_as_such(client, features, digits):
    text = json.dumps({"features": features}).replace(
        f'"alcohol": {json.dumps(features["alcohol"])}', '"alcohol": 1' + "0" * (digits - 1)
    )
    response = client.post("/v1/predict", data=text, content_type="application/json")
    error = assert_error(response, 422, "validation_error")
    assert error["details"][0] == {
        "field": "features.alcohol",
        "problem": f"must be a number a 64-bit float can hold, got an integer of {digits} digits",
    }


def test_a_chunked_body_over_the_limit_is_413_not_400(model_dir, tmp_path, features):
    """No Content-Length: Werkzeug reads up to the limit and stops; the rest must still count."""
    from examples.toolbox import serve_app

    exact = json.dumps({"features": features}).encode()
    larger = json.dumps({"features": features, "padding": "x" * 300}).encode()
    app = create_app(Settings.isolated(tmp_path, model_dir, max_body_bytes=len(exact)))
    with serve_app(app) as server:
        answers = [post_chunked(server, "/v1/predict", body) for body in (exact, larger)]
    assert answers[0][0] == 200, answers  # exactly at the limit is allowed
    assert answers[1][0] == 413 and answers[1][1]["error"]["code"] == "payload_too_large"
