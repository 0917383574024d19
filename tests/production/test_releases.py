"""examples/production/releases.py: publishing model versions side by side, activating one, rolling back."""

from dataclasses import replace

import pytest

from examples.model.artifact import ArtifactError, load_model
from examples.model.training import train_model
from examples.production.releases import (
    Release,
    ReleaseError,
    activate,
    active_release,
    model_dir,
    publish_model,
    read_releases,
    record_release,
    rollback,
)


@pytest.fixture(scope="module")
def trained():
    return {"1.0.0": train_model(), "1.1.0": train_model(C=0.1)}


@pytest.fixture
def releases_dir(tmp_path, trained):
    for number, (model_version, result) in enumerate(trained.items()):
        metadata = publish_model(result, tmp_path, model_version)
        record_release(
            tmp_path,
            Release(f"0.{number + 1}.0", f"0.{number + 1}.0", f"wine-api:0.{number + 1}.0",
                    "sha256:" + f"{number:x}" * 64, model_version, metadata.sha256),
        )  # fmt: skip
    return tmp_path


def test_published_metadata_carries_the_release_version(releases_dir):
    loaded = load_model(model_dir(releases_dir, "1.1.0"))
    assert loaded.metadata.version == "1.1.0"
    assert loaded.pipeline.named_steps["classify"].C == 0.1


def test_a_published_version_cannot_be_overwritten(releases_dir, trained):
    with pytest.raises(ReleaseError, match="already published"):
        publish_model(trained["1.0.0"], releases_dir, "1.1.0")


def test_a_release_version_is_recorded_once(releases_dir):
    first = read_releases(releases_dir)[0]
    with pytest.raises(ReleaseError, match="already exists"):
        record_release(releases_dir, first)
    assert [release.version for release in read_releases(releases_dir)] == ["0.1.0", "0.2.0"]


def test_activate_then_rollback(releases_dir):
    activate(releases_dir, "0.2.0")
    assert load_model(releases_dir / "current").metadata.version == "1.1.0"
    assert rollback(releases_dir).version == "0.1.0"
    assert active_release(releases_dir).version == "0.1.0"
    assert load_model(releases_dir / "current").metadata.version == "1.0.0"
    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        rollback(releases_dir)


def test_a_tampered_model_is_never_activated(releases_dir):
    activate(releases_dir, "0.2.0")
    model_file = model_dir(releases_dir, "1.0.0") / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match="changed after training"):
        rollback(releases_dir)
    assert active_release(releases_dir).version == "0.2.0"


def test_a_consistently_replaced_model_is_caught_by_the_record(releases_dir, trained):
    # Someone swaps in other files whose metadata matches them: only the record can tell.
    other = model_dir(releases_dir, "1.0.0")
    for file in other.iterdir():
        file.unlink()
    other.rmdir()
    publish_model(trained["1.1.0"], releases_dir, "1.0.0")
    with pytest.raises(ReleaseError, match="is not the file release 0.1.0 named"):
        activate(releases_dir, "0.1.0")


def test_a_release_records_its_image_by_digest(releases_dir):
    first = read_releases(releases_dir)[0]
    assert first.image_reference == "wine-api@sha256:" + "0" * 64
    for digest in ("", "wine-api:0.3.0", "sha256:abc", "sha256:" + "G" * 64):
        with pytest.raises(ReleaseError, match="by digest"):
            record_release(releases_dir, replace(first, version="0.3.0", image_digest=digest))


def test_rollback_steps_back_through_releases_that_share_a_model(tmp_path, trained):
    """A code-only release reuses its predecessor's model; rollback must still reach the one before."""
    digest = "sha256:" + "0" * 64
    first = publish_model(trained["1.0.0"], tmp_path, "1.0.0")
    second = publish_model(trained["1.1.0"], tmp_path, "1.1.0")
    for name, code, model in [
        ("r1", "0.1.0", first),
        ("r2", "0.1.0", second),
        ("r3", "0.2.0", second),
    ]:
        record_release(
            tmp_path, Release(name, code, f"wine-api:{code}", digest, model.version, model.sha256)
        )
    activate(tmp_path, "r3")
    assert active_release(tmp_path).version == "r3"
    assert rollback(tmp_path).version == "r2"
    assert active_release(tmp_path).version == "r2"
    assert rollback(tmp_path).version == "r1"
    assert load_model(tmp_path / "current").metadata.version == "1.0.0"
