"""Bad input, generated: schemathesis derives requests for every route from the service's own
OpenAPI document, and hypothesis builds hostile bodies (broken JSON, deep nesting, huge numbers,
unicode, wrong content types, oversized bodies). Every answer must be a documented status with the
documented error shape, never a 500, and never show a trace, a path or a library's name."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from examples.model import FEATURE_NAMES
from examples.serving import Settings, create_app, errors
from examples.serving.production import auth, request_logging
from tests.reliability.conftest import JWT_SECRET, KEY, PASSWORD, leaks_in, record_figure, scaled

EXAMPLES_FROM_SCHEMA = scaled(520, 2000)
EXAMPLES_PER_BODY_KIND = scaled(200, 2000)
MAX_BODY_BYTES = 64 * 1024  # small, so that oversized bodies are cheap to make
# The code each status carries (errors.CODES; a 500 is never allowed), and the two more specific
# codes some paths give instead: broken JSON (request_parsing.py) and a reused idempotency key.
ERROR_CODES = {status: {code} for status, code in errors.CODES.items() if status != 500}
ERROR_CODES[400].add("invalid_json")
ERROR_CODES[422].add("idempotency_key_reused")


@pytest.fixture(scope="module")
def app(model_dir, tmp_path_factory):
    settings_ = Settings.isolated(
        tmp_path_factory.mktemp("fuzz"),
        model_dir,
        train_if_missing=False,
        auth_enabled=True,
        api_key_hashes=f"fuzz:{auth.sha256_hex(KEY)}",
        users=f"analyst:predict:{auth.hash_password(PASSWORD)}",
        jwt_secret=JWT_SECRET,
        max_body_bytes=MAX_BODY_BYTES,
    )
    return create_app(settings_)


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture(scope="module")
def documented(app):
    """The statuses the OpenAPI document lists for each (path, method)."""
    document = app.test_client().get("/openapi.json").get_json()
    return {
        (path, method.upper()): {int(code) for code in operation["responses"]}
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def not_json(constant: str):
    raise AssertionError(f"the response contains {constant}, which is not JSON")


def check_answer(status: int, text: str, allowed: set[int]) -> None:
    """The rules every answer obeys, whatever was sent."""
    assert status != 500, text
    assert status in allowed, f"{status} is not documented here: {text[:300]}"
    assert not leaks_in(text), f"{leaks_in(text)} in {text[:300]}"
    # Strict JSON: NaN and Infinity are not JSON, though Python writes them if asked to.
    body = json.loads(text, parse_constant=not_json) if text.startswith(("{", "[")) else None
    if status == 200 and isinstance(body, dict) and "probabilities" in body:
        assert math.isclose(sum(body["probabilities"].values()), 1.0, abs_tol=1e-9)
    for item in body.get("predictions", []) if isinstance(body, dict) else []:
        assert math.isclose(sum(item["probabilities"].values()), 1.0, abs_tol=1e-9)
    if status >= 400:
        error = body["error"]
        assert set(error) == {"status", "code", "message", "details"}
        assert error["status"] == status
        assert error["code"] in ERROR_CODES.get(status, ()), (status, error)
        assert error["message"].endswith(".") and isinstance(error["details"], list)
        assert all(set(d) == {"field", "problem"} for d in error["details"])


@pytest.fixture(scope="module")
def generated_requests(api_schema):
    """Requests for every operation: valid ones (positive) and ones that break the schema (negative)."""
    return st.one_of(
        api_schema.as_strategy(GenerationMode.POSITIVE),
        api_schema.as_strategy(GenerationMode.NEGATIVE),
    )


FUZZ_SETTINGS = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "database": None,  # keep no .hypothesis/ folder in the repository
}


def test_every_route_answers_generated_requests_as_documented(generated_requests, documented):
    statuses: Counter = Counter()

    @settings(max_examples=EXAMPLES_FROM_SCHEMA, **FUZZ_SETTINGS)
    @given(case=generated_requests)
    def one_request(case):
        response = case.call(headers={auth.API_KEY_HEADER: KEY})
        statuses[response.status_code] += 1
        allowed = documented[(case.path, case.method.upper())] | {400, 413, 415}
        check_answer(response.status_code, response.text, allowed)

    one_request()
    assert sum(statuses.values()) >= 500
    assert statuses[200] > 0 and statuses[422] > 0  # both valid and invalid requests were made
    record_figure(
        "schemathesis",
        f"{sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}",
    )


# ---- hostile bodies, built by hypothesis --------------------------------------------------------

ROUTES = ["/v1/predict", "/v1/predict/batch", "/v1/token"]
JSON_TYPE = "application/json"
any_text = st.text(st.characters(codec="utf-8"), max_size=40)  # any unicode, emoji and RTL too
scalars = st.none() | st.booleans() | st.integers() | st.floats() | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)


def as_bytes(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


@st.composite
def wine_with(draw, wine, value_text: st.SearchStrategy[str]):
    """A valid wine in which one feature's value is replaced by raw JSON text (1e400, 10**400...)."""
    name = draw(st.sampled_from(FEATURE_NAMES))
    body = as_bytes({"features": wine | {name: "@@"}})
    return body.replace(b'"@@"', draw(value_text).encode())


