"""``polyim serve --nodes N``: N nodes on one machine behind the same ports (SO_REUSEPORT). Clients that
connect to the one OMTP port land on different nodes and chat across them; a node that dies is
restarted by its supervisor; SIGTERM to the supervisor stops every node and exits 0; and with SQLite
``--nodes`` is refused with a message that says what it needs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, start_server, write_config
from tests.e2e.conftest import Omtp
from tests.e2e.test_scaled import node_config
from tests.engines import RedisServer, run_sync, shared_postgres
from tests.test_cli import polyim

NODES = 3


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux ``/proc/<pid>/task/<pid>/children``)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # exited, not yet reaped by whoever inherited it


async def node_of(redis_url: str, uids: list[int]) -> dict[int, int]:
    """uid → the node id holding its session, read from the session directory in Redis."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        found: dict[int, int] = {}
        for key in await client.keys("polyim:sessions:*"):
            for record in (await client.hgetall(key)).values():
                data = json.loads(record)
                found[int(data["uid"])] = int(data["node"])
        return {uid: found[uid] for uid in uids if uid in found}
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, own_redis_url: str) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("nodes")
    config = node_config(tmp, 10, shared_postgres().database(), own_redis_url)
    server = start_server(tmp, config=config, args=("--nodes", str(NODES)))
    yield server
    server.stop()


@pytest.fixture
async def omtp(cluster: Server) -> AsyncIterator[Omtp]:
    pool = Omtp(cluster)
    yield pool
    await pool.close()


@pytest.mark.scaled
async def test_clients_on_one_port_land_on_different_nodes_and_chat_across_them(
    cluster: Server, omtp: Omtp, own_redis_url: str
) -> None:
    assert len(children(cluster.proc.pid)) == NODES
    clients = [await omtp.user("n") for _ in range(12)]
    uids = [int(c.uid) for c in clients]
    deadline = time.monotonic() + 10
    while len(where := await node_of(own_redis_url, uids)) < len(uids):
        assert time.monotonic() < deadline, where
        await asyncio.sleep(0.1)
    assert set(where.values()) <= set(range(10, 10 + NODES))
    assert len(set(where.values())) >= 2  # 12 connections on one node of 3: a chance of 1 in 177,147
    a = clients[0]
    b = next(c for c in clients if where[int(c.uid)] != where[int(a.uid)])
    assert (await a.send_single(b.uid, "from one node")).ok
    _, msg = await b.expect_msg()
    assert (msg.from_, msg.content) == (a.uid, "from one node")
    assert (await b.send_single(a.uid, "to the other")).ok
    _, msg = await a.expect_msg()
    assert (msg.from_, msg.content) == (b.uid, "to the other")


@pytest.mark.scaled
async def test_a_node_that_dies_is_restarted(cluster: Server, omtp: Omtp) -> None:
    before = children(cluster.proc.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while len(now := children(cluster.proc.pid)) < NODES or victim in now:
        assert time.monotonic() < deadline, now
        await asyncio.sleep(0.2)
    assert len(now - before) == 1  # a new process in its place, the others untouched
    client = await omtp.user("after")  # the port still answers meanwhile (the other nodes)
    assert client.uid


@pytest.mark.scaled
def test_sigterm_stops_every_node_and_exits_0(tmp_path: Path) -> None:
    redis = RedisServer()
    try:
        config = node_config(tmp_path, 20, shared_postgres().database(), redis.url)
        server = start_server(tmp_path, config=config, args=("--nodes", "2"))
        nodes = children(server.proc.pid)
        assert len(nodes) == 2
        assert server.stop(signal.SIGTERM) == 0
        assert all(gone(pid) for pid in nodes)
        assert run_sync(lambda: _keys(redis.url)) == []  # each node left the directory on its way out
    finally:
        redis.close()


async def _keys(url: str) -> list[bytes]:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        return list(await client.keys("polyim:sessions:*"))
    finally:
        await client.aclose()


def test_nodes_with_sqlite_are_refused_with_what_they_need(tmp_path: Path) -> None:
    done = polyim("serve", "--nodes", "2", config=write_config(tmp_path))
    assert done.returncode == 2
    assert "postgresql://" in done.stderr and "redis_url" in done.stderr
