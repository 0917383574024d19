"""Training the wine classifier: reproducible, honestly evaluated, with a recorded input domain."""

import numpy as np

from examples.model import FEATURE_NAMES, split_data, train_model
from examples.model.training import DOMAIN_MARGIN, evaluate


def test_training_twice_gives_the_same_model_and_metrics():
    first, second = train_model(), train_model()
    assert first.metrics == second.metrics
    np.testing.assert_array_equal(
        first.pipeline.named_steps["classify"].coef_, second.pipeline.named_steps["classify"].coef_
    )


def test_held_out_metrics_are_those_the_book_prints():
    metrics = train_model().metrics
    assert metrics["accuracy"] == 1.0
    assert metrics["macro_f1"] == 1.0
    assert 0.0 < metrics["log_loss"] < 0.2


def test_split_is_fixed_and_stratified():
    X_train, X_test, y_train, y_test = split_data()  # noqa: N806
    assert (len(X_train), len(X_test)) == (133, 45)
    X_again = split_data()[1]  # noqa: N806
    assert list(X_test.index) == list(X_again.index)
    assert set(y_test) == {0, 1, 2}


def test_domain_contains_the_training_data_with_a_margin():
    result = train_model()
    X_train = split_data()[0]  # noqa: N806
    assert list(result.domain) == FEATURE_NAMES
    for name, bounds in result.domain.items():
        assert bounds["observed_min"] == X_train[name].min()
        assert bounds["observed_max"] == X_train[name].max()
        width = bounds["observed_max"] - bounds["observed_min"]
        assert bounds["allowed_max"] == round(bounds["observed_max"] + DOMAIN_MARGIN * width, 6)
        assert 0.0 <= bounds["allowed_min"] <= bounds["observed_min"]
    assert set(result.feature_types.values()) == {"float64"}


def test_scaling_lives_inside_the_pipeline():
    result = train_model()
    X_test, y_test = split_data()[1], split_data()[3]  # noqa: N806
    # Raw features in, sensible predictions out: nobody has to scale before calling the model.
    assert evaluate(result.pipeline, X_test.to_numpy(), y_test.to_numpy()) == result.metrics
