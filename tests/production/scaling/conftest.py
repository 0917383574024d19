"""Fixtures for several instances sharing real servers: one PostgreSQL and one Redis per test
module (a fresh database per test), and a model trained once per session."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from examples.toolbox import run_postgres, run_redis

_names = itertools.count()


@pytest.fixture(scope="module")
def postgres():
    with run_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server():
    with run_redis() as server:
        yield server


@pytest.fixture
def database_url(postgres) -> str:
    """A new, empty database on the module's PostgreSQL server, as a SQLAlchemy URL."""
    name = f"test_{next(_names)}"
    admin = sa.create_engine(postgres.extra["url"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres.extra["url"].rsplit("/", 1)[0] + "/" + name
