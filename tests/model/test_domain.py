"""Points inside the allowed domain (examples/model/domain.py)."""

from __future__ import annotations

from examples.model import ensure_model
from examples.model.domain import middle_of_domain

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_the_middle_of_the_domain_is_inside_it():
    metadata = ensure_model().metadata
    wine = middle_of_domain(metadata)
    for name, value in wine.items():
        limits = metadata.domain[name]
        assert limits["allowed_min"] <= value <= limits["allowed_max"]
