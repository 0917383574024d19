"""The helpers of chapters 19-21."""

from __future__ import annotations

import jwt
import pytest

from examples.model import ensure_model
from examples.model.domain import middle_of_domain
from examples.production.demos.tokens import read_without_verifying, with_claims
from examples.production.dependency_pins import unpinned_requirements
from examples.toolbox import REPO_ROOT

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def test_a_token_can_be_read_without_its_secret():
    token = jwt.encode({"sub": "ada", "scope": "read"}, SECRET, algorithm="HS256")
    header, claims, signature = read_without_verifying(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims == {"sub": "ada", "scope": "read"}
    assert len(signature) == 32  # HMAC-SHA256


def test_a_changed_claim_breaks_the_signature():
    token = jwt.encode({"sub": "ada", "scope": "read"}, SECRET, algorithm="HS256")
    forged = with_claims(token, scope="predict")
    assert read_without_verifying(forged)[1]["scope"] == "predict"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, SECRET, algorithms=["HS256"])


def test_unpinned_requirements_are_found(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# comment\nflask==3.1.0\nnumpy>=1.0\nrequests\nuvicorn[standard]==0.30.0\n-e .\n"
    )
    assert unpinned_requirements(path) == ["numpy>=1.0", "requests"]


def test_the_repository_pins_every_requirement():
    assert unpinned_requirements(REPO_ROOT / "requirements.txt") == []


def test_the_middle_of_the_domain_is_inside_it():
    metadata = ensure_model().metadata
    wine = middle_of_domain(metadata)
    for name, value in wine.items():
        limits = metadata.domain[name]
        assert limits["allowed_min"] <= value <= limits["allowed_max"]
