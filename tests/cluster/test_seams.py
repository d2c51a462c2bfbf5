"""The core over the cluster seams: two nodes in one process sharing a hub (and one store), so every
path that crosses nodes (delivery, kicks, presence, cache invalidation, throttle, node records) runs
through the same seams and serializer a Redis implementation plugs into; and one node, whose deliveries
serialize nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from polyim.cluster import codec
from polyim.cluster.base import SessionId
from polyim.cluster.local import Hub, local_cluster
from polyim.config import AccountSettings
from polyim.core import sessions as sessions_module
from polyim.core.app import Core
from polyim.core.errors import Code
from polyim.core.events import GroupEvent, KickReason, MessageEvent, Presence, PresenceEvent
from polyim.core.messaging import Outgoing
from polyim.model import AccountUpdate, ConvId, DeviceClass
from polyim.store.sqlite import SqliteStore
from tests.core.test_core import cred, online, refused, send, user


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[Core, Core]]:
    """Nodes 1 and 2 on one hub; one store (its single writer allocates every seq)."""
    hub = Hub()
    store = SqliteStore(str(tmp_path / "db.sqlite"))
    a = Core(store, AccountSettings(), b"k", 1, cluster=local_cluster(1, hub=hub))
    b = Core(store, AccountSettings(), b"k", 2, cluster=local_cluster(2, hub=hub))
    await a.start()
    yield a, b
    b.rooms.stop()
    b.nodes.stop()
    await a.stop()


async def turn() -> None:
    """Envelopes reach the other node one loop turn after they were published."""
    for _ in range(3):
        await asyncio.sleep(0)


async def users(core: Core) -> tuple[int, int]:
    return await user(core, "alice"), await user(core, "bob")


async def friends(core: Core) -> tuple[int, int]:
    a, b = await users(core)
    await core.relations.add_friend(a, b)
    return a, b


def no_serializing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(envelope: codec.Envelope) -> bytes:
        raise AssertionError(f"serialized {envelope!r}")

    monkeypatch.setattr(sessions_module, "encode_envelope", refuse)


async def test_session_ids_name_sessions_on_every_node(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a = await user(n1, "alice")
    s1, _ = await online(n1, a, "pc")
    s2, _ = await online(n2, a, "phone", DeviceClass.MOBILE)
    assert s1.sid and s2.sid and s1.sid != s2.sid
    assert {(r.sid, r.node) for r in n2.sessions.records(a)} == {(s1.sid, 1), (s2.sid, 2)}
    assert n1.sessions.of(a) == [s1] and n2.sessions.of(a) == [s2]  # each node holds its own


async def test_a_message_crosses_nodes_serialized_and_the_sender_is_skipped_by_id(
    nodes: tuple[Core, Core],
) -> None:
    n1, n2 = nodes
    a, b = await users(n1)
    sa, sink_a = await online(n1, a, "pc")
    _, sink_a2 = await online(n2, a, "phone", DeviceClass.MOBILE)
    _, sink_b = await online(n2, b)
    res = await send(n1, sa, ConvId.peer(a, b), "across")
    await turn()
    [got] = sink_b.of(MessageEvent)
    assert got.message is not res.message and got.message == res.message  # decoded on node 2
    assert got.message.conv is ConvId.peer(a, b)
    assert sink_a2.messages() == ["across"] and sink_a.of(MessageEvent) == []


async def test_a_session_on_another_node_is_skipped_by_id(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await users(n1)
    sa2, sink_a2 = await online(n2, a, "phone", DeviceClass.MOBILE)
    _, sink_b = await online(n2, b)
    await n1.groups.create(a, "team", [b], skip=sa2.sid)
    await turn()
    assert sink_a2.of(GroupEvent) == [] and len(sink_b.of(GroupEvent)) == 1


async def test_local_recipients_cost_no_serialization(
    nodes: tuple[Core, Core], monkeypatch: pytest.MonkeyPatch
) -> None:
    n1, _ = nodes
    a, b = await users(n1)
    sa, _ = await online(n1, a)
    _, sink_b = await online(n1, b)
    no_serializing(monkeypatch)
    res = await send(n1, sa, ConvId.peer(a, b), "here")
    assert sink_b.of(MessageEvent)[0].message is res.message  # the object itself


async def test_one_node_never_serializes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    core = Core(SqliteStore(str(tmp_path / "db.sqlite")), AccountSettings(), b"k")
    await core.start()
    try:
        a, b = await friends(core)
        no_serializing(monkeypatch)
        sa, _ = await online(core, a)
        _, sink_b = await online(core, b)
        await online(core, a, "pc-2")  # kicks the first: locally
        await send(core, sa, ConvId.peer(a, b), "hi")
        assert core.cluster.directory.remote() == {}
        assert sink_b.messages() == ["hi"]
    finally:
        await core.stop()


async def test_a_duplicate_login_on_another_node_kicks_the_first(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a = await user(n1, "alice")
    first, sink1 = await online(n1, a, "pc-1")
    second, sink2 = await online(n2, a, "pc-2")
    assert [r.sid for r in n2.sessions.records(a)] == [second.sid]  # gone from the directory at once
    await turn()
    assert sink1.kicks == [KickReason.DUPLICATE_LOGIN] and sink2.kicks == []
    assert first not in n1.sessions.all() and n1.sessions.online(a)


async def test_presence_crosses_nodes(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await friends(n1)
    _, sink_b = await online(n2, b)
    pc, _ = await online(n1, a, "pc")
    phone, _ = await online(n2, a, "phone", DeviceClass.MOBILE)
    await n1.accounts.detach(pc)  # still online on node 2: no OFFLINE
    await n2.accounts.detach(phone)
    await turn()
    assert [(e.uid, e.presence) for e in sink_b.of(PresenceEvent)] == [
        (a, Presence.ONLINE),
        (a, Presence.OFFLINE),
    ]


async def test_disabling_kicks_on_every_node_and_tells_friends(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await friends(n1)
    _, sink_b = await online(n1, b)
    _, sink_a1 = await online(n1, a, "pc")
    _, sink_a2 = await online(n2, a, "phone", DeviceClass.MOBILE)
    sink_b.clear()
    await n1.accounts.set_disabled(a, True)
    await turn()
    assert sink_a1.kicks == [KickReason.DISABLED] and sink_a2.kicks == [KickReason.DISABLED]
    assert not n1.sessions.online(a) and not n2.sessions.online(a) and n2.sessions.of(a) == []
    assert [(e.uid, e.presence) for e in sink_b.of(PresenceEvent)] == [(a, Presence.OFFLINE)]


async def test_kick_device_reaches_another_node(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a = await user(n1, "alice")
    pc, _ = await online(n1, a, "pc")
    _, sink_phone = await online(n2, a, "phone", DeviceClass.MOBILE)
    assert n1.accounts.kick_device(pc, "phone")
    await turn()
    assert sink_phone.kicks == [KickReason.OWN_DEVICE] and n2.sessions.of(a) == []
    assert not n1.accounts.kick_device(pc, "phone")


async def test_a_write_on_one_node_drops_every_nodes_cache(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await users(n1)
    assert (await n2.ctx.account(a)) is not None and await n2.ctx.follower_ids(a) == frozenset()
    await n1.accounts.update_profile(a, AccountUpdate(nickname="Al"))
    await n1.relations.add_friend(a, b)
    await n1.relations.set_blocked(a, b, True)
    gid = (await n1.groups.create(a, "team", [b])).gid
    assert (await n2.ctx.members(gid)).keys() == {a, b}
    await n1.groups.remove_members(a, gid, [b])
    assert (await n2.ctx.require_account(a)).nickname == "Al"
    assert await n2.ctx.follower_ids(a) == frozenset({b})
    assert await n2.ctx.blocked_by(a) == frozenset({b})
    assert (await n2.ctx.members(gid)).keys() == {a}


async def test_the_throttle_and_the_node_records_are_shared(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    await user(n1, "alice")
    for _ in range(5):
        await refused(Code.AUTH_FAILED, n1.accounts.authenticate(cred("alice", "wrong")))
    await refused(Code.THROTTLED, n2.accounts.authenticate(cred("alice", "pw")))
    n1.nodes.put("lsnd", "node-1", b"v")
    assert [r.value for r in n2.nodes.records("lsnd")] == [b"v"]


async def test_an_envelope_for_a_gone_session_or_a_garbled_one_is_dropped(
    nodes: tuple[Core, Core], caplog: pytest.LogCaptureFixture
) -> None:
    n1, n2 = nodes
    a = await user(n1, "alice")
    _, sink = await online(n2, a)
    message = (await n1.messages.notify(a, "", 1, "n", "r1")).message
    n1.cluster.router.publish(
        2, codec.encode_envelope(codec.Delivery((SessionId(12345),), MessageEvent(message)))
    )
    with caplog.at_level(logging.ERROR):
        n1.cluster.router.publish(2, b"not an envelope")
        await turn()
    assert "undecodable envelope" in caplog.text
    assert sink.of(MessageEvent) == [MessageEvent(message)]  # from notify itself, not the envelope


async def test_the_send_path_still_acks_with_remote_recipients(nodes: tuple[Core, Core]) -> None:
    n1, n2 = nodes
    a, b = await users(n1)
    sa, _ = await online(n1, a)
    _, sink_b = await online(n2, b)
    pendings = [
        await n1.messages.send(sa, Outgoing(ConvId.peer(a, b), 1, f"m{i}", f"c{i}")) for i in range(5)
    ]
    seqs = [(await p).message.seq for p in pendings]
    await turn()
    assert seqs == [1, 2, 3, 4, 5] and sink_b.messages() == [f"m{i}" for i in range(5)]


async def test_a_node_that_leaves_takes_its_sessions_out_of_the_directory(
    nodes: tuple[Core, Core], caplog: pytest.LogCaptureFixture
) -> None:
    n1, n2 = nodes
    a, b = await users(n1)
    sa, _ = await online(n1, a)
    await online(n2, b)
    assert n1.sessions.online(b) and n1.cluster.directory.remote()
    await n2.cluster.membership.leave()
    assert not n1.sessions.online(b) and n1.cluster.directory.remote() == {}
    assert [r.sid for r in n1.sessions.records(a)] == [sa.sid]
    with caplog.at_level(logging.WARNING):
        n1.cluster.router.publish(2, b"x")
    assert "no node 2" in caplog.text
