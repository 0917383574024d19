"""Every setting of the service, read from environment variables named SERVING_*, with defaults that
work on a fresh clone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

PREFIX = "SERVING_"
REPO_ROOT = Path(__file__).resolve().parents[2]


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true or false)")


@dataclass(frozen=True)
class Settings:
    """The service's configuration; `Settings.from_env()` fills it from SERVING_* variables."""

    # None means the model package's default: models/wine-classifier/ at the repository's root.
    model_dir: Path | None = None
    # Train and save the model when its files are missing, so a fresh clone serves at once.
    train_if_missing: bool = True
    # Larger request bodies are refused with 413 before anything reads them.
    max_body_bytes: int = 1024 * 1024
    # Predict with the pipeline's arithmetic in numpy, checked against scikit-learn at start-up
    # (predictor.LinearPipelinePredictor); false runs scikit-learn's predict_proba on every call.
    fast_path: bool = True
    max_batch_size: int = 1000
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'predictions.sqlite3'}"
    # Bring the database's tables up to date at start-up (python -m examples.serving.migrations
    # does the same by hand); a fresh clone then needs no step.
    database_migrate: bool = True
    # How long a write waits for another process's lock before the request fails with 503.
    database_busy_timeout_ms: int = 1000
    # Require an API key or a token on the prediction routes (auth.py). The three secrets are
    # left out of repr(), so printing or logging the settings cannot leak them.
    auth_enabled: bool = True
    api_key_hashes: str = field(default="", repr=False)
    users: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    token_lifetime_seconds: int = 900
    # Per client (API key, user, or address): this many requests a minute on average, and up to
    # `burst` at once, on the prediction and token routes. A benchmark turns it off.
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = 6000
    rate_limit_burst: int = 300
    rate_limit_database: Path = REPO_ROOT / "var" / "rate_limits.sqlite3"
    log_level: str = "INFO"

    # Issue 15 (storage and model integrity):
    # How long a stored Idempotency-Key (and its answer) is kept; a retry after that is new.
    idempotency_key_seconds: int = 24 * 3600
    # The model file's expected SHA-256, from the release record, not from the model's folder:
    # when set, a model whose digest differs is refused, even with metadata that agrees with it.
    model_sha256: str = ""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise SettingsError("SERVING_MAX_BODY_BYTES must be a positive number of bytes")
        if self.max_batch_size < 1:
            raise SettingsError("SERVING_MAX_BATCH_SIZE must be at least 1")

    @classmethod
    def isolated(
        cls, directory: Path | str, model_dir: Path | str | None = None, **changes
    ) -> Settings:
        """Settings whose files all live under `directory`, with Part IV's credentials, rate limits
        and request log switched off: the core service of Part III, for tests and notebooks."""
        directory = Path(directory)
        defaults = {
            "model_dir": Path(model_dir) if model_dir else directory / "model",
            "database_url": f"sqlite:///{directory / 'predictions.sqlite3'}",
            "rate_limit_database": directory / "rate_limits.sqlite3",
            "auth_enabled": False,
            "rate_limit_enabled": False,
            "log_level": "WARNING",
        }
        return cls(**{**defaults, **changes})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read SERVING_<FIELD> for every field (SERVING_MAX_BATCH_SIZE, ...); unset means default."""
        environ = os.environ if environ is None else environ
        values = {}
        for setting in fields(cls):
            name = PREFIX + setting.name.upper()
            if name not in environ:
                continue
            text = environ[name]
            try:
                values[setting.name] = _convert(setting.name, text)
            except ValueError as error:
                raise SettingsError(f"{name}={text!r} is not valid: {error}") from None
        return cls(**values)


def _convert(name: str, text: str):
    """Turn the text of one environment variable into the field's type."""
    if name == "model_dir":
        return Path(text) if text else None
    if name in {
        "train_if_missing",
        "fast_path",
        "database_migrate",
        "auth_enabled",
        "rate_limit_enabled",
    }:
        return _parse_bool(text)
    if name in {
        "max_body_bytes",
        "max_batch_size",
        "database_busy_timeout_ms",
        "token_lifetime_seconds",
        "rate_limit_per_minute",
        "rate_limit_burst",
        "idempotency_key_seconds",
    }:
        return int(text)
    if name == "rate_limit_database":
        return Path(text)
    return text
