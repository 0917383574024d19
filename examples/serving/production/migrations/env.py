"""Alembic runs this to apply migrations: on the engine the service handed over, or on the URL."""

import sqlalchemy as sa
from alembic import context

from examples.serving.production.storage import metadata

engine = context.config.attributes.get("engine") or sa.create_engine(
    context.config.get_main_option("sqlalchemy.url")
)
with engine.connect() as connection:
    # render_as_batch: SQLite cannot alter most of a table in place; Alembic then copies it.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
