"""Who may ask, parsed from the SERVING_* strings: API key digests, users, and the token settings."""

from __future__ import annotations

import re
from dataclasses import dataclass

API_KEY_HEADER = "X-API-Key"
PREDICT_SCOPE = "predict"
# Route patterns that need a credential, and the scope a token must carry for them. Health,
# readiness, docs, the OpenAPI document, model information and metrics stay open.
PROTECTED_ROUTES = {"/v1/predict": PREDICT_SCOPE, "/v1/predict/batch": PREDICT_SCOPE}
TOKEN_ROUTE = "/v1/token"  # noqa: S105 - a route, not a password
SETUP_HINT = (
    "run `python -m examples.serving auth new-key NAME` and put the line it prints in the "
    "environment (or in .env, which `make serve` reads)"
)
# Users are separated by newlines, or by a comma that starts a new NAME:SCOPES: entry. A plain
# split on commas would cut Argon2's hashes, which contain commas ($argon2id$v=19$m=...,t=2,p=1$).
_NEXT_USER = re.compile(r"\n|,(?=\s*[\w.@-]+:[\w+]*:)")


class ConfigurationError(ValueError):
    """An authentication setting is malformed."""


@dataclass(frozen=True)
class Principal:
    """Someone who proved who they are: a name and the scopes they were granted."""

    name: str
    scopes: frozenset[str]
    method: str  # "api_key" or "token"


@dataclass(frozen=True)
class User:
    name: str
    scopes: frozenset[str]
    password_hash: str


@dataclass(frozen=True)
class AuthConfig:
    """Everything authentication needs, parsed from the SERVING_* strings."""

    enabled: bool = True
    api_keys: tuple[tuple[str, bytes], ...] = ()  # (name, SHA-256 digest)
    users: tuple[User, ...] = ()
    jwt_secret: str = ""
    # During a rotation: tokens signed with it are still accepted; new ones are never signed with it.
    jwt_previous_secret: str = ""
    jwt_issuer: str = "serving-ml-book"
    jwt_audience: str = "wine-api"
    token_lifetime_seconds: int = 900
    # Clock skew allowed on exp and iat, for tokens checked on a host whose clock differs a little.
    jwt_leeway_seconds: float = 5

    @classmethod
    def parse(
        cls,
        *,
        enabled: bool = True,
        api_key_hashes: str = "",
        users: str = "",
        jwt_secret: str = "",
        jwt_previous_secret: str = "",
        **others,
    ) -> AuthConfig:
        for name, secret in (
            ("JWT_SECRET", jwt_secret),
            ("JWT_PREVIOUS_SECRET", jwt_previous_secret),
        ):
            if secret and len(secret) < 32:
                raise ConfigurationError(f"SERVING_{name} must be at least 32 characters long")
        if jwt_previous_secret and not jwt_secret:
            raise ConfigurationError("SERVING_JWT_PREVIOUS_SECRET needs SERVING_JWT_SECRET as well")
        return cls(
            enabled=enabled,
            api_keys=parse_api_key_hashes(api_key_hashes),
            users=parse_users(users),
            jwt_secret=jwt_secret,
            jwt_previous_secret=jwt_previous_secret,
            **others,
        )

    @property
    def verification_secrets(self) -> tuple[str, ...]:
        """The secrets a token may be signed with: the current one first."""
        return tuple(secret for secret in (self.jwt_secret, self.jwt_previous_secret) if secret)


def parse_api_key_hashes(text: str) -> tuple[tuple[str, bytes], ...]:
    """'alice:9f86d0...,bob:...' into (name, digest) pairs."""
    keys = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, _, digest = entry.partition(":")
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raw = b""
        if not name or len(raw) != 32:
            raise ConfigurationError(
                f"SERVING_API_KEY_HASHES entry for {name or '?'!r} is not NAME:64-hex-digit-sha256"
            )
        keys.append((name, raw))
    return tuple(keys)


def parse_users(text: str) -> tuple[User, ...]:
    """'alice:predict+read:$argon2id$...,bob:...' (or one user per line) into users."""
    users = []
    for entry in filter(None, (part.strip() for part in _NEXT_USER.split(text))):
        name, _, rest = entry.partition(":")
        scopes, _, password_hash = rest.partition(":")
        if not name or not password_hash.startswith(("$argon2id$", "scrypt-")):
            raise ConfigurationError(
                "SERVING_USERS entries must be NAME:SCOPE+SCOPE:HASH, with a hash from "
                "`python -m examples.serving auth hash-password`"
            )
        users.append(User(name, frozenset(filter(None, scopes.split("+"))), password_hash))
    return tuple(users)
