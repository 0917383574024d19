"""Property-based tests: hypothesis draws many inputs and looks for one that breaks a rule."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples.model import CLASS_NAMES, FEATURE_NAMES, ensure_model
from examples.serving import Settings, create_app

# Hypothesis draws inputs before pytest's function-scoped fixtures could be rebuilt, so these
# tests share one app, built once for the module.
SLOW_OK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,  # keep no .hypothesis/ folder in the repository
)


@pytest.fixture(scope="module")
def shared(model_dir, tmp_path_factory):
    domain = ensure_model(model_dir).metadata.domain
    return create_app(
        Settings.isolated(tmp_path_factory.mktemp("app"), model_dir)
    ).test_client(), domain


def in_domain_rows(domain):
    return st.fixed_dictionaries(
        {
            name: st.floats(domain[name]["allowed_min"], domain[name]["allowed_max"])
            for name in FEATURE_NAMES
        }
    )


@SLOW_OK
@given(data=st.data())
def test_any_in_domain_row_gets_probabilities_that_sum_to_one(shared, data):
    client, domain = shared
    row = data.draw(in_domain_rows(domain))
    response = client.post("/v1/predict", json={"features": row})
    assert response.status_code == 200
    body = response.get_json()
    probabilities = body["probabilities"]
    assert list(probabilities) == CLASS_NAMES
    assert all(0.0 <= p <= 1.0 for p in probabilities.values())
    assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-9)
    assert body["prediction"] == max(probabilities, key=probabilities.get)


@SLOW_OK
@given(data=st.data())
def test_any_out_of_domain_value_is_422_naming_that_field(shared, data):
    client, domain = shared
    row = data.draw(in_domain_rows(domain))
    name = data.draw(st.sampled_from(FEATURE_NAMES))
    low, high = domain[name]["allowed_min"], domain[name]["allowed_max"]
    too_high = st.floats(min_value=high, exclude_min=True, allow_infinity=False)
    too_low = st.floats(max_value=low, exclude_max=True, allow_infinity=False)
    row[name] = data.draw(too_high | too_low)
    response = client.post("/v1/predict", json={"features": row})
    assert response.status_code == 422
    assert [d["field"] for d in response.get_json()["error"]["details"]] == [f"features.{name}"]


@SLOW_OK
@given(data=st.data())
def test_any_batch_answers_in_order_and_agrees_with_single_predictions(shared, data):
    client, domain = shared
    rows = data.draw(st.lists(in_domain_rows(domain), min_size=1, max_size=20))
    batch = client.post("/v1/predict/batch", json={"instances": rows}).get_json()
    assert batch["count"] == len(rows)
    for row, item in zip(rows, batch["predictions"], strict=True):
        single = client.post("/v1/predict", json={"features": row}).get_json()
        for name in CLASS_NAMES:
            assert math.isclose(
                item["probabilities"][name], single["probabilities"][name], abs_tol=1e-12
            )
