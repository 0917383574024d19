"""onnxruntime runs the same function as scikit-learn, within the stated tolerance."""

import numpy as np
import pytest

from examples.model import load_wine_frame, split_data, train_model
from examples.model.onnx_runtime import (
    PROBABILITY_TOLERANCE,
    OnnxPredictor,
    export_onnx,
    max_probability_difference,
)
from examples.model.training import FEATURE_NAMES


@pytest.fixture(scope="module")
def pipeline():
    return train_model().pipeline


@pytest.fixture(scope="module")
def predictor(pipeline):
    return OnnxPredictor.from_pipeline(pipeline)


def test_probabilities_agree_on_every_wine(pipeline, predictor):
    X_all = load_wine_frame()[FEATURE_NAMES].to_numpy()  # noqa: N806
    assert max_probability_difference(pipeline, predictor, X_all) < PROBABILITY_TOLERANCE
    assert predictor.predict(X_all).tolist() == pipeline.predict(X_all).tolist()


def test_probabilities_agree_on_the_test_set_and_sum_to_one(pipeline, predictor):
    X_test = split_data()[1]  # noqa: N806
    probabilities = predictor.predict_proba(X_test.to_numpy())
    assert probabilities.shape == (len(X_test), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=PROBABILITY_TOLERANCE)
    assert max_probability_difference(pipeline, predictor, X_test) < PROBABILITY_TOLERANCE


def test_the_model_loads_from_a_file(pipeline, predictor, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(export_onnx(pipeline))
    X_test = split_data()[1].to_numpy()  # noqa: N806
    np.testing.assert_array_equal(
        OnnxPredictor(path).predict_proba(X_test), predictor.predict_proba(X_test)
    )


def test_one_dimensional_input_is_refused(predictor):
    with pytest.raises(ValueError, match="2-D"):
        predictor.predict_proba(np.zeros(len(FEATURE_NAMES)))
