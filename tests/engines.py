"""Throw-away PostgreSQL and Redis servers for the tests of the scaled mode (the engines themselves are
:mod:`polyim.bench.engines`, which ``polyim bench --nodes`` starts too).

Missing binaries skip the tests that need them on a developer's machine, and fail them under
``CI=true`` (``scripts/test`` installs the engines, so a missing one is a broken install there, not a
reason to pass).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from polyim.bench import engines
from polyim.bench.engines import free_port as free_port
from polyim.bench.engines import run_sync as run_sync


def missing(what: str) -> None:
    """Skip (fail under CI=true) a test whose engine is not installed."""
    message = f"{what} (scripts/test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class PostgresServer(engines.PostgresServer):
    """One postgres on 127.0.0.1:port, fsync off; :meth:`database` makes a fresh database."""

    def __init__(self) -> None:
        try:
            super().__init__(fsync=False)
        except engines.EngineMissing as exc:
            missing(str(exc))


class RedisServer(engines.RedisServer):
    def __init__(self) -> None:
        try:
            super().__init__()
        except engines.EngineMissing as exc:
            missing(str(exc))


_shared: dict[str, Any] = {}


def shared_postgres() -> PostgresServer:
    """The session's PostgreSQL server, started at first use (each test takes a database of its own)."""
    if "pg" not in _shared:
        _shared["pg"] = PostgresServer()
    server: PostgresServer = _shared["pg"]
    return server


def shared_redis() -> RedisServer:
    if "redis" not in _shared:
        _shared["redis"] = RedisServer()
    server: RedisServer = _shared["redis"]
    return server


def close_shared() -> None:
    for server in _shared.values():
        server.close()
    _shared.clear()


@pytest.fixture
def postgres_url() -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return shared_postgres().database()


@pytest.fixture(scope="module")
def own_redis_url() -> Iterator[str]:
    """A Redis of the module's own: its nodes' directory and channels are seen by no other module."""
    server = RedisServer()
    yield server.url
    server.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The session's Redis, emptied after the test."""
    server = shared_redis()
    yield server.url
    run_sync(lambda: _flush(server.url))


async def _flush(url: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def pytest_sessionfinish() -> None:
    close_shared()
