"""The wine classifier the book serves: training, a safe artifact on disk, verified loading."""

from examples.model.artifact import (
    ArtifactError,
    LoadedModel,
    ModelMetadata,
    default_model_dir,
    ensure_model,
    load_model,
    save_model,
)
from examples.model.training import (
    CLASS_NAMES,
    FEATURE_NAMES,
    MODEL_NAME,
    MODEL_VERSION,
    TrainingResult,
    load_wine_frame,
    split_data,
    train_model,
)

__all__ = [
    "CLASS_NAMES",
    "FEATURE_NAMES",
    "MODEL_NAME",
    "MODEL_VERSION",
    "ArtifactError",
    "LoadedModel",
    "ModelMetadata",
    "TrainingResult",
    "default_model_dir",
    "ensure_model",
    "load_model",
    "load_wine_frame",
    "save_model",
    "split_data",
    "train_model",
]
