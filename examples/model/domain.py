"""Points inside the model's allowed input domain, for examples and tests."""

from __future__ import annotations

from examples.model.artifact import ModelMetadata


def middle_of_domain(metadata: ModelMetadata) -> dict[str, float]:
    """A valid wine: each feature at the middle of its allowed range."""
    return {
        name: round((limits["allowed_min"] + limits["allowed_max"]) / 2, 3)
        for name, limits in metadata.domain.items()
    }
