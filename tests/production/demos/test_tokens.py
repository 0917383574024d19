"""The token demonstrations of chapter 20 (examples/production/demos/tokens.py)."""

from __future__ import annotations

import jwt
import pytest

from examples.production.demos.tokens import read_without_verifying, with_claims

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
