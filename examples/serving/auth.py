"""Who is asking: API keys and signed tokens, checked before any prediction is made.

Two ways to prove who you are:
- an API key, a long random string sent in the `X-API-Key` header. We keep only its SHA-256
  digest (from SERVING_API_KEY_HASHES="name:hexdigest,..."), so a leaked configuration does not
  leak the keys; a key is a random 256-bit string, so a fast hash is enough to protect it.
- a JWT bearer token (`Authorization: Bearer ...`), issued by `POST /v1/token` to a named user
  whose password matches its scrypt hash in SERVING_USERS="name:scope+scope:hash,...". A token is
  signed with SERVING_JWT_SECRET and says who it is for (`sub`), what it allows (`scope`), who
  issued it (`iss`), for which service (`aud`) and until when (`exp`).

401 means "we do not know who you are"; 403 means "we know, and you may not do this".

Command line:
    python -m examples.serving.auth new-key NAME        # a new API key and its environment line
    python -m examples.serving.auth hash-password NAME SCOPES   # reads the password from stdin
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from flask import Flask, g, request
from pydantic import BaseModel, ConfigDict, Field

from examples.serving.errors import ApiError, validated_body

API_KEY_HEADER = "X-API-Key"
PREDICT_SCOPE = "predict"
# Route patterns that need a credential, and the scope a token must carry for them. Health,
# readiness, docs, the OpenAPI document, model information and metrics stay open.
PROTECTED_ROUTES = {"/v1/predict": PREDICT_SCOPE, "/v1/predict/batch": PREDICT_SCOPE}
# scrypt's cost: N=2**14, r=8 takes about 16 MiB of memory and tens of milliseconds per guess.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SETUP_HINT = (
    "run `python -m examples.serving.auth new-key NAME` and put the line it prints in the "
    "environment (or in .env, which `make serve` reads)"
)


class ConfigurationError(ValueError):
    """An authentication setting is malformed."""


class TokenRequest(BaseModel):
    """The body of POST /v1/token."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str = Field(description="Send it as: Authorization: Bearer <access_token>")
    token_type: str = Field(description="Always Bearer")
    expires_in: int = Field(description="Seconds until the token expires")
    scope: str = Field(description="What the token allows, space-separated")


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
    jwt_issuer: str = "serving-ml-book"
    jwt_audience: str = "wine-api"
    token_lifetime_seconds: int = 900

    @classmethod
    def parse(
        cls,
        *,
        enabled: bool = True,
        api_key_hashes: str = "",
        users: str = "",
        jwt_secret: str = "",
        token_lifetime_seconds: int = 900,
        **others,
    ) -> AuthConfig:
        if jwt_secret and len(jwt_secret) < 32:
            raise ConfigurationError("SERVING_JWT_SECRET must be at least 32 characters long")
        return cls(
            enabled=enabled,
            api_keys=parse_api_key_hashes(api_key_hashes),
            users=parse_users(users),
            jwt_secret=jwt_secret,
            token_lifetime_seconds=token_lifetime_seconds,
            **others,
        )


def _entries(text: str) -> list[str]:
    return [entry.strip() for entry in text.split(",") if entry.strip()]