def huge_numbers() -> st.SearchStrategy[str]:
    exponents = st.integers(300, 4000)
    return st.one_of(
        exponents.map(lambda e: f"1e{e}"),
        exponents.map(lambda e: f"-1e{e}"),
        exponents.map(lambda e: "1" + "0" * e),  # 10**e written out as an integer
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400, "-0", "1e-400"]),
    )


def nested(depth: int) -> bytes:
    return b'{"features": ' + b"[" * depth + b"]" * depth + b"}"


def bodies(wine):
    """(content type, body bytes) pairs, each kind of hostility drawn with the same weight."""
    valid = as_bytes({"features": wine})
    return st.one_of(
        # Broken JSON: random bytes, valid JSON cut short, or text with a stray character.
        st.tuples(st.just(JSON_TYPE), st.binary(max_size=200)),
        st.tuples(st.just(JSON_TYPE), st.integers(0, len(valid) - 1).map(lambda n: valid[:n])),
        # Any JSON value at all where an object with features is expected.
        st.tuples(st.just(JSON_TYPE), json_values.map(as_bytes)),
        # Unicode in keys and values, next to valid features.
        st.tuples(
            st.just(JSON_TYPE),
            st.dictionaries(any_text, any_text, min_size=1, max_size=3).map(
                lambda extra: as_bytes({"features": wine | extra})
            ),
        ),
        st.tuples(st.just(JSON_TYPE), st.builds(lambda t: as_bytes({"features": t}), any_text)),
        # Numbers too large for a float, or not numbers at all.
        st.tuples(st.just(JSON_TYPE), wine_with(wine, huge_numbers())),
        # Nesting as deep as the JSON parser accepts (deeper: see test_deep_nesting_... below).
        st.tuples(st.just(JSON_TYPE), st.integers(1, 900).map(nested)),
        # The right body with the wrong content type, or none.
        st.tuples(
            st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "", "text/json"]),
            st.just(valid),
        ),
        # Bodies over the limit.
        st.tuples(
            st.just(JSON_TYPE),
            st.integers(1, 3 * MAX_BODY_BYTES).map(
                lambda n: b"[" + b"1," * (MAX_BODY_BYTES // 2 + n) + b"1]"
            ),
        ),
    )


@pytest.fixture(scope="module")
def hostile(wine):
    return bodies(wine)


def test_hostile_bodies_get_a_documented_error_never_a_500(app, hostile, documented):
    statuses: Counter = Counter()
    client = app.test_client()

    @settings(max_examples=EXAMPLES_PER_BODY_KIND, **FUZZ_SETTINGS)
    @given(route=st.sampled_from(ROUTES), sent=hostile)
    def one_request(route, sent):
        content_type, body = sent
        headers = {auth.API_KEY_HEADER: KEY}
        if content_type:
            headers["Content-Type"] = content_type
        response = client.post(route, data=body, headers=headers)
        statuses[response.status_code] += 1
        allowed = documented[(route, "POST")] | {400, 413, 415}
        check_answer(response.status_code, response.get_data(as_text=True), allowed)

    one_request()
    assert sum(statuses.values()) >= EXAMPLES_PER_BODY_KIND
    assert {400, 413, 415, 422} <= set(statuses)
    record_figure(
        "hypothesis bodies",
        f"{sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}",
    )


# ---- problems the suite found, fixed in 5bcb96e and 89280e5; these tests keep them fixed --------


def test_deep_nesting_beyond_the_parser_limit_is_invalid_json(app):
    response = app.test_client().post(
        "/v1/predict",
        data=nested(5_000),  # 10 kB: under the body limit, far over the parser's depth
        headers={auth.API_KEY_HEADER: KEY, "Content-Type": JSON_TYPE},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_an_unexpected_error_logs_no_traceback(app, wine, monkeypatch, capfd, caplog):
    predictor = app.extensions["serving"].predictor

    def broken(X):  # noqa: N803
        raise RuntimeError("failure deep inside the model")

    monkeypatch.setattr(predictor, "predict_proba", broken)
    response = app.test_client().post(
        "/v1/predict", json={"features": wine}, headers={auth.API_KEY_HEADER: KEY}
    )
    assert response.status_code == 500 and not leaks_in(response.get_data(as_text=True))
    logged = capfd.readouterr()
    assert "Traceback" not in logged.out + logged.err
    # The failure is still logged, through the service's JSON formatter, without a traceback.
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled RuntimeError"]
    line = request_logging.JsonFormatter().format(record)
    assert (
        "RuntimeError" in line and "Traceback" not in line and "/" not in json.loads(line)["event"]
    )


def test_an_integer_too_large_for_a_float_gets_a_sensible_message(app, wine):
    body = as_bytes({"features": wine | {"alcohol": "@@"}}).replace(b'"@@"', b"1" + b"0" * 400)
    response = app.test_client().post(
        "/v1/predict", data=body, headers={auth.API_KEY_HEADER: KEY, "Content-Type": JSON_TYPE}
    )
    assert response.status_code == 422
    assert "got a number" not in response.get_json()["error"]["details"][0]["problem"]


def test_a_5000_digit_number_gets_a_message_without_python_internals(app, wine):
    body = as_bytes({"features": wine | {"alcohol": "@@"}}).replace(b'"@@"', b"1" + b"0" * 5000)
    response = app.test_client().post(
        "/v1/predict", data=body, headers={auth.API_KEY_HEADER: KEY, "Content-Type": JSON_TYPE}
    )
    assert response.status_code == 400
    assert "sys." not in response.get_json()["error"]["message"]
