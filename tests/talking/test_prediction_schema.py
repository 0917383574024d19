"""Tests for the chapter 4 prediction request schema and strict JSON parsing."""

import json
import math
import time

import pytest

from examples.model import FEATURE_NAMES, train_model
from examples.model.artifact import ModelMetadata
from examples.talking.prediction_schema import (
    prediction_request_schema,
    schema_errors,
    strict_json_loads,
)


@pytest.fixture(scope="module")
def schema():
    result = train_model()
    metadata = ModelMetadata(
        name="wine",
        version="test",
        created_at="",
        features=list(FEATURE_NAMES),
        classes=[],
        domain=result.domain,
        metrics={},
        libraries={},
        sha256="",
    )
    return prediction_request_schema(metadata), result.domain


def good_body(domain):
    return {"features": {name: domain[name]["observed_min"] for name in FEATURE_NAMES}}


def test_a_body_inside_the_domain_is_valid(schema):
    schema, domain = schema
    assert schema_errors(schema, good_body(domain)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.pop("proline"), "'proline' is a required property"),
        (lambda f: f.update(alcohol="13.2"), "'13.2' is not of type 'number'"),
        (lambda f: f.update(alcohol=True), "True is not of type 'number'"),
        (lambda f: f.update(alcohol=99.0), "99.0 is greater than the maximum"),
        (lambda f: f.update(colour=1.0), "'colour' was unexpected"),
    ],
)
def test_bad_bodies_are_refused_with_a_readable_message(schema, change, expected):
    schema, domain = schema
    body = good_body(domain)
    change(body["features"])
    errors = schema_errors(schema, body)
    assert len(errors) == 1
    assert expected in errors[0]


def test_nan_slips_through_the_schema_but_not_the_strict_parser(schema):
    schema, domain = schema
    body = good_body(domain)
    body["features"]["alcohol"] = math.nan
    assert schema_errors(schema, body) == []
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        strict_json_loads('{"alcohol": NaN}')
    assert strict_json_loads('{"alcohol": 13.2}') == {"alcohol": 13.2}


def test_strict_parser_refuses_overflowing_numbers_and_duplicate_keys():
    assert json.loads('{"alcohol": 1e400}') == {"alcohol": math.inf}
    with pytest.raises(ValueError, match="too large"):
        strict_json_loads('{"alcohol": 1e400}')
    with pytest.raises(ValueError, match="too large"):
        strict_json_loads("[-1e400]")
    with pytest.raises(ValueError, match=r"duplicate keys in one object: \['alcohol'\]"):
        strict_json_loads('{"features": {"alcohol": 1, "alcohol": 2}}')
    assert strict_json_loads('{"a": {"b": 1}, "b": [1e-300, 2]}') == {
        "a": {"b": 1},
        "b": [1e-300, 2],
    }


def test_strict_parser_refuses_integers_too_large_for_a_float():
    huge = "1" + "0" * 400  # valid JSON; float() of it overflows
    with pytest.raises(ValueError, match="401 digits is too large"):
        strict_json_loads(f'{{"alcohol": {huge}}}')
    with pytest.raises(ValueError, match="too large"):
        strict_json_loads(f"[-{huge}]")
    assert strict_json_loads("[9007199254740993, -3]") == [9007199254740993, -3]


def test_duplicate_key_check_is_linear_in_the_number_of_keys():
    # The old check called list.count for every key: 20,000 keys took about 17 s of CPU.
    body = "{" + ",".join(f'"k{i}": {i}' for i in range(20_000)) + ', "k7": 0}'
    started = time.process_time()
    with pytest.raises(ValueError, match=r"duplicate keys in one object: \['k7'\]"):
        strict_json_loads(body)
    assert time.process_time() - started < 1.0
