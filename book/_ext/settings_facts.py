"""MyST substitutions for the facts several pages state, read from the service's own code.

A page writes `{{ serving_busy_timeout }}` instead of typing "1000 ms", so the text follows
`examples.serving.settings.Settings` (and the gunicorn configuration, and the error codes) when
they change. tests/book/test_one_fact_one_value.py checks the pages that still type a value.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from sphinx.application import Sphinx
from sphinx.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVING = REPO_ROOT / "examples" / "serving"
GUNICORN_CONF = SERVING / "gunicorn.conf.py"


def serving_module(name: str) -> ModuleType:
    """One module of examples/serving, loaded from its file alone. Importing it as
    `examples.serving.<name>` would run the package's __init__, which builds the whole service
    (scikit-learn, skops, ...) and adds seconds to every build, even one with nothing to do."""
    qualified = f"book_settings_facts.{name}"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, SERVING / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module  # a dataclass looks its module up while it is made
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def settings_defaults() -> dict[str, object]:
    """Each field of Settings with its default (a dataclass or a pydantic-settings model)."""
    Settings = serving_module("settings").Settings  # noqa: N806 - a class

    if dataclasses.is_dataclass(Settings):
        return {
            field.name: field.default
            for field in dataclasses.fields(Settings)
            if field.default is not dataclasses.MISSING
        }
    return {name: info.default for name, info in Settings.model_fields.items()}


def default_bind() -> str:
    """The address gunicorn.conf.py binds when SERVING_BIND is unset, read without running it."""
    for node in ast.walk(ast.parse(GUNICORN_CONF.read_text())):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "bind" for t in node.targets)
            and isinstance(node.value, ast.Call)
            and len(node.value.args) == 2
        ):
            return ast.literal_eval(node.value.args[1])
    raise ValueError(f"no `bind = os.environ.get(NAME, DEFAULT)` in {GUNICORN_CONF}")


def facts() -> dict[str, str]:
    """Substitution name -> text, e.g. serving_busy_timeout -> '1000 ms'."""
    codes = serving_module("errors").CODES
    defaults = settings_defaults()
    busy_ms = int(defaults["database_busy_timeout_ms"])
    bind = default_bind()
    host, _, port = bind.rpartition(":")
    found = {
        "serving_busy_timeout_ms": str(busy_ms),
        "serving_busy_timeout": f"{busy_ms} ms",
        "serving_bind": bind,
        "serving_host": host,
        "serving_port": port,
        "serving_max_body_bytes": f"{int(defaults['max_body_bytes']):,}",
        "serving_max_body_mib": f"{int(defaults['max_body_bytes']) / 2**20:g} MiB",
        "serving_max_batch_size": f"{int(defaults['max_batch_size']):,}",
        "serving_token_lifetime_s": str(defaults["token_lifetime_seconds"]),
        "serving_rate_limit_per_minute": f"{int(defaults['rate_limit_per_minute']):,}",
        "serving_rate_limit_burst": str(defaults["rate_limit_burst"]),
        "serving_idempotency_key_lifetime": f"{int(defaults['idempotency_key_seconds']) / 3600:g} hours",
    }
    # status_validation_error -> '422', status_bad_request -> '400', ...: the status of each code.
    found.update({f"status_{code}": str(status) for status, code in codes.items()})
    return found


def add_substitutions(app: Sphinx, config: Config) -> None:
    """Merge the facts into myst_substitutions; a value set in _config.yml wins."""
    config.myst_substitutions = {**facts(), **(config.myst_substitutions or {})}


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", add_substitutions, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
