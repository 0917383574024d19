"""The reference service: the wine classifier behind a versioned, validated, documented JSON API.
Build one with `create_app(Settings(...))`, or with settings from the environment: `create_app()`."""

from examples.serving.app import create_app
from examples.serving.settings import Settings

__all__ = ["Settings", "create_app"]
