"""Read a JWT's three parts without the secret: what anyone holding the token can see."""

from __future__ import annotations

import base64
import json


def base64url_decode(segment: str) -> bytes:
    """Undo base64url without padding, the encoding of each part of a JWT (RFC 7515)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def read_without_verifying(token: str) -> tuple[dict, dict, bytes]:
    """The header and the claims as dicts, and the signature's raw bytes. Checks nothing."""
    header, payload, signature = token.split(".")
    return (
        json.loads(base64url_decode(header)),
        json.loads(base64url_decode(payload)),
        base64url_decode(signature),
    )


def base64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_claims(token: str, **changes) -> str:
    """The same token with some claims changed and the old signature kept: a forgery."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64url_decode(payload)) | changes
    new_payload = base64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{new_payload}.{signature}"
