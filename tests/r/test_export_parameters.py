"""The exported JSON holds everything needed to reproduce predict_proba, and nothing is lost on
the way through the file."""

import json

import numpy as np

from examples.model import ensure_model, split_data
from examples.r.__main__ import main
from examples.r.export_parameters import FORMAT, softmax_probabilities


def test_softmax_from_the_json_equals_predict_proba(parameters_file, model_dir):
    parameters = json.loads(parameters_file.read_text())
    pipeline = ensure_model(model_dir).pipeline
    _, X_test, _, _ = split_data()  # noqa: N806
    X = X_test[parameters["features"]].to_numpy()  # noqa: N806
    difference = np.abs(softmax_probabilities(parameters, X) - pipeline.predict_proba(X)).max()
    assert difference <= 1e-12


def test_the_file_names_its_model_and_the_order_of_its_arrays(parameters_file, model_dir):
    parameters = json.loads(parameters_file.read_text())
    metadata = ensure_model(model_dir).metadata
    assert parameters["format"] == FORMAT
    assert parameters["model"]["sha256"] == metadata.sha256
    assert parameters["features"] == metadata.features
    assert parameters["classes"] == ["class_0", "class_1", "class_2"]
    assert np.shape(parameters["coefficients"]) == (3, 13)
    assert len(parameters["mean"]) == len(parameters["scale"]) == 13
    assert set(parameters["domain"]) == set(metadata.features)


def test_every_float_survives_the_json_round_trip(parameters_file, model_dir):
    scaler, classifier = (step for _, step in ensure_model(model_dir).pipeline.steps)
    parameters = json.loads(parameters_file.read_text())
    assert np.array_equal(parameters["mean"], scaler.mean_)
    assert np.array_equal(parameters["coefficients"], classifier.coef_)


def test_the_command_line_writes_the_file(tmp_path, model_dir, capsys):
    main([str(tmp_path / "p.json"), "--model-dir", str(model_dir)])
    assert "13 features" in capsys.readouterr().out
    assert json.loads((tmp_path / "p.json").read_text())["format"] == FORMAT
