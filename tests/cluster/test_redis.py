"""The core over the Redis seams: two nodes, each with its own PostgreSQL store on one database, joined
through a real Redis. Delivery, kicks, presence, cache invalidation, the throttle and the node records
cross nodes; a send whose recipients are all local touches Redis not at all; a node that leaves or
stops refreshing is forgotten; Redis going away and coming back is survived."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from polyim.cluster import redis as redis_cluster_module
from polyim.cluster.redis import Link, redis_cluster
from polyim.config import AccountSettings, ConfigError
from polyim.core.app import Core
from polyim.core.errors import Code
from polyim.core.events import (
    ControlEvent,
    KickReason,
    MessageEvent,
    Presence,
    PresenceEvent,
    PushEvent,
    ReadEvent,
    RoomChange,
    RoomEvent,
)
from polyim.core.messaging import Outgoing, Unroutable
from polyim.model import AccountUpdate, ControlCmd, ConvId, DeviceClass
from polyim.store.postgres import PostgresStore
from tests.core.test_core import cred, online, refused, send, user
from tests.engines import RedisServer

pytestmark = pytest.mark.scaled  # PostgreSQL and Redis (tests/engines.py)


async def eventually(check: Callable[[], Any], seconds: float = 10.0) -> None:
    """Wait until ``check()`` is true: another node hears through Redis a moment later."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


def make_node(node_id: int, postgres_url: str, redis_url: str) -> Core:
    store = PostgresStore(postgres_url)
    return Core(
        store, AccountSettings(), b"k", node_id, cluster=redis_cluster(node_id, redis_url, AccountSettings())
    )


@pytest.fixture
async def nodes(postgres_url: str, redis_url: str) -> AsyncIterator[tuple[Core, Core]]:
    a, b = make_node(1, postgres_url, redis_url), make_node(2, postgres_url, redis_url)
    await a.start()
    await b.start()
    yield a, b
    await b.stop()
    await a.stop()


