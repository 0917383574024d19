"""A model that fails to load: what is retried, what is raised, and what the service does after."""

import subprocess
import sys

import pytest

from examples.model import ArtifactError
from examples.serving import Settings, create_app, predictor
from examples.serving.predictor import ModelNotLoaded
from examples.serving.settings import REPO_ROOT


def failing(monkeypatch, *errors):
    """Make load_predictor raise each of `errors` in turn, then load for real; count the calls."""
    real, calls = predictor.load_predictor, []

    def load(settings, logger=None):
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return real(settings, logger)

    monkeypatch.setattr(predictor, "load_predictor", load)
    return calls


def test_a_model_that_cannot_be_read_yet_is_retried(settings, monkeypatch):
    calls = failing(monkeypatch, PermissionError("not mounted yet"), OSError("still not"))
    settings = Settings(**{**vars(settings), "model_load_retry_seconds": 0})
    app = create_app(settings)
    assert len(calls) == 3 and app.extensions["serving"].ready


def test_retries_are_bounded_then_the_service_is_unready(settings, monkeypatch, caplog):
    calls = failing(monkeypatch, *[OSError("gone")] * 10)
    settings = Settings(**{**vars(settings), "model_load_retry_seconds": 0})
    app = create_app(settings)
    assert len(calls) == settings.model_load_attempts == 3
    assert app.test_client().get("/readyz").status_code == 503
    assert "OSError: gone" in app.extensions["serving"].load_error
    assert caplog.text.count("retrying") == 2


def test_a_model_that_fails_its_checks_is_not_retried(settings, monkeypatch):
    calls = failing(monkeypatch, ArtifactError("the file was changed after training"))
    app = create_app(settings)
    assert len(calls) == 1 and not app.extensions["serving"].ready


def test_a_bug_is_raised_not_hidden_behind_a_503(settings, monkeypatch):
    failing(monkeypatch, TypeError("a bug in our loading code"))
    with pytest.raises(TypeError, match="a bug in our loading code"):
        create_app(settings)


def test_with_model_required_the_start_fails(settings, monkeypatch):
    failing(monkeypatch, ArtifactError("metadata file metadata.json is missing"))
    settings = Settings(**{**vars(settings), "model_required": True})
    with pytest.raises(ModelNotLoaded, match="metadata.json is missing"):
        create_app(settings)


def test_with_model_required_gunicorn_exits_non_zero_at_start(tmp_path):
    """Preloaded, the app is built in gunicorn's master: a model that fails stops it, exit code
    not 0, before any worker starts (chapter 16)."""
    (tmp_path / "model").mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SERVING_MODEL_DIR": str(tmp_path / "model"),
        "SERVING_TRAIN_IF_MISSING": "false",
        "SERVING_MODEL_REQUIRED": "true",
        "SERVING_DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        "SERVING_RATE_LIMIT_DATABASE": str(tmp_path / "r.sqlite3"),
        "SERVING_BIND": "127.0.0.1:0",
        "SERVING_METRICS_BIND": "127.0.0.1:0",
        "SERVING_WORKERS": "1",
        "SERVING_AUTH_ENABLED": "false",
    }
    config = REPO_ROOT / "examples" / "serving" / "gunicorn.conf.py"
    finished = subprocess.run(  # noqa: S603 - a fixed command
        [sys.executable, "-m", "gunicorn", "-c", str(config), "examples.serving.wsgi:app"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode != 0
    assert "metadata.json is missing" in finished.stdout + finished.stderr
