"""The model's expected SHA-256 kept outside the model folder (SERVING_MODEL_SHA256): whoever can
write the folder can replace the model and its metadata together, so that the two agree; the
expected digest still refuses the pair."""

from __future__ import annotations

import json
import shutil

import pytest
import skops.io

from examples.model import ensure_model, load_model
from examples.model.artifact import METADATA_FILE, MODEL_FILE, ArtifactError, sha256_of
from examples.serving import Settings, create_app


@pytest.fixture
def released(model_dir, tmp_path):
    """A copy of the released model and the digest its release recorded."""
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder, ignore=shutil.ignore_patterns(".lock"))
    return folder, sha256_of(folder / MODEL_FILE)


def replace_both(folder) -> None:
    """What an attacker with write access does: a changed model, and metadata that agrees."""
    pipeline = load_model(folder).pipeline
    pipeline.steps[-1][1].intercept_ = pipeline.steps[-1][1].intercept_ + [5.0, 0.0, -5.0]
    (folder / MODEL_FILE).write_bytes(skops.io.dumps(pipeline))
    metadata = json.loads((folder / METADATA_FILE).read_text())
    metadata["sha256"] = sha256_of(folder / MODEL_FILE)
    (folder / METADATA_FILE).write_text(json.dumps(metadata))


def test_the_metadata_alone_cannot_see_a_consistent_replacement(released):
    folder, _ = released
    replace_both(folder)
    assert load_model(folder).pipeline is not None  # the threat: both files agree


def test_the_expected_digest_refuses_a_replaced_model_and_metadata(released):
    folder, digest = released
    assert load_model(folder, expected_sha256=digest).pipeline is not None
    replace_both(folder)
    with pytest.raises(
        ArtifactError, match="SERVING_MODEL_SHA256.*not the model that was released"
    ):
        load_model(folder, expected_sha256=digest)


def test_the_service_with_the_setting_stays_unready_on_a_replaced_pair(released, tmp_path):
    folder, digest = released
    settings = Settings.isolated(tmp_path, folder, model_sha256=digest.upper())
    assert create_app(settings).test_client().get("/readyz").status_code == 200
    replace_both(folder)
    app = create_app(settings)
    assert app.test_client().get("/readyz").status_code == 503
    assert "SERVING_MODEL_SHA256" in app.extensions["serving"].load_error
    app.extensions["prediction_store"].dispose()


def test_the_setting_is_read_from_the_environment():
    assert Settings.from_env({"SERVING_MODEL_SHA256": "ab" * 32}).model_sha256 == "ab" * 32
    assert Settings.from_env({}).model_sha256 == ""


def test_nothing_is_trained_when_a_digest_is_expected(tmp_path):
    with pytest.raises(ArtifactError, match="missing"):
        ensure_model(tmp_path / "empty", expected_sha256="0" * 64)
    assert not (tmp_path / "empty" / MODEL_FILE).exists()
