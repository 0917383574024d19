"""The two credentials: API keys (compared as SHA-256 digests) and signed JWT bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import jwt

from examples.serving.production.auth.config import PREDICT_SCOPE, AuthConfig, Principal, User


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """32 random bytes from the operating system's generator, as URL-safe text."""
    return secrets.token_urlsafe(32)


def check_api_key(config: AuthConfig, presented: str) -> Principal | None:
    """The key's owner, or None. Every configured digest is compared, in constant time each."""
    digest = hashlib.sha256(presented.encode()).digest()
    owner = None
    for name, expected in config.api_keys:
        # compare_digest takes as long for a near miss as for a far one, so timing reveals nothing.
        if hmac.compare_digest(digest, expected):
            owner = name
    return Principal(owner, frozenset({PREDICT_SCOPE}), "api_key") if owner else None


def issue_token(config: AuthConfig, user: User, now: float | None = None) -> str:
    """A token for `user`, always signed with the current secret."""
    now = time.time() if now is None else now
    claims = {
        "sub": user.name,
        "scope": " ".join(sorted(user.scopes)),
        "iss": config.jwt_issuer,
        "aud": config.jwt_audience,
        "iat": int(now),
        "exp": int(now) + config.token_lifetime_seconds,
    }
    return jwt.encode(claims, config.jwt_secret, algorithm="HS256")


def check_token(config: AuthConfig, token: str) -> Principal | None:
    """The token's subject and scopes if its signature (by the current or the previous secret),
    issuer, audience and times are right; exp and iat are allowed the configured leeway."""
    for secret in config.verification_secrets:
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=["HS256"],  # never let the token choose its own algorithm
                audience=config.jwt_audience,
                issuer=config.jwt_issuer,
                leeway=config.jwt_leeway_seconds,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.InvalidSignatureError:
            continue  # perhaps signed with the other secret
        except jwt.InvalidTokenError:
            return None
        scopes = frozenset(str(claims.get("scope", "")).split())
        return Principal(str(claims["sub"]), scopes, "token")
    return None
