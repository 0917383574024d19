"""`python -m examples.serving migrate upgrade [REVISION] | downgrade REVISION | current | history`."""

from __future__ import annotations

import argparse
import os

from alembic import command

from examples.serving.production.migrations import (
    alembic_config,
    current_revision,
    downgrade,
    upgrade,
)
from examples.serving.production.storage import create_storage_engine
from examples.serving.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.serving migrate",
        description="Migrate the predictions database named by SERVING_DATABASE_URL.",
    )
    parser.add_argument("action", choices=["upgrade", "downgrade", "current", "history"])
    parser.add_argument("revision", nargs="?", help="target revision (upgrade: default head)")
    arguments = parser.parse_args(argv)
    url = os.environ.get("SERVING_DATABASE_URL") or Settings().database_url
    engine = create_storage_engine(url)
    if arguments.action == "upgrade":
        upgrade(engine, arguments.revision or "head")
    elif arguments.action == "downgrade":
        if not arguments.revision:
            parser.error("downgrade needs a revision, for example: downgrade base")
        downgrade(engine, arguments.revision)
    elif arguments.action == "history":
        command.history(alembic_config(engine))
    print(
        f"database {engine.url.render_as_string(hide_password=True)} "
        f"is at revision {current_revision(engine)}"
    )
    return 0
