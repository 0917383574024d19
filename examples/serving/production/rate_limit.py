"""How often each client may ask, in three limits that hold across all gunicorn workers, each
answered with 429 and a Retry-After header when it is exceeded:

- before any credential is checked, an address whose recent requests failed authentication too
  often is refused at once, which caps how fast one address can try keys or tokens (it saves
  little work per request: a key check is one SHA-256; a flood's volume belongs to the proxy);
- POST /v1/token, where each attempt costs a slow password hash, has a strict limit per address
  and per user name, spent before the password is checked;
- after authentication, each client (API key, user, or address when authentication is off) has
  an allowance counted in rows: a batch of 1,000 rows costs 1,000.

The allowances themselves are kept by allowances.RateLimiter (a SQLite file the workers of one
machine share) or allowances.RedisRateLimiter (a Redis server every instance shares).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import orjson
from flask import Flask, Response, g, request

from examples.serving.errors import ApiError
from examples.serving.production.allowances import RateLimiter, RedisRateLimiter, store_errors
from examples.serving.production.auth import PROTECTED_ROUTES, TOKEN_ROUTE

LIMITED_ROUTES = frozenset(PROTECTED_ROUTES) | {TOKEN_ROUTE}


@dataclass(frozen=True)
class Limits:
    """The three limiters of the service (see the module's docstring), usually on one file."""

    clients: RateLimiter | RedisRateLimiter  # rows per client, after authentication
    logins: RateLimiter | RedisRateLimiter  # POST /v1/token attempts, per address and user name
    failures: RateLimiter | RedisRateLimiter  # failed credentials per address, checked first


def client_address() -> str:
    """The address a request came from. Behind a proxy, app.py's ProxyFix (SERVING_TRUSTED_PROXY_HOPS)
    has already replaced remote_addr with the client's address from X-Forwarded-For, counting
    only the hops it trusts; with 0 hops it is the proxy's own address."""
    return request.remote_addr or "unknown"


def client_identity() -> str:
    """Whom to count this request against: the authenticated name, else the network address."""
    principal = g.get("principal")
    if principal is not None:
        return f"{principal.method}:{principal.name}"
    return f"address:{client_address()}"


def rows_in_request() -> int:
    """What a request costs: one per row of a batch, one for anything else (the route's own
    validation refuses what is malformed; this only counts)."""
    if request.url_rule is None or not request.url_rule.rule.endswith("/batch"):
        return 1
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError:
        return 1
    instances = body.get("instances") if isinstance(body, dict) else None
    return max(1, len(instances)) if isinstance(instances, list) else 1


def too_many(wait: float, who: str) -> ApiError:
    seconds = max(1, math.ceil(wait))  # Retry-After takes whole seconds
    return ApiError(
        429,
        f"Too many requests from {who}; retry after {seconds} s.",
        headers={"Retry-After": str(seconds)},
    )


STORE_ERRORS = store_errors()


def _store_unavailable() -> ApiError:
    return ApiError(503, "The rate limiter is unavailable; retry in a moment.")


def _route() -> str | None:
    return request.url_rule.rule if request.url_rule else None


def _spend(limiter: RateLimiter | RedisRateLimiter, client: str, cost: int = 1) -> float:
    try:
        return limiter.spend(client, cost=cost)
    except STORE_ERRORS as error:
        raise _store_unavailable() from error


def _refuse_repeated_failures(limits: Limits):
    def check() -> None:
        if _route() not in PROTECTED_ROUTES:
            return
        try:
            wait = limits.failures.wait(f"failed:{client_address()}")
        except STORE_ERRORS as error:
            raise _store_unavailable() from error
        if wait > 0:
            raise too_many(wait, "this address, after too many failed credentials")

    return check


def _count_failures(limits: Limits):
    def count(response: Response) -> Response:
        if response.status_code == 401 and _route() in PROTECTED_ROUTES:
            try:
                limits.failures.spend(f"failed:{client_address()}")
            except STORE_ERRORS:
                pass  # the 401 stands; only the count is lost
        return response

    return count


def _login_name() -> str | None:
    try:
        body = orjson.loads(request.get_data(cache=True))
    except orjson.JSONDecodeError:
        return None
    name = body.get("username") if isinstance(body, dict) else None
    return name[:64] if isinstance(name, str) and name else None


def _limit_logins(limits: Limits):
    def check() -> None:
        if _route() != TOKEN_ROUTE:
            return
        # Spent before the password is hashed, so a guesser pays before the server does.
        wait = _spend(limits.logins, f"login-address:{client_address()}")
        if wait > 0:
            raise too_many(wait, "this address at the token route")
        name = _login_name()
        if name is not None and (wait := _spend(limits.logins, f"login-user:{name}")) > 0:
            raise too_many(wait, "attempts for this user name")

    return check


def _limit_clients(limits: Limits):
    def check() -> None:
        if _route() not in PROTECTED_ROUTES:
            return
        rows = rows_in_request()
        if rows > limits.clients.burst:
            # 413, not 429: no wait can make it fit, and clients retry a 429 (chapter 5's do).
            raise ApiError(
                413,
                f"A batch of {rows} rows is more than this client may send at once "
                f"({limits.clients.burst} rows); split it into smaller batches.",
            )
        wait = _spend(limits.clients, client_identity(), cost=rows)
        if wait > 0:
            raise too_many(wait, f"this client, asking for {rows} row{'s' * (rows != 1)}")

    return check


def init_before_auth(app: Flask, limits: Limits) -> None:
    """The limits that must act before credentials are checked. Register before auth.init_app."""
    app.extensions["rate_limits"] = limits
    app.before_request(_refuse_repeated_failures(limits))
    app.before_request(_limit_logins(limits))
    app.after_request(_count_failures(limits))


def init_after_auth(app: Flask, limits: Limits) -> None:
    """Each client's allowance in rows, which needs auth's name. Register after auth.init_app."""
    app.extensions["rate_limiter"] = limits.clients
    app.before_request(_limit_clients(limits))
    paths = app.extensions.get("serving.openapi", {}).get("paths", {})
    for route in LIMITED_ROUTES & set(paths):
        paths[route]["post"]["responses"]["429"] = {
            "description": "Too many requests or rows: retry after the seconds in Retry-After",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
            },
        }
