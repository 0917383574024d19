"""The fast path predicts what scikit-learn predicts, and steps aside when it cannot prove it."""

import logging

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from examples.model import load_model
from examples.serving import create_app
from examples.serving.predictor import (
    LinearPipelinePredictor,
    PipelinePredictor,
    load_predictor,
)


def test_the_service_uses_the_fast_path_by_default(app):
    assert isinstance(app.extensions["serving"].predictor, LinearPipelinePredictor)


def test_fast_path_agrees_with_scikit_learn_on_the_held_out_wines(model_dir, test_split):
    fast = LinearPipelinePredictor(load_model(model_dir))
    X_test = test_split[0].to_numpy()  # noqa: N806
    difference = np.abs(fast.predict_proba(X_test) - fast.pipeline.predict_proba(X_test)).max()
    assert difference <= LinearPipelinePredictor.TOLERANCE
    assert (fast.predict_proba(X_test).argmax(1) == fast.pipeline.predict(X_test)).all()


def test_fast_path_survives_extreme_scores_without_overflow(model_dir):
    fast = LinearPipelinePredictor(load_model(model_dir))
    probabilities = fast.predict_proba(np.full((2, 13), 1e6))
    assert np.isfinite(probabilities).all()
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_fast_path_can_be_switched_off(settings):
    app = create_app(settings.__class__(**{**settings.__dict__, "fast_path": False}))
    assert type(app.extensions["serving"].predictor) is PipelinePredictor


def test_other_pipelines_are_not_given_the_fast_path(model_dir):
    loaded = load_model(model_dir)
    X = np.random.default_rng(0).normal(size=(30, 13))  # noqa: N806
    forest = Pipeline([("scale", StandardScaler()), ("classify", RandomForestClassifier(3))])
    forest.fit(X, np.arange(30) % 3)
    assert not LinearPipelinePredictor.applies_to(forest)
    assert LinearPipelinePredictor.applies_to(loaded.pipeline)


def test_a_fast_path_that_disagrees_falls_back_with_a_warning(settings, monkeypatch, caplog):
    monkeypatch.setattr(LinearPipelinePredictor, "verified", lambda self: False)
    with caplog.at_level(logging.WARNING):
        predictor = load_predictor(settings, logging.getLogger("test"))
    assert type(predictor) is PipelinePredictor
    assert "fast path disagrees" in caplog.text
