"""Room rules of the core (design.md §4 "Rooms", beehive.md §4.4) with fake sinks for adapters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from polyim.config import AccountSettings
from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.events import MessageEvent, RoomChange, RoomEvent
from polyim.core.messaging import Outgoing, SendResult
from polyim.core.rooms import RoomStat
from polyim.core.sessions import Session
from polyim.model import ContentType, ConvId, DeviceClass
from tests.core.test_core import FakeSink, core, make_core, online, refused, user

__all__ = ["core"]


def refused_now(code: Code, fn: Callable[..., object], *args: object) -> None:
    """A synchronous core call that must be refused with ``code``."""
    with pytest.raises(CoreError) as info:
        fn(*args)
    assert info.value.code is code, info.value.code


def room_events(sink: FakeSink, kind: RoomChange | None = None) -> list[RoomEvent]:
    return [e for e in sink.of(RoomEvent) if kind is None or e.kind is kind]


async def say(core: Core, session: Session, rid: int, text: str, cid: str, subgroup: int = 0) -> SendResult:
    out = Outgoing(ConvId.room(rid), ContentType.TEXT, text, cid)
    return await core.rooms.chat(session, out, subgroup)


async def three_inside(core: Core, rid: int) -> list[tuple[Session, FakeSink]]:
    members = []
    for name in ("ann", "bob", "cid"):
        members.append(await online(core, await user(core, name)))
    for session, _ in members:
        core.rooms.join(session, rid)
    for _, sink in members:
        sink.clear()
    return members


async def test_create_takes_the_rid_sequence_and_skips_rids_in_use(core: Core) -> None:
    owner = await user(core, "owner")
    s, _ = await online(core, owner)
    core.rooms.join(s, 1)  # auto-created, ownerless
    room = await core.rooms.create(owner, "lobby", "desc")
    assert room.rid == 2 and room.owner == owner and not room.where
    await refused(Code.BAD_REQUEST, core.rooms.create(owner, "x" * 65))


async def test_join_places_sessions_in_subgroups_and_announces_to_the_others(core: Core) -> None:
    core.rooms.set_capacity(None, 2)
    members = [await online(core, await user(core, n)) for n in ("a", "b", "c")]
    results = [core.rooms.join(s, 5) for s, _ in members]
    assert [r.subgroup for r in results] == [0, 0, 1] and all(r.joined for r in results)
    assert core.rooms.subgroups(5) == [2, 1]
    first = members[0][1]
    assert [e.uid for e in room_events(first, RoomChange.JOIN)] == [members[1][0].uid, members[2][0].uid]
    assert room_events(members[2][1]) == []  # the joiner's adapter tells the joiner itself
    again = core.rooms.join(members[0][0], 5)
    assert (again.subgroup, again.joined) == (0, False)
    assert core.rooms.quit(members[0][0], 5) is True
    assert core.rooms.quit(members[0][0], 5) is False  # idempotent, nothing announced
    assert [e.uid for e in room_events(members[1][1], RoomChange.QUIT)] == [members[0][0].uid]
    assert core.rooms.join(members[0][0], 5).subgroup == 0  # the freed place is reused
    refused_now(Code.ROOM_NOT_FOUND, core.rooms.join, members[0][0], 0)


async def test_chat_is_stored_and_fanned_out_to_everyone_inside_sender_included(core: Core) -> None:
    members = await three_inside(core, 7)
    sender = members[0][0]
    sent = await say(core, sender, 7, "hello room", "c1")
    assert not sent.duplicate and sent.message.seq == 1 and sent.message.conv == ConvId.room(7)
    for _, sink in members:
        [event] = room_events(sink, RoomChange.CHAT)
        assert event.message is sent.message and event.uid == sender.uid
    assert (await core.store.get_message(ConvId.room(7), 1)) is not None
    again = await say(core, sender, 7, "hello room", "c1")
    assert again.duplicate and len(room_events(members[1][1], RoomChange.CHAT)) == 1
    assert all(s.conv.kind.value != "r" for s in await core.messages.conversations(sender.uid))


async def test_chat_to_a_subgroup_reaches_it_and_the_sender(core: Core) -> None:
    core.rooms.set_capacity(None, 1)
    members = await three_inside(core, 8)
    await say(core, members[0][0], 8, "to group 2", "g2", subgroup=2)
    got = [bool(room_events(sink, RoomChange.CHAT)) for _, sink in members]
    assert got == [True, False, True]
    await refused(Code.BAD_REQUEST, say(core, members[0][0], 8, "x", "g9", subgroup=9))


async def test_chat_refusals_gag_closed_and_not_inside(core: Core) -> None:
    members = await three_inside(core, 9)
    outsider, _ = await online(core, await user(core, "out"))
    await refused(Code.NOT_IN_ROOM, say(core, outsider, 9, "x", "o1"))
    core.rooms.set_gagged(9, members[1][0].uid, True)
    await refused(Code.MUTED, say(core, members[1][0], 9, "x", "m1"))
    core.rooms.set_gagged(9, members[1][0].uid, False)
    assert not (await say(core, members[1][0], 9, "now ok", "m2")).duplicate
    core.rooms.set_closed(9, True)
    await refused(Code.ROOM_CLOSED, say(core, members[0][0], 9, "x", "c1"))
    core.rooms.set_closed(9, False)
    await refused(Code.EMPTY, say(core, members[0][0], 9, "", "e1"))


async def test_closed_and_full_rooms_refuse_joins(core: Core) -> None:
    a, _ = await online(core, await user(core, "a"))
    b, _ = await online(core, await user(core, "b"))
    core.rooms.join(a, 11)
    core.rooms.set_limit(11, 1)
    refused_now(Code.ROOM_FULL, core.rooms.join, b, 11)
    core.rooms.set_limit(11, 0)
    core.rooms.set_closed(11, True)
    refused_now(Code.ROOM_CLOSED, core.rooms.join, b, 11)
    assert core.rooms.join(a, 11).joined is False  # sessions inside stay


async def test_kick_bans_and_tells_victims_and_the_rest(core: Core) -> None:
    owner = await user(core, "boss")
    room = await core.rooms.create(owner, "r")
    boss, boss_sink = await online(core, owner)
    core.rooms.join(boss, room.rid)
    members = await three_inside(core, room.rid)
    victim = members[0][0]
    victim_other, victim_other_sink = await online(core, victim.uid, "d2", DeviceClass.MOBILE)
    core.rooms.join(victim_other, room.rid)
    boss_sink.clear()
    refused_now(Code.NOT_OWNER, core.rooms.kick, members[1][0], room.rid, victim.uid)
    refused_now(Code.FORBIDDEN, core.rooms.kick, None, room.rid, owner)
    assert core.rooms.kick(boss, room.rid, victim.uid) is True  # the kicker is inside
    assert [e.uid for e in room_events(members[0][1], RoomChange.KICK)] == [victim.uid]
    assert [e.uid for e in room_events(victim_other_sink, RoomChange.KICK)] == [victim.uid]
    assert [e.uid for e in room_events(members[1][1], RoomChange.KICK)] == [victim.uid]
    assert room_events(boss_sink) == []  # told by its own adapter
    assert core.rooms.count(room.rid) == 3
    refused_now(Code.BLOCKED, core.rooms.join, victim, room.rid)
    core.rooms.unban(room.rid, victim.uid)
    assert core.rooms.join(victim, room.rid).joined


async def test_a_session_that_ends_quits_its_rooms(core: Core) -> None:
    members = await three_inside(core, 12)
    gone, _ = members[0]
    await core.accounts.detach(gone)
    assert [e.uid for e in room_events(members[1][1], RoomChange.QUIT)] == [gone.uid]
    assert core.rooms.count(12) == 2 and core.rooms.rooms_of(gone) == []
    replaced, _ = members[1]
    await online(core, replaced.uid, "other-desktop")  # same device class: the kick policy ends it
    assert [e.uid for e in room_events(members[2][1], RoomChange.QUIT)] == [gone.uid, replaced.uid]
    assert core.rooms.count(12) == 1


async def test_broadcasts_reach_those_inside_and_later_joiners_until_expiry(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = await three_inside(core, 13)
    now = core.clock.now_ms()
    monkeypatch.setattr(core.ctx.clock, "time_ns", lambda: now * 1_000_000)
    flash = core.rooms.broadcast(13, b"now only", 0)
    kept = core.rooms.broadcast(13, b"for a minute", 60)
    assert (flash.msgid, kept.msgid) == (1, 2)
    assert [e.broadcast for e in room_events(members[0][1], RoomChange.BC)] == [flash, kept]
    late, _ = await online(core, await user(core, "late"))
    assert core.rooms.join(late, 13).broadcasts == (kept,)
    monkeypatch.setattr(core.ctx.clock, "time_ns", lambda: (now + 61_000) * 1_000_000)
    later, _ = await online(core, await user(core, "later"))
    assert core.rooms.join(later, 13).broadcasts == ()
    refused_now(Code.ROOM_NOT_FOUND, core.rooms.broadcast, 999, b"x", 0)


async def test_dismiss_is_for_the_owner_and_kills_the_rid(core: Core) -> None:
    owner = await user(core, "own")
    room = await core.rooms.create(owner, "gone soon")
    boss, _ = await online(core, owner)
    members = await three_inside(core, room.rid)
    refused_now(Code.NOT_OWNER, core.rooms.dismiss, members[0][0].uid, room.rid)
    assert core.rooms.dismiss(owner, room.rid, skip=boss.sid) is False
    for _, sink in members:
        assert [e.uid for e in room_events(sink, RoomChange.DISMISS)] == [0]
    refused_now(Code.ROOM_NOT_FOUND, core.rooms.join, members[0][0], room.rid)
    assert core.rooms.rooms_of(members[0][0]) == []
    assert (await core.rooms.create(owner, "next")).rid != room.rid


async def test_counts_tick_node_stats_and_remote_reports(core: Core) -> None:
    members = await three_inside(core, 14)
    solo, solo_sink = await online(core, await user(core, "solo"))
    core.rooms.join(solo, 15)
    assert core.rooms.tick() == 2
    assert [e.count for e in room_events(members[0][1], RoomChange.COUNT)] == [3]
    assert [e.count for e in room_events(solo_sink, RoomChange.COUNT)] == [1]
    nid = core.clock.node_id
    assert sorted(core.rooms.node_stats(), key=lambda s: s.rid) == [
        RoomStat(14, nid, 3, (3,)),
        RoomStat(15, nid, 1, (1,)),
    ]
    core.rooms.apply_node_report(nid + 1, [RoomStat(15, nid + 1, 5), RoomStat(16, nid + 1, 2)])
    assert core.rooms.count(15) == 6
    assert core.rooms.top(2) == [(15, 6), (14, 3)]


async def test_autocreate_off_and_pristine_rooms_vanish(tmp_path: Path) -> None:
    core = await make_core(tmp_path, AccountSettings())
    try:
        s, _ = await online(core, await user(core, "x"))
        core.rooms.join(s, 20)
        core.rooms.quit(s, 20)
        assert core.rooms.get(20) is None  # nobody configured it: nothing kept
        core.rooms.configure(autocreate=False)
        refused_now(Code.ROOM_NOT_FOUND, core.rooms.join, s, 21)
        refused_now(Code.ROOM_NOT_FOUND, core.rooms.quit, s, 21)
    finally:
        await core.stop()


async def test_room_messages_reach_monitoring_operators(core: Core) -> None:
    members = await three_inside(core, 22)
    op, op_sink = await online(core, await user(core, "op"), "op", DeviceClass.WEB)
    core.sessions.monitor(op, ConvId.room(22).key)
    await say(core, members[0][0], 22, "watched", "w1")
    assert [e.message.content for e in op_sink.of(MessageEvent)] == ["watched"]


async def test_too_many_rooms_per_session(core: Core) -> None:
    s, _ = await online(core, await user(core, "busy"))
    for rid in range(100, 164):
        core.rooms.join(s, rid)
    refused_now(Code.LIMIT, core.rooms.join, s, 164)


async def test_a_room_ban_and_the_other_settings_outlive_a_restart(tmp_path: Path) -> None:
    core = await make_core(tmp_path)
    try:
        owner = await user(core, "boss")
        bob, carol, dave = await user(core, "bob"), await user(core, "carol"), await user(core, "dave")
        room = await core.rooms.create(owner, "hall", "the hall")
        boss, _ = await online(core, owner)
        core.rooms.join(boss, room.rid)
        core.rooms.kick(boss, room.rid, bob)  # kick = ban
        core.rooms.set_gagged(room.rid, carol, True)
        core.rooms.set_manager(room.rid, dave, True)
        core.rooms.set_capacity(room.rid, 7)
        core.rooms.set_limit(room.rid, 50)
        core.rooms.set_closed(room.rid, True)
        core.rooms.join(boss, 30)  # auto-created: kept once something is set on it
        core.rooms.kick(None, 30, dave)
        core.rooms.join(boss, 31)  # auto-created, nothing set: never written
        gone = await core.rooms.create(owner, "gone")
        core.rooms.dismiss(owner, gone.rid)
    finally:
        await core.stop()

    core = await make_core(tmp_path)
    try:
        kept = core.rooms.require(room.rid)
        assert (kept.owner, kept.name, kept.desc, kept.capacity, kept.limit, kept.closed) == (
            owner,
            "hall",
            "the hall",
            7,
            50,
            True,
        )
        assert (kept.banned, kept.gagged, kept.managers) == ({bob}, {carol}, {dave})
        assert kept.size == 0  # who was inside is live state, not kept
        assert core.rooms.require(30).banned == {dave} and core.rooms.get(31) is None
        core.rooms.set_closed(room.rid, False)
        bob_session, _ = await online(core, bob)
        refused_now(Code.BLOCKED, core.rooms.join, bob_session, room.rid)  # the ban holds
        refused_now(Code.ROOM_NOT_FOUND, core.rooms.join, bob_session, gone.rid)  # the rid stays dead
        await refused(Code.BAD_REQUEST, core.rooms.create(owner, rid=gone.rid))
        manager, _ = await online(core, dave)
        core.rooms.join(manager, room.rid)
        carol_session, _ = await online(core, carol)
        core.rooms.join(carol_session, room.rid)
        assert core.rooms.kick(manager, room.rid, carol) is True  # still a manager
        core.rooms.unban(room.rid, bob)
    finally:
        await core.stop()

    core = await make_core(tmp_path)
    try:
        kept = core.rooms.require(room.rid)
        assert (kept.banned, kept.closed) == ({carol}, False)  # the unban and the reopening lasted too
    finally:
        await core.stop()
