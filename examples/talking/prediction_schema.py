"""A JSON Schema for a prediction request, built from the model's metadata (chapter 4).

The body of a request for one prediction looks like {"features": {"alcohol": 13.2, ...}}, with every
feature the model was trained on, each a number inside the range recorded when it was trained.
"""

from __future__ import annotations

import json
import math
import sys

from jsonschema import Draft202012Validator

from examples.model import ModelMetadata


def prediction_request_schema(metadata: ModelMetadata) -> dict:
    """Every feature required, each a number within its allowed range, and nothing else."""
    feature_properties = {
        name: {
            "type": "number",
            "minimum": metadata.domain[name]["allowed_min"],
            "maximum": metadata.domain[name]["allowed_max"],
        }
        for name in metadata.features
    }
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Prediction request",
        "type": "object",
        "properties": {
            "features": {
                "type": "object",
                "properties": feature_properties,
                "required": list(metadata.features),
                "additionalProperties": False,
            }
        },
        "required": ["features"],
        "additionalProperties": False,
    }
    return schema


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number (RFC 8259 allows only finite numbers)")


def _finite_float(text: str) -> float:
    # parse_constant never sees 1e400: it is a valid JSON number that float() rounds to inf.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a 64-bit float")
    return value


def _float_sized_int(text: str) -> int:
    # A 401-digit integer is valid JSON and a fine Python int, but float() of it overflows.
    value = int(text)
    if abs(value) > sys.float_info.max:
        raise ValueError(
            f"an integer of {len(text.lstrip('-'))} digits is too large for a 64-bit float"
        )
    return value


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    # json.loads keeps the last of two equal keys without a word; RFC 8259 leaves it undefined.
    # One pass with a set: counting each key with list.count would be quadratic in the key count.
    seen, duplicates = set(), set()
    for key, _ in pairs:
        (duplicates if key in seen else seen).add(key)
    if duplicates:
        raise ValueError(f"duplicate keys in one object: {sorted(duplicates)}")
    return dict(pairs)


def strict_json_loads(text: str | bytes):
    """Parse JSON, refusing NaN and Infinity, numbers too large for a float, and repeated keys."""
    return json.loads(
        text,
        parse_constant=_refuse_constant,
        parse_float=_finite_float,
        parse_int=_float_sized_int,
        object_pairs_hook=_refuse_duplicate_keys,
    )


def schema_errors(schema: dict, instance) -> list[str]:
    """Every way `instance` breaks `schema`, one line each, as 'where: what', in a stable order."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
    return [f"{error.json_path}: {error.message}" for error in errors]
