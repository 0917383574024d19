"""Who is asking: API keys and signed tokens, checked before any prediction is made.

Two ways to prove who you are:
- an API key, a long random string sent in the `X-API-Key` header. We keep only its SHA-256
  digest (from SERVING_API_KEY_HASHES="name:hexdigest,..."), so a leaked configuration does not
  leak the keys; a key is a random 256-bit string, so a fast hash is enough to protect it.
- a JWT bearer token (`Authorization: Bearer ...`), issued by `POST /v1/token` to a named user
  whose password matches its Argon2id hash in SERVING_USERS="name:scope+scope:hash,...". A token
  is signed with SERVING_JWT_SECRET and says who it is for (`sub`), what it allows (`scope`), who
  issued it (`iss`), for which service (`aud`) and until when (`exp`).

401 means "we do not know who you are"; 403 means "we know, and you may not do this".
The modules, one concern each: config (parsing the settings), passwords, credentials (keys and
tokens), hooks (the request hook and the token route), openapi_fragment, cli (`python -m examples.serving auth new-key NAME`, `hash-password NAME SCOPES`, `dev-env`).
"""

from flask import Flask

from examples.serving.production.auth.config import (
    API_KEY_HEADER,
    PREDICT_SCOPE,
    PROTECTED_ROUTES,
    TOKEN_ROUTE,
    AuthConfig,
    ConfigurationError,
    Principal,
    User,
    parse_api_key_hashes,
    parse_users,
)
from examples.serving.production.auth.credentials import (
    check_api_key,
    check_token,
    issue_token,
    new_api_key,
    sha256_hex,
)
from examples.serving.production.auth.hooks import (
    TokenRequest,
    TokenResponse,
    authenticate,
    require_credentials,
    token_endpoint,
)
from examples.serving.production.auth.openapi_fragment import document
from examples.serving.production.auth.passwords import hash_password, needs_rehash, verify_password

__all__ = [
    "API_KEY_HEADER",
    "PREDICT_SCOPE",
    "PROTECTED_ROUTES",
    "TOKEN_ROUTE",
    "AuthConfig",
    "ConfigurationError",
    "Principal",
    "TokenRequest",
    "TokenResponse",
    "User",
    "authenticate",
    "check_api_key",
    "check_token",
    "hash_password",
    "init_app",
    "issue_token",
    "needs_rehash",
    "new_api_key",
    "parse_api_key_hashes",
    "parse_users",
    "sha256_hex",
    "verify_password",
]


def init_app(app: Flask, config: AuthConfig) -> None:
    """Require credentials on the prediction routes, and issue tokens at POST /v1/token."""
    app.extensions["auth"] = config
    app.before_request(require_credentials(config))
    app.add_url_rule(TOKEN_ROUTE, "token", token_endpoint(config), methods=["POST"])
    if "serving.openapi" in app.extensions:
        document(app.extensions["serving.openapi"])
