"""The toolbox's PostgreSQL and Redis: a real server on loopback, in a temporary folder, stopped."""

import socket

import pytest
import redis
import sqlalchemy as sa

from examples.toolbox import run_postgres, run_redis


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_postgres_answers_restarts_and_stops():
    with run_postgres() as server:
        engine = sa.create_engine(server.extra["url"])
        with engine.connect() as connection:
            assert connection.execute(sa.text("select 1 + 1")).scalar_one() == 2
            assert connection.execute(sa.text("show listen_addresses")).scalar_one() == "127.0.0.1"
        engine.dispose()
        server.extra["stop"]()
        assert port_is_closed(server.port)
        server.extra["start"]()
        with engine.connect() as connection:
            assert connection.execute(sa.text("select 2")).scalar_one() == 2
        engine.dispose()
        folder = server.extra["directory"]
    assert port_is_closed(server.port)
    assert not folder.exists()


def test_redis_answers_and_stops():
    with run_redis() as server:
        client = redis.Redis.from_url(server.extra["url"])
        assert client.ping()
        assert client.incr("n") == 1
        client.close()
    assert server.process.poll() is not None
    assert port_is_closed(server.port)


def test_postgres_stops_when_the_body_raises():
    with pytest.raises(RuntimeError, match="boom"), run_postgres() as server:
        raise RuntimeError("boom")
    assert port_is_closed(server.port)
