"""The shapes of requests and responses, as pydantic models. The request models are generated from
the model's metadata: one strict, range-checked number per feature, and nothing else allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from examples.model import FEATURE_NAMES, ModelMetadata

# strict: "12.5" (a string) or true is not a number. extra="forbid": an unknown (often misspelt)
# field is an error, not silently ignored. allow_inf_nan=False: NaN and Infinity are refused.
STRICT_INPUT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def features_model(metadata: ModelMetadata | None) -> type[BaseModel]:
    """One float field per feature, bounded by the allowed range recorded when the model was trained."""
    fields = {}
    for name in metadata.features if metadata else FEATURE_NAMES:
        domain = metadata.domain[name] if metadata else {}
        low, high = domain.get("allowed_min"), domain.get("allowed_max")
        description = f"{name.replace('_', ' ')}, from {low} to {high}" if domain else name
        fields[name] = (float, Field(ge=low, le=high, description=description))
    return create_model("Features", __config__=STRICT_INPUT, **fields)


class ErrorDetail(BaseModel):
    field: str = Field(description="Where the problem is, as a dotted path: features.alcohol")
    problem: str = Field(description="What is wrong with it")


class ErrorBody(BaseModel):
    status: int = Field(
        description="The HTTP status code again, for clients that log only the body"
    )
    code: str = Field(
        description="A stable, machine-readable name: validation_error, not_found, ..."
    )
    message: str = Field(description="One sentence a person can act on")
    details: list[ErrorDetail] = Field(
        default_factory=list,
        description="One entry per field at fault, filled for a 422 validation error; empty otherwise",
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


# Every stored prediction has its own id (production/storage), returned with it.
PREDICTION_ID = "This prediction's own id, the key under which it is stored"


class PredictionResponse(BaseModel):
    prediction_id: str = Field(description=PREDICTION_ID)
    prediction: str = Field(description="The most probable class")
    probabilities: dict[str, float] = Field(description="Probability of every class; they sum to 1")
    model_version: str


class BatchItem(BaseModel):
    prediction_id: str = Field(description=PREDICTION_ID)
    prediction: str
    probabilities: dict[str, float]


class BatchPredictionResponse(BaseModel):
    predictions: list[BatchItem] = Field(description="One result per instance, in the same order")
    model_version: str
    count: int


class HealthResponse(BaseModel):
    status: Literal["ok"]


class ReadinessResponse(BaseModel):
    status: Literal["ready"]
    model_version: str


class FeatureInfo(BaseModel):
    name: str
    allowed_min: float
    allowed_max: float


class ModelInfo(BaseModel):
    name: str
    version: str
    created_at: str
    features: list[FeatureInfo]
    classes: list[str]
    metrics: dict[str, float] = Field(description="Measured on the held-out test split")


@dataclass(frozen=True)
class Schemas:
    """The request models of one app, built for its model and its batch limit."""

    features: type[BaseModel]
    prediction_request: type[BaseModel]
    batch_request: type[BaseModel]


def build_schemas(metadata: ModelMetadata | None, max_batch_size: int) -> Schemas:
    """The request models for this model's features and this batch limit."""
    features = features_model(metadata)
    prediction_request = create_model(
        "PredictionRequest", __config__=STRICT_INPUT, features=(features, Field())
    )
    batch_request = create_model(
        "BatchPredictionRequest",
        __config__=STRICT_INPUT,
        instances=(list[features], Field(min_length=1, max_length=max_batch_size)),
    )
    return Schemas(features, prediction_request, batch_request)
