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


def test_an_empty_model_dir_means_the_default():
    assert Settings.from_env({"SERVING_MODEL_DIR": ""}).model_dir is None


@pytest.mark.parametrize("text", ["1", "true", "YES", "on"])
def test_true_spellings(text):
    assert Settings.from_env({"SERVING_TRAIN_IF_MISSING": text}).train_if_missing is True


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("SERVING_MAX_BATCH_SIZE", "many", "SERVING_MAX_BATCH_SIZE='many' is not valid"),
        ("SERVING_MAX_BATCH_SIZE", "0", "at least 1"),
        ("SERVING_MAX_BODY_BYTES", "-5", "positive"),
        ("SERVING_TRAIN_IF_MISSING", "perhaps", "not a boolean"),
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
