"""Schema migrations with Alembic: numbered scripts in versions/ that take the database from one
table layout to the next, and a record (table alembic_version) of which ones have run.

The service runs `upgrade` at start-up, so a fresh clone needs no step; the same is available as

    python -m examples.serving migrate upgrade          # or: downgrade REVISION, current, history

There is no alembic.ini: the configuration is built here, from SERVING_DATABASE_URL.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(engine: sa.Engine) -> Config:
    """Alembic's configuration for this engine, without an alembic.ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Percent signs in a URL (an escaped password) would be read as interpolation: double them.
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(False).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


# The key of PostgreSQL's advisory lock for migrations: any fixed 64-bit number, the same in every
# instance (these are the bytes of "wine-mig" read as an integer).
MIGRATION_LOCK_KEY = int.from_bytes(b"wine-mig", "big") - 2**63


@contextlib.contextmanager
def _one_migrator_at_a_time(engine: sa.Engine):
    """Several instances starting together must not all create the tables: the first takes a lock,
    the others wait for it and then find the schema up to date. SQLite: a lock file beside the
    database. PostgreSQL: an advisory lock, a lock on a number rather than on a table, held by one
    session until it lets go (or its connection closes, so a killed migrator frees it)."""
    backend, database = engine.url.get_backend_name(), engine.url.database
    if backend == "postgresql":
        with engine.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    if backend != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: no migration has run)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision in versions/."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Run every migration the database has not had yet, up to `revision`."""
    with _one_migrator_at_a_time(engine):
        if revision == "head" and current_revision(engine) == head_revision():
            return  # the usual start-up: nothing to do, and no need to load the scripts
        command.upgrade(alembic_config(engine), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Undo migrations until the database is at `revision` ("base" undoes them all)."""
    with _one_migrator_at_a_time(engine):
        command.downgrade(alembic_config(engine), revision)
