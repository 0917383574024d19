"""Settings come from SERVING_* environment variables, with defaults that work on a fresh clone."""

from pathlib import Path

import pytest

from examples.serving.settings import Settings, SettingsError


def test_defaults_need_no_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.max_batch_size == 1000
    assert settings.model_dir is None and settings.train_if_missing
    assert settings.database_url.startswith("sqlite:///")


def test_every_field_is_read_from_its_variable():
    environ = {
        "SERVING_MODEL_DIR": "/srv/model",
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_MAX_BODY_BYTES": "2048",
        "SERVING_MAX_BATCH_SIZE": "10",
        "SERVING_DATABASE_URL": "postgresql://db/predictions",
        "UNRELATED": "ignored",
    }
    assert Settings.from_env(environ) == Settings(
        model_dir=Path("/srv/model"),
        train_if_missing=False,
        max_body_bytes=2048,
        max_batch_size=10,
        database_url="postgresql://db/predictions",
    )


def test_an_empty_variable_means_the_default():
    assert Settings.from_env({"SERVING_MODEL_DIR": ""}).model_dir is None
    assert Settings.from_env({"SERVING_MAX_BATCH_SIZE": ""}).max_batch_size == 1000


def test_types_come_from_the_field_types():
    """No list of names per type: each field's annotation decides, so one edit adds a setting."""
    settings = Settings.from_env(
        {
            "SERVING_MODEL_LOAD_RETRY_SECONDS": "0.25",  # float
            "SERVING_RATE_LIMIT_DATABASE": "/srv/limits.sqlite3",  # Path
            "SERVING_FAST_PATH": "off",  # bool
            "SERVING_TRUSTED_PROXY_HOPS": " 2 ",  # int, spaces around it dropped
        }
    )
    assert settings.model_load_retry_seconds == 0.25
    assert settings.rate_limit_database == Path("/srv/limits.sqlite3")
    assert settings.fast_path is False and settings.trusted_proxy_hops == 2


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("SERVING_MAX_BATCH_SIZ", "SERVING_MAX_BATCH_SIZE"),
        ("SERVING_DATABASE_BUSY_TIMEOUT", "SERVING_DATABASE_BUSY_TIMEOUT_MS"),
        ("SERVING_WORKER", "SERVING_WORKERS"),
        ("SERVING_JWT_SECRETS_FILE", "SERVING_JWT_SECRET_FILE"),
    ],
)
def test_an_unknown_name_is_refused_with_the_closest_one(name, suggestion):
    with pytest.raises(SettingsError, match=f"{name} is not a setting.*did you mean {suggestion}"):
        Settings.from_env({name: "1"})


def test_a_name_like_nothing_gets_no_guess():
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"SERVING_COLOUR_OF_THE_BIKESHED": "blue"})
    assert "did you mean" not in str(refused.value) and ".env.example" in str(refused.value)


def test_the_server_names_are_exactly_those_gunicorn_conf_reads():
    import re

    from examples.serving.settings import REPO_ROOT, SERVER_VARIABLES

    text = (REPO_ROOT / "examples" / "serving" / "gunicorn.conf.py").read_text()
    read = set(re.findall(r"environ\.get\(\s*\"(SERVING_\w+)\"", text))
    fields_read_by_settings = {"SERVING_LOG_LEVEL"}  # gunicorn's own log level follows the app's
    assert read - fields_read_by_settings == SERVER_VARIABLES


def test_every_setting_is_listed_in_env_example():
    from dataclasses import fields

    from examples.serving.settings import PREFIX, REPO_ROOT

    text = (REPO_ROOT / ".env.example").read_text()
    missing = [f.name for f in fields(Settings) if f"{PREFIX}{f.name.upper()}=" not in text]
    assert missing == []


@pytest.mark.parametrize("text", ["1", "true", "YES", "on"])
def test_true_spellings(text):
    assert Settings.from_env({"SERVING_TRAIN_IF_MISSING": text}).train_if_missing is True


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("SERVING_MAX_BATCH_SIZE", "many", "SERVING_MAX_BATCH_SIZE='many' is not valid"),
        ("SERVING_MAX_BATCH_SIZE", "0", "at least 1"),
        ("SERVING_MAX_BATCH_SIZE", "2.5", "SERVING_MAX_BATCH_SIZE='2.5' is not valid"),
        ("SERVING_MAX_BODY_BYTES", "-5", "positive"),
        ("SERVING_TRAIN_IF_MISSING", "perhaps", "valid boolean"),
        ("SERVING_MODEL_LOAD_ATTEMPTS", "0", "at least 1"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name, text, says):
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({name: text})


def test_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("SERVING_MAX_BATCH_SIZE", "7")
    assert Settings.from_env().max_batch_size == 7


def test_isolated_settings_keep_every_file_in_one_folder(tmp_path):
    settings = Settings.isolated(tmp_path, max_batch_size=5)
    assert settings.model_dir == tmp_path / "model"
    assert settings.database_url == f"sqlite:///{tmp_path / 'predictions.sqlite3'}"
    assert settings.rate_limit_database.parent == tmp_path
    assert not settings.auth_enabled and not settings.rate_limit_enabled
    assert settings.max_batch_size == 5
