"""Releases of the service, kept side by side so that rolling back is pointing at the previous one.

A release names three things: the code (the version in pyproject.toml, tagged in git), the container
image built from it (by digest: a tag such as wine-api:0.1.0 can be moved to other bytes, a digest
names exactly one image), and the model artifact (its version and the SHA-256 of its file). The layout:

    releases/
        releases.json            one record per release, oldest first
        models/1.0.0/            model.skops + metadata.json, never changed once published
        models/1.1.0/
        active/r2 -> ../models/1.1.0  one link per activated release, named by the release
        current -> active/r2     what the service loads (SERVING_MODEL_DIR=releases/current)

`current` names the release, not only the model: two releases may share a model (a code-only
release), and rolling back must still step from one release to the one before it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from examples.model.artifact import METADATA_FILE, ModelMetadata, save_model, verify_artifact
from examples.model.training import TrainingResult

REGISTRY_FILE = "releases.json"
CURRENT_LINK = "current"
ACTIVE_DIR = "active"
IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class ReleaseError(ValueError):
    """A release that cannot be published, found, or switched to."""


@dataclass(frozen=True)
class Release:
    """One release: which code, which image, which model (and the exact bytes of its file)."""

    version: str
    code_version: str
    image_tag: str
    image_digest: str
    model_version: str
    model_sha256: str

    @property
    def image_reference(self) -> str:
        """What a deployment should pull: repository@digest, never the movable tag."""
        return f"{self.image_tag.rsplit(':', 1)[0]}@{self.image_digest}"


def model_dir(releases_dir: Path, model_version: str) -> Path:
    return Path(releases_dir) / "models" / model_version


def publish_model(result: TrainingResult, releases_dir: Path, model_version: str) -> ModelMetadata:
    """Save a trained model under models/<model_version>/, its metadata carrying that version."""
    directory = model_dir(releases_dir, model_version)
    if directory.exists():
        # A published version is immutable: the same name must always mean the same bytes.
        raise ReleaseError(f"model {model_version} is already published; choose a new version")
    # save_model records the training code's MODEL_VERSION; the release decides the version.
    metadata = replace(save_model(result, directory), version=model_version)
    (directory / METADATA_FILE).write_text(metadata.to_json())
    return metadata


def read_releases(releases_dir: Path) -> list[Release]:
    """Every recorded release, oldest first (an empty list before the first one)."""
    registry = Path(releases_dir) / REGISTRY_FILE
    if not registry.exists():
        return []
    return [Release(**entry) for entry in json.loads(registry.read_text())]


def record_release(releases_dir: Path, release: Release) -> None:
    """Add a release to the registry; a version that was already released is refused."""
    if not IMAGE_DIGEST.match(release.image_digest):
        raise ReleaseError(
            f"release {release.version} must record its image by digest (sha256:<64 hex digits>), "
            f"not {release.image_digest!r}"
        )
    releases = read_releases(releases_dir)
    if any(old.version == release.version for old in releases):
        raise ReleaseError(f"release {release.version} already exists")
    entries = [asdict(old) for old in [*releases, release]]
    (Path(releases_dir) / REGISTRY_FILE).write_text(json.dumps(entries, indent=2) + "\n")


def find_release(releases_dir: Path, version: str) -> Release:
    for release in read_releases(releases_dir):
        if release.version == version:
            return release
    raise ReleaseError(f"no release {version}")


def activate(releases_dir: Path, version: str) -> Release:
    """Point `current` at a release's model after checking its files; the service loads it on start."""
    release = find_release(releases_dir, version)
    directory = model_dir(releases_dir, release.model_version)
    metadata = verify_artifact(directory)  # ArtifactError if the files disagree with each other
    if metadata.sha256 != release.model_sha256:
        # Files that agree with each other but not with the record were replaced together.
        raise ReleaseError(f"model {release.model_version} is not the file release {version} named")
    # A link named by the release, to its model: `current` then says which release is live.
    named = Path(releases_dir) / ACTIVE_DIR / release.version
    named.parent.mkdir(exist_ok=True)
    if not named.is_symlink():
        named.symlink_to(Path("..") / "models" / release.model_version, target_is_directory=True)
    # Make the new link beside the old one, then rename it over: `current` is never missing.
    link = Path(releases_dir) / CURRENT_LINK
    temporary = link.with_name(f".{CURRENT_LINK}-new")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(Path(ACTIVE_DIR) / release.version, target_is_directory=True)
    os.replace(temporary, link)
    return release


def active_release(releases_dir: Path) -> Release:
    """The release that `current` names (current -> active/<release>)."""
    target = os.readlink(Path(releases_dir) / CURRENT_LINK)
    for release in read_releases(releases_dir):
        if Path(target) == Path(ACTIVE_DIR) / release.version:
            return release
    raise ReleaseError(f"`current` points at {target}, which no release names")


def rollback(releases_dir: Path) -> Release:
    """Activate the release recorded just before the active one."""
    releases = read_releases(releases_dir)
    index = releases.index(active_release(releases_dir))
    if index == 0:
        raise ReleaseError(f"release {releases[0].version} is the first: nothing to roll back to")
    return activate(releases_dir, releases[index - 1].version)
