"""Step 3 fails well: every bad request gets the right status and the one error shape."""

import json

import pytest

from examples.model import FEATURE_NAMES, split_data
from examples.steps.ch11_validate import app as ch11
from examples.toolbox import serve_app
from tests.chunked import post_chunked

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client():
    return ch11.app.test_client()


@pytest.fixture
def row():
    return split_data()[0].iloc[0].to_dict()


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.is_json
    error = response.json["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert error["code"] == code
    assert error["message"].endswith(".")
    assert isinstance(error["details"], list)
    return error


def with_feature(row: dict, name: str, value) -> dict:
    return {"features": {**row, name: value}}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("13.2", "must be a number, got a string"),
        (None, "must be a number, got null"),
        (True, "must be a number, got a boolean"),
        ([13.2], "must be a number, got an array"),
        (99.0, "must be at most 15.21, got 99.0"),
        (-1, "must be at least"),
    ],
)
def test_a_bad_feature_value_is_a_422_naming_the_field(client, row, value, problem):
    response = client.post("/predict", json=with_feature(row, "alcohol", value))
    error = assert_error_shape(response, 422, "validation_error")
    assert len(error["details"]) == 1
    assert error["details"][0]["field"] == "features.alcohol"
    assert error["details"][0]["problem"].startswith(problem)


@pytest.mark.parametrize(
    ("literal", "spelling"),
    [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"), ("1e999", "Infinity")],
)
def test_nan_and_infinity_are_refused(client, row, literal, spelling):
    # Python's json module reads these non-standard literals, so they reach the validator.
    text = json.dumps({"features": row}).replace(json.dumps(row["alcohol"]), literal, 1)
    response = client.post("/predict", data=text, headers=JSON)
    error = assert_error_shape(response, 422, "validation_error")
    assert error["details"] == [
        {"field": "features.alcohol", "problem": f"must be a finite number, got {spelling}"}
    ]


def test_the_message_names_the_first_problem(client, row):
    response = client.post("/predict", json=with_feature(row, "alcohol", "13.2"))
    error = assert_error_shape(response, 422, "validation_error")
    assert error["message"] == (
        "The request is not valid: features.alcohol must be a number, got a string."
    )


def test_an_integer_is_a_number(client, row):
    assert client.post("/predict", json=with_feature(row, "magnesium", 100)).status_code == 200


def test_missing_and_unknown_fields_are_each_reported(client, row):
    del row["proline"]
    response = client.post("/predict", json=with_feature(row, "colour", 1.0))
    error = assert_error_shape(response, 422, "validation_error")
    assert sorted(error["details"], key=lambda item: item["field"]) == [
        {"field": "features.colour", "problem": "is not an accepted field"},
        {"field": "features.proline", "problem": "is required"},
    ]
    assert "(and 1 more problem(s), listed in details)" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [([1, 2], "body"), ({}, "features"), ({"features": [1.0] * 13}, "features")],
)
def test_a_body_of_the_wrong_shape_is_a_422(client, body, field):
    error = assert_error_shape(client.post("/predict", json=body), 422, "validation_error")
    assert error["details"][0]["field"] == field


def test_an_unknown_top_level_field_is_refused(client, row):
    response = client.post("/predict", json={"features": row, "model": "v2"})
    error = assert_error_shape(response, 422, "validation_error")
    assert error["details"] == [{"field": "model", "problem": "is not an accepted field"}]


def test_every_feature_is_checked_against_its_own_range(client, row):
    for name in FEATURE_NAMES:
        high = ch11.model.metadata.domain[name]["allowed_max"]
        response = client.post("/predict", json=with_feature(row, name, high * 2 + 1))
        error = assert_error_shape(response, 422, "validation_error")
        assert error["details"][0]["field"] == f"features.{name}"


@pytest.mark.parametrize(
    "text", ['{"features": {', "", "features=1", '{"features": {"alcohol": 1,}}']
)
def test_malformed_json_is_a_400(client, text):
    assert_error_shape(client.post("/predict", data=text, headers=JSON), 400, "invalid_json")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_not_labelled_json_is_a_415(client, row, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/predict", data=json.dumps({"features": row}), headers=headers)
    assert_error_shape(response, 415, "unsupported_media_type")


def test_an_oversized_body_is_a_413(client):
    body = b'{"features": "' + b"x" * ch11.MAX_BODY_BYTES + b'"}'
    assert_error_shape(client.post("/predict", data=body, headers=JSON), 413, "payload_too_large")


def test_an_unknown_path_is_a_404(client):
    error = assert_error_shape(client.get("/predictions"), 404, "not_found")
    assert "/predictions" in error["message"]


def test_a_wrong_method_is_a_405_with_an_allow_header(client):
    response = client.get("/predict")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_a_bug_is_a_generic_500_that_reveals_nothing(client, row, monkeypatch):
    def broken(*args):
        raise RuntimeError("secret detail in /home/someone/model.py")

    monkeypatch.setattr(ch11, "predict_features", broken)
    monkeypatch.setattr(ch11.app.logger, "disabled", True)
    response = client.post("/predict", json={"features": row})
    error = assert_error_shape(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert error["details"] == []


def test_an_integer_too_large_for_a_float_is_named_as_such(client, row):
    text = json.dumps({"features": row}).replace(json.dumps(row["alcohol"]), "1" + "0" * 400, 1)
    error = assert_error_shape(
        client.post("/predict", data=text, headers=JSON), 422, "validation_error"
    )
    assert error["details"] == [
        {
            "field": "features.alcohol",
            "problem": "must be a number a 64-bit float can hold, got an integer of 401 digits",
        }
    ]


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, '{"features": 1' + "0" * 5000 + "}", b'{"features": "\xff"}'],
    ids=["nested-too-deeply", "integer-over-4300-digits", "not-utf8"],
)
def test_an_unreadable_body_is_a_400_that_names_no_internals(client, text):
    response = client.post("/predict", data=text, headers=JSON)
    error = assert_error_shape(response, 400, "invalid_json")
    assert "sys." not in error["message"] and "Traceback" not in response.get_data(as_text=True)


def test_a_415_says_which_media_type_would_work(client, row):
    response = client.post("/predict", data=json.dumps({"features": row}))
    assert_error_shape(response, 415, "unsupported_media_type")
    assert response.headers["Accept"] == "application/json"


def test_a_405_keeps_the_allow_header_werkzeug_sets(client):
    response = client.get("/predict")
    assert sorted(response.headers["Allow"].split(", ")) == ["OPTIONS", "POST"]


def test_a_chunked_body_over_the_limit_is_a_413_over_a_real_socket(row, monkeypatch):
    """No Content-Length: Werkzeug reads up to the limit and stops there. The test client always
    sets Content-Length, so only a real server and a chunked request show this path."""
    exact = json.dumps({"features": row}).encode()
    monkeypatch.setitem(ch11.app.config, "MAX_CONTENT_LENGTH", len(exact))
    with serve_app(ch11.app) as server:
        answers = [post_chunked(server, "/predict", body) for body in (exact, exact + b" " * 100)]
    assert answers[0][0] == 200, answers  # exactly at the limit is allowed
    assert answers[1][0] == 413 and answers[1][1]["error"]["code"] == "payload_too_large"