def parse_api_key_hashes(text: str) -> tuple[tuple[str, bytes], ...]:
    """'alice:9f86d0...,bob:...' into (name, digest) pairs."""
    keys = []
    for entry in _entries(text):
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
    """'alice:predict+read:scrypt-16384-8-1-SALT-HASH,...' into users."""
    users = []
    for entry in _entries(text):
        parts = entry.split(":")
        if len(parts) != 3 or not parts[0] or not parts[2].startswith("scrypt-"):
            raise ConfigurationError("SERVING_USERS entries must be NAME:SCOPE+SCOPE:scrypt-...")
        users.append(User(parts[0], frozenset(filter(None, parts[1].split("+"))), parts[2]))
    return tuple(users)


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    """32 random bytes from the operating system's generator, as URL-safe text."""
    return secrets.token_urlsafe(32)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A slow, salted hash of a password: scrypt-N-r-p-SALT-HASH (hex)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt-{SCRYPT_N}-{SCRYPT_R}-{SCRYPT_P}-{salt.hex()}-{digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Recompute the hash with the stored salt and cost, and compare in constant time."""
    try:
        _, n, r, p, salt, expected = stored.split("-")
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, bytes.fromhex(expected))


# Checked when the user name is unknown, so that "no such user" takes as long as "wrong password"
# and the response time does not reveal which names exist.
_DUMMY_HASH = "scrypt-16384-8-1-" + "00" * 16 + "-" + "00" * 64


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
    """The token's subject and scopes if its signature, issuer, audience and expiry are right."""
    if not config.jwt_secret:
        return None
    try:
        claims = jwt.decode(
            token,
            config.jwt_secret,
            algorithms=["HS256"],  # never let the token choose its own algorithm
            audience=config.jwt_audience,
            issuer=config.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None
    return Principal(str(claims["sub"]), frozenset(str(claims.get("scope", "")).split()), "token")


def _unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="wine-api"' + (f', error="{error}"' if error else "")
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def authenticate(config: AuthConfig) -> Principal:
    """The principal behind this request's credentials; raises a 401 ApiError if there is none."""
    key = request.headers.get(API_KEY_HEADER)
    authorization = request.headers.get("Authorization", "")
    if key:
        principal = check_api_key(config, key)
        if principal is None:
            raise _unauthorized("The API key is not valid; check it, or ask for a new one.")
        return principal
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        principal = check_token(config, token.strip())
        if principal is None:
            raise _unauthorized(
                "The bearer token is not valid or has expired; request a new one "
                "from POST /v1/token.",
                error="invalid_token",
            )
        return principal
    if not config.api_keys and not config.users:
        raise _unauthorized(f"This service has no API keys configured yet: {SETUP_HINT}.")
    raise _unauthorized(
        f"Send an API key in the {API_KEY_HEADER} header, or a token from "
        "POST /v1/token in the header Authorization: Bearer <token>."
    )


def _require_credentials(config: AuthConfig):
    def check() -> None:
        rule = request.url_rule.rule if request.url_rule else None
        needed = PROTECTED_ROUTES.get(rule)
        if needed is None or not config.enabled:
            return
        principal = authenticate(config)
        g.principal = principal
        g.client_name = principal.name
        if needed not in principal.scopes:
            raise ApiError(
                403,
                f"Your credentials are valid but lack the scope {needed!r} this endpoint needs.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="wine-api", error="insufficient_scope", scope="{needed}"'
                },
            )

    return check


def _token_endpoint(config: AuthConfig):
    users = {user.name: user for user in config.users}

    def token():
        if not config.jwt_secret:
            raise ApiError(
                503,
                "Token issuing is not configured: set SERVING_JWT_SECRET to a "
                "random string of at least 32 characters.",
            )
        body = validated_body(TokenRequest)
        user = users.get(body.username)
        password_ok = verify_password(body.password, user.password_hash if user else _DUMMY_HASH)
        if user is None or not password_ok:
            raise _unauthorized("The user name or password is wrong.")
        g.client_name = user.name
        return TokenResponse(
            access_token=issue_token(config, user),
            token_type="Bearer",  # noqa: S106 - a scheme name, not a password
            expires_in=config.token_lifetime_seconds,
            scope=" ".join(sorted(user.scopes)),
        ).model_dump()

    return token


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def document(openapi: dict) -> None:
    """Add the token endpoint and the two credentials to the service's OpenAPI document."""
    components = openapi["components"]
    template = "#/components/schemas/{model}"
    for model in (TokenRequest, TokenResponse):
        components["schemas"][model.__name__] = model.model_json_schema(ref_template=template)
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
        "BearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    }
    for path in PROTECTED_ROUTES:
        operation = openapi["paths"][path]["post"]
        operation["security"] = [{"ApiKey": []}, {"BearerToken": []}]
        operation["responses"]["401"] = _error("No credentials, or credentials that are not valid")
        operation["responses"]["403"] = _error("A token without the scope this route needs")
    openapi["paths"]["/v1/token"] = {
        "post": {
            "summary": "Exchange a user name and password for a bearer token",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": template.format(model="TokenRequest")}}
                },
            },
            "responses": {
                "200": {
                    "description": "Success",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": template.format(model="TokenResponse")}
                        }
                    },
                },
                "401": _error("The user name or password is wrong"),
                "422": _error("The body does not match the schema"),
                "503": _error("Token issuing is not configured"),
            },
        }
    }


def init_app(app: Flask, config: AuthConfig) -> None:
    """Require credentials on the prediction routes, and issue tokens at POST /v1/token."""
    app.extensions["auth"] = config
    app.before_request(_require_credentials(config))
    app.add_url_rule("/v1/token", "token", _token_endpoint(config), methods=["POST"])
    if "serving.openapi" in app.extensions:
        document(app.extensions["serving.openapi"])


def write_dev_env(env_path: Path, key_path: Path) -> str | None:
    """Create a local .env with a fresh API key's hash and a JWT secret, unless it exists.

    Returns the new key (also saved, readable by its owner only, in `key_path`), or None.
    """
    if env_path.exists():
        return None
    key = new_api_key()
    env_path.write_text(
        "# Made by `make serve` on first run, for this machine only (git ignores it).\n"
        f"SERVING_API_KEY_HASHES=dev:{sha256_hex(key)}\n"
        f"SERVING_JWT_SECRET={secrets.token_urlsafe(48)}\n"
    )
    env_path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_text(key + "\n")
    key_path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.serving.auth")
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-key", help="print a new API key and its environment line")
    new_key.add_argument("name")
    password = commands.add_parser("hash-password", help="hash a password read from stdin")
    password.add_argument("name")
    password.add_argument("scopes", help="scopes joined by +, for example predict")
    dev = commands.add_parser("dev-env", help="create .env with a development key if missing")
    dev.add_argument("--env", default=".env")
    dev.add_argument("--key-file", default="var/dev-api-key")
    arguments = parser.parse_args(argv)

    if arguments.command == "new-key":
        key = new_api_key()
        print(f"API key for {arguments.name} (give it to the client; it is not stored anywhere):")
        print(f"  {key}")
        print("Add to the service's environment (append to SERVING_API_KEY_HASHES with a comma):")
        print(f"  SERVING_API_KEY_HASHES={arguments.name}:{sha256_hex(key)}")
    elif arguments.command == "hash-password":
        secret = sys.stdin.readline().rstrip("\n")
        print(f"SERVING_USERS={arguments.name}:{arguments.scopes}:{hash_password(secret)}")
    else:
        key = write_dev_env(Path(arguments.env), Path(arguments.key_file))
        if key is None:
            print(
                f"Using the existing {arguments.env}; the development key is in {arguments.key_file}."
            )
        else:
            print(
                f"Created {arguments.env} with a development API key (saved in {arguments.key_file}):"
            )
            print(f"  {key}")
            print(f'  curl -H "X-API-Key: $(cat {arguments.key_file})" ...')
    return 0


if __name__ == "__main__":
    sys.exit(main())
