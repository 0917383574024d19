"""The production settings come from SERVING_* variables, and secrets stay out of repr()."""

from pathlib import Path

import pytest

from examples.serving import Settings, create_app
from examples.serving.production.auth import ConfigurationError


def test_the_production_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "SERVING_AUTH_ENABLED": "false",
            "SERVING_RATE_LIMIT_ENABLED": "off",
            "SERVING_RATE_LIMIT_PER_MINUTE": "10",
            "SERVING_RATE_LIMIT_BURST": "3",
            "SERVING_RATE_LIMIT_DATABASE": "/srv/limits.sqlite3",
            "SERVING_DATABASE_MIGRATE": "no",
            "SERVING_DATABASE_BUSY_TIMEOUT_MS": "250",
            "SERVING_TOKEN_LIFETIME_SECONDS": "60",
            "SERVING_JWT_SECRET": "a-secret-that-must-not-be-printed-anywhere",
        }
    )
    assert settings.auth_enabled is False and settings.rate_limit_enabled is False
    assert (settings.rate_limit_per_minute, settings.rate_limit_burst) == (10, 3)
    assert settings.rate_limit_database == Path("/srv/limits.sqlite3")
    assert settings.database_migrate is False and settings.database_busy_timeout_ms == 250
    assert settings.token_lifetime_seconds == 60
    assert "a-secret" not in repr(settings)


def test_a_malformed_key_setting_stops_the_start(tmp_path, model_dir):
    settings = Settings.isolated(tmp_path, model_dir, auth_enabled=True, api_key_hashes="x:12")
    with pytest.raises(ConfigurationError):
        create_app(settings)


def test_the_full_app_stores_and_protects(tmp_path, model_dir):
    from examples.serving.production.auth import sha256_hex
    from examples.serving.production.storage import count_rows

    settings = Settings.isolated(
        tmp_path, model_dir, auth_enabled=True, api_key_hashes=f"t:{sha256_hex('k' * 40)}"
    )
    app = create_app(settings)
    client = app.test_client()
    features = {
        name: (limits["allowed_min"] + limits["allowed_max"]) / 2
        for name, limits in app.extensions["serving"].predictor.metadata.domain.items()
    }
    assert client.post("/v1/predict", json={"features": features}).status_code == 401
    response = client.post(
        "/v1/predict", json={"features": features}, headers={"X-API-Key": "k" * 40}
    )
    assert response.status_code == 200
    assert count_rows(app.extensions["prediction_store"]) == 1
    assert client.get("/openapi.json").get_json()["paths"]["/v1/token"]


def middle_features(app) -> dict[str, float]:
    domain = app.extensions["serving"].predictor.metadata.domain
    return {
        name: (limits["allowed_min"] + limits["allowed_max"]) / 2 for name, limits in domain.items()
    }


def test_leave_out_drops_exactly_the_named_features(tmp_path, model_dir):
    """create_app(leave_out=...) exists for the benchmarks' per-feature costs: what it names is
    gone, and the rest still works."""
    from examples.serving.production.auth import sha256_hex

    settings = Settings.isolated(
        tmp_path, model_dir, auth_enabled=True, api_key_hashes=f"t:{sha256_hex('k' * 40)}",
        rate_limit_enabled=True,
    )  # fmt: skip
    app = create_app(settings, leave_out=["storage", "security_headers"])
    client = app.test_client()
    body = {"features": middle_features(app)}
    assert client.post("/v1/predict", json=body).status_code == 401  # auth still on
    response = client.post("/v1/predict", json=body, headers={"X-API-Key": "k" * 40})
    assert response.status_code == 200
    assert "prediction_store" not in app.extensions  # nothing stored
    assert "rate_limiter" in app.extensions
    assert "Content-Security-Policy" not in response.headers  # headers left out
    assert response.headers["X-Request-ID"]  # the request log is still on


def test_leaving_out_every_feature_leaves_the_core_service(tmp_path, model_dir):
    from examples.serving.app import PRODUCTION_FEATURES

    settings = Settings.isolated(tmp_path, model_dir, auth_enabled=True, rate_limit_enabled=True)
    app = create_app(settings, leave_out=PRODUCTION_FEATURES)
    response = app.test_client().post("/v1/predict", json={"features": middle_features(app)})
    assert response.status_code == 200  # no credentials needed: auth was left out
    assert response.get_json()["prediction"] in app.extensions["serving"].predictor.class_names
    assert "X-Request-ID" not in response.headers
    assert not {"prediction_store", "rate_limiter"} & set(app.extensions)
    assert app.test_client().get("/metrics").status_code == 404


def test_an_unknown_feature_name_is_refused(tmp_path, model_dir):
    with pytest.raises(ValueError, match="no such production feature"):
        create_app(Settings.isolated(tmp_path, model_dir), leave_out=["storge"])
