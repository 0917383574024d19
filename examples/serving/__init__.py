"""The reference service: the wine classifier behind a versioned, validated, documented JSON API.
Build one with `create_app(Settings(...))`, or with settings from the environment: `create_app()`.

The modules here are the core that Part III builds (CORE_MODULES); Part IV's production features
live in the subpackage examples.serving.production. `python -m examples.serving` is the one
command line (auth, migrate)."""

import pkgutil

from examples.serving.app import create_app
from examples.serving.settings import Settings

# Read from the folder, so that no page keeps its own list (chapter 12 prints it).
CORE_MODULES = tuple(
    sorted(
        m.name for m in pkgutil.iter_modules(__path__) if not m.ispkg and not m.name.startswith("_")
    )
)

__all__ = ["CORE_MODULES", "Settings", "create_app"]
