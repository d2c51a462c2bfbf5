"""Scaled mode when an engine goes away, through real sockets (two nodes on a PostgreSQL and a Redis of
their own, stopped and started again under them): while PostgreSQL is down a send gets the protocol's
error, never an ack, a login fails cleanly and the connections stay; while Redis is down each node
serves its own users and refuses a message for another node's user with the protocol's "try again";
both come back without a restart, and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.clients.imlc import Status
from tests.conftest import Server
from tests.e2e.conftest import Imlc, Omtp
from tests.e2e.test_scaled import start_node
from tests.engines import PostgresServer, RedisServer

pytestmark = pytest.mark.scaled  # PostgreSQL and Redis (tests/engines.py)


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[PostgresServer, RedisServer]]:
    pg, redis = PostgresServer(), RedisServer()
    yield pg, redis
    redis.close()
    pg.close()


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, engines: tuple[PostgresServer, RedisServer]
) -> Iterator[tuple[Server, Server]]:
    pg, redis = engines
    url = pg.database()
    tmp = tmp_path_factory.mktemp("faults")
    a, b = start_node(tmp / "a", 1, url, redis.url), start_node(tmp / "b", 2, url, redis.url)
    yield a, b
    b.stop()
    a.stop()


@pytest.fixture
async def imlc(pair: tuple[Server, Server]) -> AsyncIterator[Imlc]:
    pool = Imlc(pair[0])
    yield pool
    await pool.close()


async def until(check: Callable[[], Awaitable[Any]], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := await check()):
        assert time.monotonic() < deadline, "did not recover in time"
        await asyncio.sleep(0.3)
    return result


async def test_postgresql_going_away_refuses_sends_and_logins_and_is_survived(
    imlc: Imlc, pair: tuple[Server, Server], engines: tuple[PostgresServer, RedisServer]
) -> None:
    pg, _ = engines
    alice, _ = await imlc.user("pa")
    bob_uid, bob_name = pair[0].add_user("pb")
    acked = []
    reply = await alice.send(str(bob_uid), "before", message_id=1)
    assert reply.status == Status.OK
    acked.append("before")
    pg.stop()
    try:
        during = await asyncio.wait_for(alice.send(str(bob_uid), "during", message_id=2), 30)
        assert during.status == Status.SERVER_BUSY  # the protocol's error, never an ack
        assert (await alice.ping()).status == Status.OK  # the connection stays
        other = await imlc.connect()
        try:  # refused, or the connection closed (a handler's store failure): never a hang
            refused = await asyncio.wait_for(
                other.login(username=bob_name, password="pw", device_id="d", device_class=2), 30
            )
            assert refused.status != Status.OK
        except ConnectionError:
            assert await other.wait_closed()
    finally:
        pg.start()

    async def sent_again() -> bool:
        reply = await alice.send(str(bob_uid), "after", message_id=3)
        return bool(reply.status == Status.OK)

    await until(sent_again)  # no restart of the node
    acked.append("after")
    bob = await until(lambda: _login(imlc, bob_name))
    pulled = await bob.pull(str(alice.uid))
    assert [m.message_content.searchable_content for m in pulled.body.messages] == acked


async def _login(imlc: Imlc, name: str) -> Any:
    client = await imlc.connect()
    reply = await client.login(username=name, password="pw", device_id="dev-1", device_class=2)
    return client if reply.status == Status.OK else None


async def _refused(client: Any, to: str) -> Any:
    ack = await client.send_single(to, "for another node")
    return None if ack.ok else ack


async def test_redis_going_away_keeps_each_node_serving_its_own_users(
    pair: tuple[Server, Server], engines: tuple[PostgresServer, RedisServer]
) -> None:
    _, redis = engines
    on_a, on_b = Omtp(pair[0]), Omtp(pair[1])
    try:
        alice, bob = await on_a.user("ra"), await on_a.user("rb")
        carol = await on_b.user("rc")
        await asyncio.sleep(0.1)
        redis.stop()
        assert (await alice.send_single(bob.uid, "local while Redis is down")).ok
        _, msg = await bob.expect_msg()
        assert msg.content == "local while Redis is down"
        refused = await until(lambda: _refused(alice, carol.uid))  # once the node noticed Redis is gone
        assert not refused.ok  # the protocol's "try again" answer, nothing stored
        redis.start()

        async def crossed() -> bool:
            text = f"across {time.monotonic()}"
            if not (await alice.send_single(carol.uid, text)).ok:
                return False  # still refused: the node has not reached Redis again yet
            try:
                while True:
                    _, msg = await carol.expect_msg(timeout=0.5)
                    if msg.content == text:
                        return True
            except TimeoutError:
                return False

        await until(crossed)  # the nodes found each other again
    finally:
        await on_a.close()
        await on_b.close()
