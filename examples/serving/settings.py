"""Every setting of the service, read from environment variables named SERVING_*, with defaults that
work on a fresh clone. A field's type annotation decides how its text is read (pydantic converts it),
and a SERVING_* name that nothing reads stops the start-up instead of being ignored."""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

PREFIX = "SERVING_"
REPO_ROOT = Path(__file__).resolve().parents[2]


# An origin is a scheme, a host and an optional port, exactly: the browser compares them as text.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration; `Settings.from_env()` fills it from SERVING_* variables."""

    # None means the model package's default: models/wine-classifier/ at the repository's root.
    model_dir: Path | None = None
    # Train and save the model when its files are missing, so a fresh clone serves at once.
    train_if_missing: bool = True
    # A model that cannot be read (an OSError: a volume not mounted yet, a permission) is tried
    # this many times in all, waiting model_load_retry_seconds, doubled each time, in between. A
    # model that fails its checks (ArtifactError) is not retried: the same bytes fail again.
    model_load_attempts: int = 3
    model_load_retry_seconds: float = 1.0
    # After the last failure: false keeps the process alive but not ready (503, /readyz says so,
    # an orchestrator sends it no traffic); true stops the start-up with an error, so gunicorn's
    # master exits non-zero and a supervisor restarts it or reports a crash loop.
    model_required: bool = False
    # Larger request bodies are refused with 413 before anything reads them.
    max_body_bytes: int = 1024 * 1024
    # Predict with the pipeline's arithmetic in numpy, checked against scikit-learn at start-up
    # (predictor.LinearPipelinePredictor); false runs scikit-learn's predict_proba on every call.
    fast_path: bool = True
    max_batch_size: int = 1000
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'predictions.sqlite3'}"
    # Bring the database's tables up to date at start-up (python -m examples.serving migrate
    # does the same by hand); a fresh clone then needs no step.
    database_migrate: bool = True
    # How long a write waits for another process's lock before the request fails with 503.
    database_busy_timeout_ms: int = 1000
    # Require an API key or a token on the prediction routes (auth/). The secrets (these three and
    # jwt_previous_secret) are left out of repr(), so printing the settings cannot leak them.
    auth_enabled: bool = True
    api_key_hashes: str = field(default="", repr=False)
    users: str = field(default="", repr=False)
    jwt_secret: str = field(default="", repr=False)
    token_lifetime_seconds: int = 900
    # Per client (API key, user, or address): this many rows a minute on average, and up to
    # `burst` rows at once (a batch costs one per row), on the prediction routes. A benchmark
    # turns it off, together with the two limits below.
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = 6000
    rate_limit_burst: int = 1000
    rate_limit_database: Path = REPO_ROOT / "var" / "rate_limits.sqlite3"
    log_level: str = "INFO"
    # Chapter 20, second pass (rate_limit.py, auth/). Tokens signed with the previous secret are
    # still accepted during a rotation; exp and iat are allowed this much clock skew.
    jwt_previous_secret: str = field(default="", repr=False)
    jwt_leeway_seconds: int = 5
    # POST /v1/token attempts, per address and per user name: strict, since each costs a hash.
    login_per_minute: int = 10
    login_burst: int = 10
    # Failed credentials (401s) per address; beyond them, 429 before any credential is checked.
    failed_auth_per_minute: int = 60
    failed_auth_burst: int = 30

    # Issue 15 (storage and model integrity):
    # How long a stored Idempotency-Key (and its answer) is kept; a retry after that is new.
    idempotency_key_seconds: int = 24 * 3600
    # The model file's expected SHA-256, from the release record, not from the model's folder:
    # when set, a model whose digest differs is refused, even with metadata that agrees with it.
    model_sha256: str = ""

    # Issue 16 (several instances behind a proxy, chapter 23):
    # How many proxies in front of the service to believe: each one appends the address it saw to
    # X-Forwarded-For. 0 believes no header (anyone could write one); 1 behind one nginx.
    trusted_proxy_hops: int = 0
    # Web pages from these origins (scheme://host[:port], comma-separated) may call the API from a
    # browser (CORS). Empty: none, and a browser keeps other sites' pages from reading answers.
    cors_origins: str = ""
    # Where the rate limits keep their allowances when several machines share them: a redis:// URL.
    # Empty: the SQLite file rate_limit_database, which only the workers of one machine share.
    rate_limit_url: str = ""

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise SettingsError("SERVING_MAX_BODY_BYTES must be a positive number of bytes")
        if self.max_batch_size < 1:
            raise SettingsError("SERVING_MAX_BATCH_SIZE must be at least 1")
        if self.model_load_attempts < 1 or self.model_load_retry_seconds < 0:
            raise SettingsError(
                "SERVING_MODEL_LOAD_ATTEMPTS must be at least 1 and "
                "SERVING_MODEL_LOAD_RETRY_SECONDS 0 or more"
            )
        if self.trusted_proxy_hops < 0:
            raise SettingsError("SERVING_TRUSTED_PROXY_HOPS must be 0 or more")
        if self.rate_limit_url and not self.rate_limit_url.startswith(("redis://", "rediss://")):
            raise SettingsError("SERVING_RATE_LIMIT_URL must be a redis:// or rediss:// URL")
        for origin in self.cors_origin_list:
            if not _ORIGIN.fullmatch(origin):
                raise SettingsError(
                    f"SERVING_CORS_ORIGINS: {origin!r} is not an origin: write each one as "
                    "scheme://host[:port], with no path and no wildcard"
                )

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

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
        """Read SERVING_<FIELD> for every field (SERVING_MAX_BATCH_SIZE, ...); unset or empty means
        the default. Each text is converted to its field's type by pydantic; a SERVING_* name that
        nothing reads is refused, with the closest valid name."""
        environ = os.environ if environ is None else environ
        refuse_unknown_names(environ)
        types = typing.get_type_hints(cls)
        values = {}
        for setting in fields(cls):
            name = PREFIX + setting.name.upper()
            if setting.name in SECRET_FIELDS and name + "_FILE" in environ:
                values[setting.name] = _read_secret_file(name, environ)
                continue
            text = environ.get(name, "")
            if not text:
                continue
            try:
                values[setting.name] = _adapter(types[setting.name]).validate_python(text.strip())
            except ValidationError as error:
                problem = error.errors(include_url=False)[0]["msg"]
                raise SettingsError(f"{name}={text!r} is not valid: {problem}") from None
        return cls(**values)


