"""What every framework peer validates and answers, written once so that the peers differ only in
the framework: one float field per feature within the model's allowed range, unknown fields
refused, and the same answer shape as the reference service."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from examples.model import CLASS_NAMES, FEATURE_NAMES

MAX_BATCH_SIZE = 1_000


def features_model(domain: dict[str, dict[str, float]]) -> type[BaseModel]:
    """A pydantic model with one float field per feature, bounded by the model's allowed range."""
    fields = {
        name: (float, Field(ge=domain[name]["allowed_min"], le=domain[name]["allowed_max"]))
        for name in FEATURE_NAMES
    }
    strict = ConfigDict(extra="forbid", allow_inf_nan=False)
    return create_model("Features", __config__=strict, **fields)


def predict_rows(pipeline, rows: Sequence[BaseModel]) -> list[dict]:
    """The pipeline's class and probabilities for validated rows, in the reference's shape."""
    matrix = np.array([[getattr(row, name) for name in FEATURE_NAMES] for row in rows])
    probabilities = pipeline.predict_proba(matrix)
    return [
        {
            "prediction": CLASS_NAMES[int(p.argmax())],
            "probabilities": dict(zip(CLASS_NAMES, p.tolist(), strict=True)),
        }
        for p in probabilities
    ]
