"""The request side: a hook that names who is asking on the protected routes, and POST /v1/token."""

from __future__ import annotations

from flask import g, request
from pydantic import BaseModel, ConfigDict, Field

from examples.serving.errors import ApiError
from examples.serving.production.auth.config import (
    API_KEY_HEADER,
    PROTECTED_ROUTES,
    SETUP_HINT,
    AuthConfig,
    Principal,
)
from examples.serving.production.auth.credentials import check_api_key, check_token, issue_token
from examples.serving.production.auth.passwords import dummy_hash, verify_password
from examples.serving.request_parsing import validated_body


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


def unauthorized(message: str, error: str | None = None) -> ApiError:
    challenge = 'Bearer realm="wine-api"' + (f', error="{error}"' if error else "")
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def authenticate(config: AuthConfig) -> Principal:
    """The principal behind this request's credentials; raises a 401 ApiError if there is none."""
    key = request.headers.get(API_KEY_HEADER)
    if key:
        principal = check_api_key(config, key)
        if principal is None:
            raise unauthorized("The API key is not valid; check it, or ask for a new one.")
        return principal
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        principal = check_token(config, token.strip())
        if principal is None:
            raise unauthorized(
                "The bearer token is not valid or has expired; request a new one "
                "from POST /v1/token.",
                error="invalid_token",
            )
        return principal
    if not config.api_keys and not config.users:
        raise unauthorized(f"This service has no API keys configured yet: {SETUP_HINT}.")
    raise unauthorized(
        f"Send an API key in the {API_KEY_HEADER} header, or a token from "
        "POST /v1/token in the header Authorization: Bearer <token>."
    )


def require_credentials(config: AuthConfig):
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


def token_endpoint(config: AuthConfig):
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
        password_ok = verify_password(body.password, user.password_hash if user else dummy_hash())
        if user is None or not password_ok:
            raise unauthorized("The user name or password is wrong.")
        g.client_name = user.name
        return TokenResponse(
            access_token=issue_token(config, user),
            token_type="Bearer",  # noqa: S106 - a scheme name, not a password
            expires_in=config.token_lifetime_seconds,
            scope=" ".join(sorted(user.scopes)),
        ).model_dump()

    return token
