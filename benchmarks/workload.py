"""What the benchmark sends, and what must come back: the request bodies (rows of the held-out
split inside the model's allowed domain) and the check that every contender predicts what the
trained model predicts before it is measured."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import requests

from benchmarks.contenders import Contender
from benchmarks.plan import BATCH_ROWS
from examples.model import CLASS_NAMES, FEATURE_NAMES, LoadedModel, split_data


@dataclass
class Workload:
    """The request bodies, and the classes the trained model predicts for the checked rows."""

    check_rows: list[dict[str, float]]
    expected: list[str]
    one_row_body: bytes
    batch_rows: np.ndarray
    batch_body: bytes


def as_features(row: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in zip(FEATURE_NAMES, row, strict=True)}


def make_workload(loaded: LoadedModel) -> Workload:
    """Rows of the held-out split that lie in the model's allowed domain (a validating service
    refuses the others): five to check answers with, one to send alone, and 1,000 drawn with
    replacement (fixed seed) for the batch."""
    X_test = split_data()[1].to_numpy()
    domain = loaded.metadata.domain
    low = np.array([domain[name]["allowed_min"] for name in FEATURE_NAMES])
    high = np.array([domain[name]["allowed_max"] for name in FEATURE_NAMES])
    X_test = X_test[((X_test >= low) & (X_test <= high)).all(axis=1)]
    check = X_test[:5]
    expected = [CLASS_NAMES[i] for i in loaded.pipeline.predict_proba(check).argmax(axis=1)]
    batch = X_test[np.random.default_rng(0).integers(0, len(X_test), BATCH_ROWS)]
    return Workload(
        check_rows=[as_features(row) for row in check],
        expected=expected,
        one_row_body=json.dumps({"features": as_features(X_test[0])}).encode(),
        batch_rows=batch,
        batch_body=json.dumps({"instances": [as_features(row) for row in batch]}).encode(),
    )


class WrongAnswer(RuntimeError):
    """A contender answered, but not with what the trained model predicts."""


def check_answers(contender: Contender, url: str, workload: Workload) -> None:
    """Every contender but the ceiling must predict what the trained model predicts."""

    def post(path: str, body: dict) -> dict:
        reply = requests.post(url + path, json=body, headers=contender.headers, timeout=30)
        if reply.status_code != 200:
            raise WrongAnswer(f"{path} answered {reply.status_code}: {reply.text[:300]}")
        return reply.json()

    if contender.one_row_path:
        got = [post(contender.one_row_path, {"features": row})["prediction"]
               for row in workload.check_rows]  # fmt: skip
        # The ceiling answers a constant: it only has to name a class that exists.
        if contender.name == "ceiling":
            right = all(name in CLASS_NAMES for name in got)
        else:
            right = got == workload.expected
        if not right:
            raise WrongAnswer(
                f"{contender.one_row_path} predicted {got}, expected {workload.expected}"
            )
    if contender.batch_path:
        reply = post(contender.batch_path, {"instances": workload.check_rows})
        got = [item["prediction"] for item in reply["predictions"]]
        if got != workload.expected:
            raise WrongAnswer(
                f"{contender.batch_path} predicted {got}, expected {workload.expected}"
            )
