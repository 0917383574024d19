"""The artifact on disk: trained when missing, loaded without pickle, refused when altered."""

import json
import os
import pickle
import shutil
import threading

import pytest
import skops.io
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler

from examples.model import ArtifactError, ensure_model, load_model, split_data
from examples.model.artifact import METADATA_FILE, MODEL_FILE, sha256_of


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """One model trained for this module, in a private folder (never the shared models/)."""
    directory = tmp_path_factory.mktemp("model")
    ensure_model(directory)
    return directory


@pytest.fixture
def artifact_copy(trained_dir, tmp_path):
    """A copy of the artifact that a test may damage."""
    return shutil.copytree(trained_dir, tmp_path / "copy")


def rewrite_metadata(directory, change):
    path = directory / METADATA_FILE
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def test_ensure_model_trains_when_missing_then_reuses(tmp_path):
    directory = tmp_path / "fresh"
    loaded = ensure_model(directory)
    assert (directory / MODEL_FILE).exists() and (directory / METADATA_FILE).exists()
    again = ensure_model(directory)
    assert again.metadata.created_at == loaded.metadata.created_at
    assert again.metadata.sha256 == loaded.metadata.sha256


def test_parallel_ensure_model_trains_once_and_all_load(tmp_path):
    directory, results, errors = tmp_path / "parallel", [], []

    def load():
        try:
            results.append(ensure_model(directory).metadata.sha256)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1


def test_loaded_model_predicts_like_a_fresh_one(trained_dir):
    loaded = load_model(trained_dir)
    X_test = split_data()[1].to_numpy()  # noqa: N806
    assert (
        loaded.pipeline.predict(X_test).tolist()
        == ensure_model(trained_dir).pipeline.predict(X_test).tolist()
    )
    assert loaded.metadata.metrics["accuracy"] == 1.0


def test_load_model_never_calls_pickle(trained_dir, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was called while loading the model")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    assert load_model(trained_dir).pipeline is not None


def test_one_changed_byte_is_refused(artifact_copy):
    model_path = artifact_copy / MODEL_FILE
    data = bytearray(model_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    model_path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256 .* the file was changed after training"):
        load_model(artifact_copy)


def test_a_different_recorded_hash_is_refused(artifact_copy):
    rewrite_metadata(artifact_copy, lambda metadata: metadata.update(sha256="0" * 64))
    with pytest.raises(ArtifactError, match="records sha256 000000000000"):
        load_model(artifact_copy)


@pytest.mark.parametrize("library", ["scikit-learn", "numpy"])
def test_a_different_library_version_is_refused(artifact_copy, library):
    rewrite_metadata(artifact_copy, lambda metadata: metadata["libraries"].update({library: "0.1"}))
    with pytest.raises(ArtifactError, match=f"trained with {library} 0.1, but .* is installed"):
        load_model(artifact_copy)


def test_missing_files_are_named(artifact_copy):
    (artifact_copy / MODEL_FILE).unlink()
    with pytest.raises(ArtifactError, match=f"model file {MODEL_FILE} is missing"):
        load_model(artifact_copy)
    (artifact_copy / METADATA_FILE).unlink()
    with pytest.raises(ArtifactError, match=f"metadata file {METADATA_FILE} is missing"):
        load_model(artifact_copy)


def test_a_file_with_untrusted_types_is_refused_even_with_a_matching_hash(artifact_copy):
    # A swapped file whose metadata was updated to match: the trusted-type list still stops it.
    model_path = artifact_copy / MODEL_FILE
    model_path.write_bytes(skops.io.dumps(FunctionTransformer(func=print)))
    rewrite_metadata(artifact_copy, lambda metadata: metadata.update(sha256=sha256_of(model_path)))
    with pytest.raises(ArtifactError, match="not trusted: .*builtins.print"):
        load_model(artifact_copy)


def test_ensure_model_does_not_silently_replace_a_damaged_model(artifact_copy):
    rewrite_metadata(artifact_copy, lambda metadata: metadata.update(sha256="0" * 64))
    with pytest.raises(ArtifactError):
        ensure_model(artifact_copy)


def test_ensure_model_loads_from_a_read_only_folder(artifact_copy, monkeypatch):
    # Tests may run as root, for whom every folder is writable: pretend this one is not.
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    (artifact_copy / ".lock").unlink(missing_ok=True)
    assert ensure_model(artifact_copy).metadata.metrics["accuracy"] == 1.0
    assert not (artifact_copy / ".lock").exists()


def test_a_trusted_by_skops_but_foreign_estimator_is_refused(artifact_copy):
    # skops trusts every scikit-learn estimator by default; our list admits only the three we use.
    model_path = artifact_copy / MODEL_FILE
    model_path.write_bytes(skops.io.dumps(Pipeline([("scale", MinMaxScaler())])))
    rewrite_metadata(artifact_copy, lambda metadata: metadata.update(sha256=sha256_of(model_path)))
    assert skops.io.get_untrusted_types(file=model_path) == []
    with pytest.raises(ArtifactError, match="not trusted: .*MinMaxScaler"):
        load_model(artifact_copy)


def test_a_file_that_is_not_a_skops_archive_is_refused(artifact_copy):
    model_path = artifact_copy / MODEL_FILE
    model_path.write_bytes(b"not a zip archive")
    rewrite_metadata(artifact_copy, lambda metadata: metadata.update(sha256=sha256_of(model_path)))
    with pytest.raises(ArtifactError, match="is not a skops file"):
        load_model(artifact_copy)


def test_the_files_are_readable_by_other_users(trained_dir):
    for name in (MODEL_FILE, METADATA_FILE):
        assert (trained_dir / name).stat().st_mode & 0o044 == 0o044