async def test_a_message_crosses_nodes_and_the_sender_is_skipped(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await user(n1, "alice"), await user(n1, "bob")
    sa, sink_a = await online(n1, a, "pc")
    _, sink_a2 = await online(n2, a, "phone", DeviceClass.MOBILE)
    _, sink_b = await online(n2, b)
    await eventually(lambda: n1.sessions.online(b))
    res = await send(n1, sa, ConvId.peer(a, b), "across")
    await eventually(lambda: sink_b.of(MessageEvent))
    assert sink_b.of(MessageEvent)[0].message == res.message
    await eventually(lambda: sink_a2.messages() == ["across"])
    assert sink_a.of(MessageEvent) == []


async def test_local_recipients_cost_no_redis_command(
    nodes: tuple[Core, Core], monkeypatch: pytest.MonkeyPatch
) -> None:
    n1, n2 = nodes
    a, b, c = await user(n1, "alice"), await user(n1, "bob"), await user(n1, "carol")
    sa, _ = await online(n1, a)
    _, sink_b = await online(n1, b)
    await online(n2, c)  # someone elsewhere: the remote view is not empty
    await eventually(lambda: n1.sessions.online(c))
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(Link, "send", lambda self, *command: sent.append(command))
    for i in range(20):
        await send(n1, sa, ConvId.peer(a, b), f"m{i}")
    assert len(sink_b.of(MessageEvent)) == 20 and sent == []


async def test_a_duplicate_login_on_another_node_kicks_the_first(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a = await user(n1, "alice")
    first, sink1 = await online(n1, a, "pc-1")
    await eventually(lambda: n2.sessions.online(a))
    second, sink2 = await online(n2, a, "pc-2")
    await eventually(lambda: sink1.kicks == [KickReason.DUPLICATE_LOGIN])
    assert sink2.kicks == [] and first not in n1.sessions.all()
    await eventually(lambda: [r.sid for r in n1.sessions.records(a)] == [second.sid])


async def test_presence_crosses_nodes(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await user(n1, "alice"), await user(n1, "bob")
    await n1.relations.add_friend(a, b)
    _, sink_b = await online(n2, b)
    await eventually(lambda: n1.sessions.online(b))
    pc, _ = await online(n1, a, "pc")
    await eventually(lambda: [e.presence for e in sink_b.of(PresenceEvent)] == [Presence.ONLINE])
    await n1.accounts.detach(pc)
    await eventually(lambda: [e.presence for e in sink_b.of(PresenceEvent)][-1:] == [Presence.OFFLINE])


async def test_a_write_on_one_node_drops_the_other_nodes_cache(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a = await user(n1, "alice")
    assert (await n2.ctx.require_account(a)).nickname == ""  # cached on node 2
    await n1.accounts.update_profile(a, AccountUpdate(nickname="Al"))
    deadline = time.monotonic() + 10
    while (await n2.ctx.require_account(a)).nickname != "Al":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


async def test_the_throttle_and_the_node_records_are_shared(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    alice = await user(n1, "alice")
    for i in range(5):  # spread over both nodes: they count together
        await refused(Code.AUTH_FAILED, (n1, n2)[i % 2].accounts.authenticate(cred("alice", "wrong")))
    deadline = time.monotonic() + 10
    while not await n2.cluster.throttle.locked(f"acct:{alice}"):  # the lock is announced to every node
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    await refused(Code.THROTTLED, n2.accounts.authenticate(cred("alice", "pw")))  # not 5 more tries
    await refused(Code.THROTTLED, n1.accounts.authenticate(cred("alice", "pw")))
    n1.nodes.put("lsnd", "node-1", b"v")
    await eventually(lambda: [r.value for r in n2.nodes.records("lsnd")] == [b"v"])
    assert n2.nodes.records("lsnd")[0].alive(time.monotonic())


async def test_a_node_that_leaves_takes_its_sessions_out_of_the_directory(
    postgres_url: str, redis_url: str
) -> None:
    n1, n2 = make_node(1, postgres_url, redis_url), make_node(2, postgres_url, redis_url)
    await n1.start()
    await n2.start()
    try:
        b = await user(n1, "bob")
        await online(n2, b)
        await eventually(lambda: n1.sessions.online(b))
    finally:
        await n2.stop()
    await eventually(lambda: not n1.sessions.online(b) and n1.cluster.directory.remote() == {})
    await n1.stop()


async def test_a_node_that_stops_refreshing_is_forgotten_within_the_ttl(
    postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_cluster_module, "SESSION_TTL", 2.0)
    monkeypatch.setattr(redis_cluster_module, "HEARTBEAT", 0.5)
    n1, n2 = make_node(1, postgres_url, redis_url), make_node(2, postgres_url, redis_url)
    await n1.start()
    await n2.start()
    b = await user(n1, "bob")
    await online(n2, b)
    await eventually(lambda: n1.sessions.online(b))
    membership: Any = n2.cluster.membership
    for task in membership._tasks:  # node 2 "dies": no leave, no heartbeat, nothing more from it
        task.cancel()
    started = time.monotonic()
    await eventually(lambda: not n1.sessions.online(b), 10)
    assert time.monotonic() - started < 2.0 + 2 * 0.5 + 1
    await n1.stop()
    await n2.store.close()


async def test_a_second_process_with_a_running_nodes_id_is_refused(
    postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_cluster_module, "SESSION_TTL", 2.0)
    monkeypatch.setattr(redis_cluster_module, "HEARTBEAT", 0.5)
    first, twin = make_node(1, postgres_url, redis_url), make_node(1, postgres_url, redis_url)
    await first.start()
    try:
        with pytest.raises(ConfigError, match="node_id 1 is in use"):
            await twin.start()
    finally:
        await twin.store.close()
        await first.stop()
    again = make_node(1, postgres_url, redis_url)  # once the first has left, the id is free at once
    await again.start()
    await again.stop()


async def test_redis_going_away_is_survived(postgres_url: str) -> None:
    server = RedisServer()
    n1, n2 = make_node(1, postgres_url, server.url), make_node(2, postgres_url, server.url)
    try:
        await n1.start()
        await n2.start()
        a, b, c = await user(n1, "alice"), await user(n1, "bob"), await user(n1, "carol")
        sa, _ = await online(n1, a)
        _, sink_b = await online(n1, b)
        _, sink_c = await online(n2, c)
        await eventually(lambda: n1.sessions.online(c))
        server.stop()
        # local users keep being served; a message for another node's user is refused, not stored
        await send(n1, sa, ConvId.peer(a, b), "local while down")
        assert sink_b.messages() == ["local while down"]
        await eventually(lambda: not n1.cluster.directory.connected())
        with pytest.raises(Unroutable):
            await send(n1, sa, ConvId.peer(a, c), "refused while down")
        assert await n1.store.last_seq(ConvId.peer(a, c)) == 0
        server.start()
        # both nodes back in Redis (their mirrors kept the others' sessions meanwhile)
        await eventually(lambda: n1.cluster.directory.connected() and n2.cluster.directory.connected(), 15)
        await eventually(lambda: n1.sessions.online(c) and n2.sessions.online(a), 15)
        await send(n1, sa, ConvId.peer(a, c), "after")
        await eventually(lambda: "after" in sink_c.messages())
    finally:
        await n2.stop()
        await n1.stop()
        server.close()


async def test_read_receipts_and_recalls_cross_nodes(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await user(n1, "alice"), await user(n1, "bob")
    sa, sink_a = await online(n1, a)
    sb, sink_b = await online(n2, b)
    await eventually(lambda: n1.sessions.online(b) and n2.sessions.online(a))
    sent = (await send(n1, sa, ConvId.peer(a, b), "oops")).message
    await eventually(lambda: sink_b.messages() == ["oops"])
    await n2.messages.mark_read(sb, sent.conv, sent.seq)  # bob reads on node 2: alice hears on node 1
    await eventually(lambda: [(e.uid, e.seq) for e in sink_a.of(ReadEvent)] == [(b, sent.seq)])
    await n1.messages.control(sa, sent, ControlCmd.RECALL, "recall-1")  # and the recall crosses back
    await eventually(lambda: [e.control.cmd for e in sink_b.of(ControlEvent)] == [ControlCmd.RECALL])


async def test_pushes_reach_every_node(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await user(n1, "alice"), await user(n1, "bob")
    _, here = await online(n1, a)
    _, there = await online(n2, b, "phone-9", DeviceClass.MOBILE)
    await eventually(lambda: n1.sessions.online(b))
    n1.push.broadcast(b"to everyone")
    await eventually(lambda: [e.payload for e in there.of(PushEvent)] == [b"to everyone"])
    assert [e.payload for e in here.of(PushEvent)] == [b"to everyone"]
    assert n1.push.to_device(b, "phone-9", b"to one device").online == 1  # on node 2
    await eventually(lambda: [e.payload for e in there.of(PushEvent)][-1:] == [b"to one device"])
    assert len(here.of(PushEvent)) == 1


async def test_a_room_spans_nodes(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b, c = await user(n1, "alice"), await user(n1, "bob"), await user(n1, "carol")
    rid = (await n1.rooms.create(a, "hall")).rid
    await eventually(lambda: n2.rooms.get(rid) is not None)  # node 2 read the new room from the store
    sa, sink_a = await online(n1, a)
    sb, sink_b = await online(n2, b)
    n1.rooms.join(sa, rid)
    await eventually(lambda: n2.rooms.count(rid) == 1)  # node 2 heard where the room has sessions
    n2.rooms.join(sb, rid, create=False)
    await eventually(lambda: n1.rooms.count(rid) == n2.rooms.count(rid) == 2)
    assert [e.uid for e in sink_a.of(RoomEvent) if e.kind is RoomChange.JOIN] == [b]
    sent = await n1.rooms.chat(sa, Outgoing(ConvId.room(rid), 1, "hello hall", "r1"))
    await eventually(lambda: [e.message for e in sink_b.of(RoomEvent) if e.kind is RoomChange.CHAT])
    [chat] = [e for e in sink_b.of(RoomEvent) if e.kind is RoomChange.CHAT]
    assert chat.message == sent.message and chat.uid == a
    # a setting made on node 1 holds on node 2; a kick there removes the session and bans its user
    sc, _ = await online(n2, c)
    n1.rooms.set_closed(rid, True)
    await eventually(lambda: n2.rooms.require(rid).closed)
    await refused(Code.ROOM_CLOSED, _join(n2, sc, rid))
    n1.rooms.set_closed(rid, False)
    await eventually(lambda: not n2.rooms.require(rid).closed)
    n1.rooms.kick(sa, rid, b)
    await eventually(lambda: not n2.rooms.inside(sb, rid))
    assert [e.uid for e in sink_b.of(RoomEvent) if e.kind is RoomChange.KICK] == [b]
    await refused(Code.BLOCKED, _join(n2, sb, rid))
    await eventually(lambda: n1.rooms.count(rid) == 1)


async def test_a_room_sub_group_spans_nodes(nodes: tuple[Core, Core]) -> None:
    """Sub-group k is the room's on every node: a join counts the other node's sessions in each sub-group,
    and a sub-group chat reaches that sub-group's sessions on both nodes, and no one else."""
    n1, n2 = nodes
    owner = await user(n1, "owner")
    rid = (await n1.rooms.create(owner, "split")).rid
    n1.rooms.set_capacity(rid, 2)
    await eventually(lambda: n2.rooms.get(rid) is not None and n2.rooms.require(rid).capacity == 2)
    s1, sink1 = await online(n1, await user(n1, "s1"))
    s2, sink2 = await online(n2, await user(n1, "s2"))
    s3, sink3 = await online(n2, await user(n1, "s3"))
    s4, sink4 = await online(n1, await user(n1, "s4"))
    assert n1.rooms.join(s1, rid).subgroup == 0
    await eventually(lambda: n2.rooms.subgroups(rid) == [1])
    assert n2.rooms.join(s2, rid).subgroup == 0  # sub-group 0 is full now, one session on each node
    assert n2.rooms.join(s3, rid).subgroup == 1
    await eventually(lambda: n1.rooms.subgroups(rid) == [2, 1])
    assert n1.rooms.join(s4, rid).subgroup == 1
    await eventually(lambda: n2.rooms.subgroups(rid) == [2, 2])
    await n1.rooms.chat(s4, Outgoing(ConvId.room(rid), 1, "to sub-group 1", "g1"), subgroup=1)

    def chats(sink: Any) -> list[str]:
        return [e.message.content for e in sink.of(RoomEvent) if e.kind is RoomChange.CHAT and e.message]

    await eventually(lambda: chats(sink3) == ["to sub-group 1"])  # on the other node
    assert chats(sink4) == ["to sub-group 1"]  # the sender's own copy
    assert chats(sink1) == chats(sink2) == []
    await n2.rooms.chat(s2, Outgoing(ConvId.room(rid), 1, "to the room", "g0"))  # sub-group 0: everyone
    await eventually(lambda: chats(sink1) == ["to the room"])
    assert chats(sink2) == ["to the room"] and chats(sink3)[-1] == chats(sink4)[-1] == "to the room"


async def _join(core: Core, session: Any, rid: int) -> None:
    core.rooms.join(session, rid)