@cache
def _adapter(annotation) -> TypeAdapter:
    """pydantic's converter for one field type: "10" to 10, "yes" to True, "/srv" to a Path."""
    return TypeAdapter(annotation)


# Variables with the prefix that are read elsewhere, not by Settings: gunicorn.conf.py's (the
# server), and the API key the clients send (examples/r/client.R reads it; the service never does).
SERVER_VARIABLES = frozenset(
    {
        "SERVING_BIND",
        "SERVING_WORKERS",
        "SERVING_THREADS",
        "SERVING_TIMEOUT",
        "SERVING_GRACEFUL_TIMEOUT",
        "SERVING_KEEPALIVE",
        "SERVING_ACCESS_LOG",
        "SERVING_METRICS_BIND",
        "SERVING_PRELOAD",
        "SERVING_GC_FREEZE",
        "SERVING_MAX_REQUESTS",
    }
)
CLIENT_VARIABLES = frozenset({"SERVING_API_KEY"})


def known_names() -> frozenset[str]:
    """Every SERVING_* name something in the project reads."""
    from_fields = {PREFIX + setting.name.upper() for setting in fields(Settings)}
    secret_files = {PREFIX + name.upper() + "_FILE" for name in SECRET_FIELDS}
    return frozenset(from_fields | secret_files | SERVER_VARIABLES | CLIENT_VARIABLES)


def refuse_unknown_names(environ: Mapping[str, str]) -> None:
    """A misspelt name would otherwise leave its setting at the default without a word."""
    known = known_names()
    for name in sorted(environ):
        if name.startswith(PREFIX) and name not in known:
            # Compared without the prefix, which every name shares and would make all look alike.
            rests = {known_name.removeprefix(PREFIX): known_name for known_name in known}
            closest = difflib.get_close_matches(name.removeprefix(PREFIX), rests, n=1, cutoff=0.7)
            hint = f"; did you mean {rests[closest[0]]}?" if closest else ""
            hint += " (.env.example lists every setting)"
            raise SettingsError(f"{name} is not a setting of this service{hint}")


# Secrets may come from a file named by SERVING_<NAME>_FILE (a Docker or Kubernetes secret, mounted
# read-only) instead of the environment, which child processes inherit and /proc/PID/environ shows.
SECRET_FIELDS = frozenset({"api_key_hashes", "users", "jwt_secret", "jwt_previous_secret"})


def _read_secret_file(name: str, environ: Mapping[str, str]) -> str:
    if name in environ:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    path = Path(environ[name + "_FILE"])
    try:
        return path.read_text().strip()
    except OSError as error:
        raise SettingsError(f"{name}_FILE={str(path)!r} cannot be read: {error.strerror}") from None
