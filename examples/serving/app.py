"""The application factory: build one configured service. Each module hands it one hook."""

from __future__ import annotations

from flask import Flask

from examples.serving import docs, errors, json_provider, openapi, routes
from examples.serving.predictor import Predictor, ServiceState
from examples.serving.settings import Settings


def create_app(settings: Settings | None = None, *, predictor: Predictor | None = None) -> Flask:
    """A new app: settings from the environment unless given; the model loaded unless given."""
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
    add_production_features(app, settings)
    return app


def add_production_features(app: Flask, settings: Settings) -> None:
    """Logs, metrics, headers, credentials, limits and storage (chapters 16-21).

    Flask runs before_request hooks in the order they are added (request id, timer, who is
    asking, how often) and after_request hooks in the reverse order: storage, added last, runs
    first, so the log line, the metrics and the headers all see its 503 when a write fails.
    """
    # Imported here rather than at the top: `python -m examples.serving.auth` runs auth.py as a
    # script, and Python warns when importing the package has already imported that module.
    from examples.serving import (
        auth,
        metrics,
        rate_limit,
        request_logging,
        security_headers,
        storage,
    )

    request_logging.init_app(app, settings.log_level)
    predictor = app.extensions["serving"].predictor
    if predictor is not None:
        metrics.init_app(app, predictor.metadata.name, predictor.metadata.version)
    else:
        metrics.init_app(app)
    security_headers.init_app(app)
    auth.init_app(
        app,
        auth.AuthConfig.parse(
            enabled=settings.auth_enabled,
            api_key_hashes=settings.api_key_hashes,
            users=settings.users,
            jwt_secret=settings.jwt_secret,
            token_lifetime_seconds=settings.token_lifetime_seconds,
        ),
    )
    if settings.rate_limit_enabled:
        limiter = rate_limit.RateLimiter(
            settings.rate_limit_database,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            busy_timeout_ms=settings.database_busy_timeout_ms,
        )
        rate_limit.init_app(app, limiter)
    storage.init_app(
        app,
        settings.database_url,
        migrate=settings.database_migrate,
        busy_timeout_ms=settings.database_busy_timeout_ms,
    )
