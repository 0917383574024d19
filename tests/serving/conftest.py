"""Fixtures for the reference service: a model trained once per session in a temporary folder, and a
fresh app and test client for every test."""

import pytest

from examples.model import ensure_model, split_data
from examples.serving import Settings, create_app


@pytest.fixture(scope="session")
def metadata(model_dir):
    return ensure_model(model_dir).metadata


@pytest.fixture
def settings(model_dir, tmp_path):
    """The core service of Part III, with every file it writes under tmp_path."""
    return Settings.isolated(tmp_path, model_dir, train_if_missing=False)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def test_split():
    _, X_test, _, y_test = split_data()
    return X_test, y_test


@pytest.fixture
def features(test_split):
    """One valid wine, as the JSON object the service expects."""
    return test_split[0].iloc[0].to_dict()
