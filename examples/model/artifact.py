"""The model on disk: a skops file plus a metadata file, and loading that checks one against the other.

Why skops and not pickle: loading a pickle runs whatever code the file names (chapter 7 shows it).
skops stores the same objects but refuses to build any type not on a trusted list.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import platform
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sklearn
import skops
import skops.io

from examples.model.training import (
    CLASS_NAMES,
    FEATURE_NAMES,
    MODEL_NAME,
    MODEL_VERSION,
    TrainingResult,
    train_model,
)

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
# The only types our artifact may name, besides plain data (containers, strings, numbers, arrays).
# skops on its own refuses types outside its default trusted list, but that list admits every
# scikit-learn estimator, whatever `trusted` says; load_model also refuses anything not listed here.
TRUSTED_TYPES = [
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "numpy.dtype",
    "numpy.ndarray",
    "builtins.str",
]
# skops nodes that hold plain data rather than naming a class or a function to build.
PLAIN_DATA_NODES = {"DictNode", "ListNode", "TupleNode", "JsonNode", "NdArrayNode"}
# The library versions whose exact match we require: a model trained under one version of
# scikit-learn is not guaranteed to predict the same under another.
CHECKED_LIBRARIES = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}


class ArtifactError(ValueError):
    """The model files are missing, altered, or were made with other library versions."""


@dataclass
class ModelMetadata:
    """Everything a reader, or the service, needs to know about one trained model."""

    name: str
    version: str
    created_at: str
    features: list[str]
    classes: list[str]
    domain: dict[str, dict[str, float]]
    metrics: dict[str, float]
    libraries: dict[str, str]
    sha256: str
    model_file: str = MODEL_FILE
    n_train: int = 0
    n_test: int = 0
    # Older metadata files have no types: every feature was a float64 then too.
    feature_types: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(FEATURE_NAMES, "float64")
    )
    trusted_types: list[str] = field(default_factory=lambda: list(TRUSTED_TYPES))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: Path) -> ModelMetadata:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise ArtifactError(f"metadata file {path.name} is missing") from None
        except (TypeError, json.JSONDecodeError) as error:
            raise ArtifactError(f"metadata file {path.name} is not valid: {error}") from None


@dataclass
class LoadedModel:
    """A verified pipeline together with its metadata."""

    pipeline: object
    metadata: ModelMetadata


def sha256_of(path: Path) -> str:
    """The SHA-256 digest of a file: any change to the file changes it."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_dir() -> Path:
    """Where the model lives: $SERVING_MODEL_DIR, else models/ at the repository's root."""
    configured = os.environ.get("SERVING_MODEL_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "models" / MODEL_NAME


def _library_versions() -> dict[str, str]:
    return {**CHECKED_LIBRARIES, "skops": skops.__version__, "python": platform.python_version()}


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file, then rename: a reader never sees half a file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as temporary:
        temporary.write(data)
    # A temporary file is private to its owner (mode 0600); a model is read by the service,
    # which may run as another user (a container's non-root user, say).
    os.chmod(temporary.name, 0o644)
    os.replace(temporary.name, path)


def save_model(result: TrainingResult, directory: Path | str | None = None) -> ModelMetadata:
    """Write the pipeline with skops and, beside it, the metadata that describes and checks it."""
    directory = Path(directory) if directory else default_model_dir()
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    _write_atomically(model_path, skops.io.dumps(result.pipeline))
    metadata = ModelMetadata(
        name=MODEL_NAME,
        version=MODEL_VERSION,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        features=list(FEATURE_NAMES),
        classes=list(CLASS_NAMES),
        domain=result.domain,
        metrics=result.metrics,
        libraries=_library_versions(),
        sha256=sha256_of(model_path),
        n_train=result.n_train,
        n_test=result.n_test,
        feature_types=result.feature_types or dict.fromkeys(FEATURE_NAMES, "float64"),
    )
    _write_atomically(directory / METADATA_FILE, metadata.to_json().encode())
    return metadata


def check_expected_digest(actual: str, expected: str | None, name: str = MODEL_FILE) -> None:
    """Refuse a model whose digest is not the one the release named (SERVING_MODEL_SHA256).

    The digest in metadata.json only shows that the two files agree: whoever can write the
    folder can replace both. An expected digest kept elsewhere (the release record, the image,
    the deployment's settings) is out of that writer's reach."""
    if expected and actual != expected.strip().lower():
        raise ArtifactError(
            f"model file {name} has sha256 {actual[:12]}…, but the expected digest "
            f"(SERVING_MODEL_SHA256) is {expected.strip().lower()[:12]}…: "
            "this is not the model that was released"
        )


def verify_artifact(directory: Path, expected_sha256: str | None = None) -> ModelMetadata:
    """Check the files against each other, against the expected digest when one is given, and
    against this environment; raise ArtifactError if not."""
    metadata = ModelMetadata.from_file(directory / METADATA_FILE)
    model_path = directory / metadata.model_file
    if not model_path.exists():
        raise ArtifactError(f"model file {metadata.model_file} is missing")
    actual = sha256_of(model_path)
    check_expected_digest(actual, expected_sha256, metadata.model_file)
    if actual != metadata.sha256:
        raise ArtifactError(
            f"model file {metadata.model_file} has sha256 {actual[:12]}…, but the metadata "
            f"records sha256 {metadata.sha256[:12]}…: the file was changed after training"
        )
    for library, installed in CHECKED_LIBRARIES.items():
        recorded = metadata.libraries.get(library)
        if recorded != installed:
            raise ArtifactError(
                f"model was trained with {library} {recorded}, but {installed} is installed: "
                f"retrain it (make model) or install {library}=={recorded}"
            )
    return metadata


def types_named_in(model: Path | bytes) -> set[str]:
    """Every 'module.name' that a skops file (a path, or its bytes) asks to build, plain data
    aside; read, never loaded."""
    name = model.name if isinstance(model, Path) else MODEL_FILE
    try:
        source = model if isinstance(model, Path) else io.BytesIO(model)
        with zipfile.ZipFile(source) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise ArtifactError(f"model file {name} is not a skops file: {error}") from None
    named, pending = set(), [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if "__class__" in node and node.get("__loader__") not in PLAIN_DATA_NODES:
                named.add(f"{node.get('__module__')}.{node['__class__']}")
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return named


def load_model(
    directory: Path | str | None = None, expected_sha256: str | None = None
) -> LoadedModel:
    """Load a model that passes every check, never through pickle. With `expected_sha256`, only
    the model with that digest is accepted, whatever its metadata says."""
    directory = Path(directory) if directory else default_model_dir()
    metadata = verify_artifact(directory, expected_sha256)
    # The bytes checked are the bytes loaded: read once, so a file swapped after the check above
    # is never the one built.
    data = (directory / metadata.model_file).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != metadata.sha256:
        raise ArtifactError(f"model file {metadata.model_file} changed while it was being loaded")
    check_expected_digest(actual, expected_sha256, metadata.model_file)
    named = types_named_in(data) | set(skops.io.get_untrusted_types(data=data))
    untrusted = named - set(TRUSTED_TYPES)
    if untrusted:
        raise ArtifactError(f"model file contains types that are not trusted: {sorted(untrusted)}")
    pipeline = skops.io.loads(data, trusted=TRUSTED_TYPES)
    return LoadedModel(pipeline=pipeline, metadata=metadata)


@contextlib.contextmanager
def _exclusive_lock(directory: Path):
    """Only one process trains at a time; the others wait, then load what it wrote."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def ensure_model(
    directory: Path | str | None = None, retrain: bool = False, expected_sha256: str | None = None
) -> LoadedModel:
    """Load the model, training and saving it first when it is missing (a fresh clone needs no step).

    A model that exists but fails its checks is not silently replaced: that raises ArtifactError.
    With `expected_sha256` nothing is trained: a new model could not have the released digest.
    """
    directory = Path(directory) if directory else default_model_dir()
    if expected_sha256 and not retrain:
        return load_model(directory, expected_sha256)
    if not retrain and (directory / METADATA_FILE).exists() and not os.access(directory, os.W_OK):
        # A read-only folder (a container image, say): no lock file can be made, and none is
        # needed, as nothing can train into it or swap its files.
        return load_model(directory)
    # Loading under the lock too: another process retraining cannot swap the files mid-load.
    with _exclusive_lock(directory):
        if retrain or not (directory / METADATA_FILE).exists():
            save_model(train_model(), directory)
        return load_model(directory)
