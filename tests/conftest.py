"""Fixtures every test folder shares."""

from pathlib import Path

import pytest

from examples.model import ensure_model


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """A trained model in a folder of its own, made once per test session (per xdist worker)."""
    directory = tmp_path_factory.mktemp("model")
    ensure_model(directory)
    return directory
