"""The application factory: build one configured service. Each module hands it one hook."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from examples.serving import docs, errors, json_provider, openapi, routes
from examples.serving.predictor import Predictor, ServiceState
from examples.serving.production import (
    auth,
    cors,
    metrics,
    rate_limit,
    request_logging,
    security_headers,
    storage,
)
from examples.serving.settings import Settings

# Part IV's features, by the names `leave_out` takes.
PRODUCTION_FEATURES = (
    "request_log",
    "metrics",
    "security_headers",
    "auth",
    "rate_limit",
    "storage",
)


def create_app(
    settings: Settings | None = None,
    *,
    predictor: Predictor | None = None,
    leave_out: Iterable[str] = (),
) -> Flask:
    """A new app: settings from the environment unless given; the model loaded unless given.
    `leave_out` is for measuring what each production feature costs (benchmarks/contenders.py builds those variants); no
    setting reaches it, so no operator can switch the prediction store off by mistake."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    json_provider.init_app(app)  # responses written by orjson, in the documented key order

    app.extensions["serving"] = ServiceState.start(settings, predictor, app.logger)
    errors.init_app(app)
    app.register_blueprint(routes.health)
    app.register_blueprint(routes.api_v1)
    openapi.init_app(app)
    docs.init_app(app)
    add_production_features(app, settings, leave_out)
    cors.init_app(app, settings.cors_origin_list)
    if settings.trusted_proxy_hops:
        # Behind N proxies, the client's address is the Nth from the right of X-Forwarded-For
        # (and the scheme the Nth of X-Forwarded-Proto); whatever a client wrote further left is
        # ignored. request.remote_addr then holds that address, which rate_limit reads.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def add_production_features(app: Flask, settings: Settings, leave_out: Iterable[str] = ()) -> None:
    """Logs, metrics, headers, credentials, limits and storage (chapters 16-21).

    Flask runs before_request hooks in the order they are added (request id, timer, the limits
    that act before credentials, who is asking, then how many rows) and after_request hooks in
    the reverse order: storage, added last, runs first, so the log line, the metrics and the
    headers all see its 503 when a write fails.
    """
    left_out = set(leave_out)
    if unknown := left_out - set(PRODUCTION_FEATURES):
        raise ValueError(f"no such production feature: {sorted(unknown)}; {PRODUCTION_FEATURES}")
    if "request_log" not in left_out:
        request_logging.init_app(app, settings.log_level)
    predictor = app.extensions["serving"].predictor
    if "metrics" not in left_out:
        if predictor is not None:
            metrics.init_app(app, predictor.metadata.name, predictor.metadata.version)
        else:
            metrics.init_app(app)
    if "security_headers" not in left_out:
        security_headers.init_app(app)
    limits = None
    if settings.rate_limit_enabled and "rate_limit" not in left_out:
        limits = _limits(settings)
        rate_limit.init_before_auth(app, limits)  # failed credentials and logins, per address
    if "auth" not in left_out:
        auth.init_app(
            app,
            auth.AuthConfig.parse(
                enabled=settings.auth_enabled,
                api_key_hashes=settings.api_key_hashes,
                users=settings.users,
                jwt_secret=settings.jwt_secret,
                jwt_previous_secret=settings.jwt_previous_secret,
                jwt_leeway_seconds=settings.jwt_leeway_seconds,
                token_lifetime_seconds=settings.token_lifetime_seconds,
            ),
        )
    if limits is not None:
        rate_limit.init_after_auth(app, limits)  # rows per client, named by auth
    if "storage" not in left_out:
        storage.init_app(
            app,
            settings.database_url,
            migrate=settings.database_migrate,
            busy_timeout_ms=settings.database_busy_timeout_ms,
            idempotency_key_seconds=settings.idempotency_key_seconds,
        )


def _limits(settings: Settings) -> rate_limit.Limits:
    """The service's three rate limits, sharing one SQLite file, or one Redis server when
    SERVING_RATE_LIMIT_URL names one (several instances, chapter 23)."""

    def limiter(per_minute: int, burst: int):
        if settings.rate_limit_url:
            return rate_limit.RedisRateLimiter(
                settings.rate_limit_url,
                per_minute,
                burst,
                busy_timeout_ms=settings.database_busy_timeout_ms,
            )
        return rate_limit.RateLimiter(
            settings.rate_limit_database,
            per_minute,
            burst,
            busy_timeout_ms=settings.database_busy_timeout_ms,
        )

    return rate_limit.Limits(
        clients=limiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
        logins=limiter(settings.login_per_minute, settings.login_burst),
        failures=limiter(settings.failed_auth_per_minute, settings.failed_auth_burst),
    )
