"""The plumber twin and the Flask reference service answer the same wines with the same
probabilities, and refuse the same malformed requests, naming the same fields."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from examples.model import ensure_model
from examples.serving.app import create_app
from examples.serving.settings import Settings
from examples.toolbox import serve_app
from tests.r.conftest import in_domain, needs_r

pytestmark = needs_r

# Both compute in float64 but round in a different order (scores of a few units: errors ~1e-15, seen
# up to 1.6e-15), and jsonlite writes 15 significant digits (up to 5e-16). 1e-12 leaves room.
TOLERANCE = 1e-12


@pytest.fixture(scope="module")
def flask_service(model_dir, tmp_path_factory):
    settings = Settings.isolated(tmp_path_factory.mktemp("flask"), model_dir=model_dir)
    with serve_app(create_app(settings), ready_path="/readyz") as server:
        yield server


def ask(server, body):
    return requests.post(server.url + "/v1/predict", json=body, timeout=10)


def test_held_out_wines_in_the_domain_get_the_same_probabilities(
    plumber_service, flask_service, held_out_wines, model_dir
):
    domain = ensure_model(model_dir).metadata.domain
    inside = [wine for wine in held_out_wines if in_domain(wine, domain)]
    assert len(held_out_wines) == 45 and len(inside) == 43  # two lie outside the allowed domain
    largest = 0.0
    for wine in inside:
        r, f = ask(plumber_service, {"features": wine}), ask(flask_service, {"features": wine})
        assert r.status_code == f.status_code == 200
        r, f = r.json(), f.json()
        assert r["prediction"] == f["prediction"]
        assert r["model_version"] == f["model_version"]
        assert list(r["probabilities"]) == list(f["probabilities"])
        difference = np.subtract(
            list(r["probabilities"].values()), list(f["probabilities"].values())
        )
        largest = max(largest, float(np.abs(difference).max()))
    assert largest <= TOLERANCE


def test_held_out_wines_outside_the_domain_are_refused_by_both(
    plumber_service, flask_service, held_out_wines, model_dir
):
    domain = ensure_model(model_dir).metadata.domain
    outside = [wine for wine in held_out_wines if not in_domain(wine, domain)]
    assert len(outside) == 2
    for wine in outside:
        r, f = ask(plumber_service, {"features": wine}), ask(flask_service, {"features": wine})
        assert r.status_code == f.status_code == 422
        fields = [{d["field"] for d in answer.json()["error"]["details"]} for answer in (r, f)]
        assert fields[0] == fields[1]


def bad_bodies(wine):
    string, unknown, missing = dict(wine), dict(wine), dict(wine)
    string["alcohol"] = "13.2"
    unknown["colour"] = 1.0
    missing.pop("hue", None)
    return {
        "a string": {"features": string},
        "an unknown field": {"features": unknown},
        "a missing field": {"features": missing},
        "below the range": {"features": dict(wine, magnesium=-1.0)},
        "above the range": {"features": dict(wine, proline=1e6)},
        "a boolean": {"features": dict(wine, hue=True)},
        "null": {"features": dict(wine, ash=None)},
        "no features": {"wine": wine},
        "not an object": [wine],
    }


@pytest.mark.parametrize("case", list(bad_bodies({})))
def test_the_same_mistakes_are_refused_naming_the_same_fields(
    case, plumber_service, flask_service, held_out_wines
):
    body = bad_bodies(held_out_wines[0])[case]
    r, f = ask(plumber_service, body), ask(flask_service, body)
    assert r.status_code == f.status_code == 422
    r, f = r.json()["error"], f.json()["error"]
    assert r["code"] == f["code"] == "validation_error"
    assert {d["field"] for d in r["details"]} == {d["field"] for d in f["details"]}
    assert r["message"].startswith("The request is not valid: " + r["details"][0]["field"])


def test_a_body_that_is_not_json_is_a_400_not_a_500(plumber_service):
    response = requests.post(
        plumber_service.url + "/v1/predict",
        data='{"features": {',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_healthz_answers_a_scalar_not_an_array(plumber_service):
    assert requests.get(plumber_service.url + "/healthz", timeout=10).json() == {"status": "ok"}
