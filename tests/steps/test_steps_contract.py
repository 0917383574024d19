"""The contract the step-by-step apps share: each answers its hello route, and steps 2 and 3 give
the same prediction, in the reference service's response shape, for the same wine."""

import importlib
import math

import pytest

from examples.model import CLASS_NAMES, FEATURE_NAMES, split_data

STEPS = ["ch09_hello", "ch10_predict", "ch11_validate"]
PREDICTING_STEPS = ["ch10_predict", "ch11_validate"]


def client_for(step: str):
    return importlib.import_module(f"examples.steps.{step}.app").app.test_client()


def training_rows(n: int = 10) -> list[dict]:
    """Wines from the training split: inside the allowed domain by construction (a held-out wine
    may lie outside it, and step 3 rightly refuses it)."""
    X_train = split_data()[0]  # noqa: N806
    return [row.to_dict() for _, row in X_train.head(n).iterrows()]


@pytest.mark.parametrize("step", STEPS)
def test_every_step_answers_its_hello_route_with_json(step):
    response = client_for(step).get("/")
    assert response.status_code == 200
    assert response.is_json
    assert response.json["message"].startswith("Hello")


def test_chapter_9_echoes_query_parameters_and_headers():
    response = client_for("ch09_hello").get(
        "/echo?colour=red&tag=a&tag=b", headers={"User-Agent": "test-agent", "Accept": "text/plain"}
    )
    assert response.status_code == 200
    assert response.json == {
        "method": "GET",
        "path": "/echo",
        "query": {"colour": ["red"], "tag": ["a", "b"]},
        "headers": {"User-Agent": "test-agent", "Accept": "text/plain"},
    }


@pytest.mark.parametrize("step", PREDICTING_STEPS)
def test_prediction_has_the_reference_shape(step):
    response = client_for(step).post("/predict", json={"features": training_rows(1)[0]})
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"prediction", "probabilities", "model_version"}
    assert body["prediction"] in CLASS_NAMES
    assert list(body["probabilities"]) == CLASS_NAMES
    assert math.isclose(sum(body["probabilities"].values()), 1.0, abs_tol=1e-3)
    assert body["prediction"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["model_version"] == "1.0.0"


def test_steps_2_and_3_predict_the_same_for_the_same_rows():
    step02, step03 = client_for("ch10_predict"), client_for("ch11_validate")
    for row in training_rows(10):
        answers = [
            client.post("/predict", json={"features": row}).json for client in (step02, step03)
        ]
        assert answers[0] == answers[1]


@pytest.mark.parametrize("step", PREDICTING_STEPS)
def test_served_probabilities_equal_the_pipeline_exactly(step):
    module = importlib.import_module(f"examples.steps.{step}.app")
    client = module.app.test_client()
    for row in training_rows(10):
        served = client.post("/predict", json={"features": row}).json["probabilities"]
        direct = module.model.pipeline.predict_proba([[row[name] for name in FEATURE_NAMES]])[0]
        assert [served[name] for name in CLASS_NAMES] == direct.tolist()


@pytest.mark.parametrize("step", PREDICTING_STEPS)
def test_feature_order_in_the_body_does_not_matter(step):
    row = training_rows(1)[0]
    reversed_row = {name: row[name] for name in reversed(FEATURE_NAMES)}
    client = client_for(step)
    forward = client.post("/predict", json={"features": row}).json
    backward = client.post("/predict", json={"features": reversed_row}).json
    assert forward == backward


def test_step02_fails_with_500_on_a_missing_feature():
    row = training_rows(1)[0]
    del row["alcohol"]
    app = importlib.import_module("examples.steps.ch10_predict.app").app
    app.logger.disabled = True  # the traceback it would log is expected here
    try:
        response = app.test_client().post("/predict", json={"features": row})
    finally:
        app.logger.disabled = False
    assert response.status_code == 500
