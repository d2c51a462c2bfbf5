"""Core pieces beehive needs but every protocol obeys: friend requests, 1:1 mutes, group changes that tell
add from remove, operator group settings, pushes, numbered devices and the node registry."""

from __future__ import annotations

from polyim.core.app import Core
from polyim.core.errors import Code
from polyim.core.events import (
    FriendChange,
    FriendEvent,
    GroupChange,
    GroupEvent,
    Presence,
    PresenceEvent,
    PushEvent,
)
from polyim.core.messaging import Outgoing
from polyim.core.nodes import ListenerInfo
from polyim.core.push import payload_of, push_topic
from polyim.core.relations import RequestOutcome
from polyim.model import ConvId, DeviceClass
from tests.core.test_core import core, online, refused, send, user

__all__ = ["core"]


# -- friend requests ----------------------------------------------------------------------------------
async def test_request_then_accept(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    _, sink_a = await online(core, a)
    _, sink_b = await online(core, b)
    assert await core.relations.request_friend(a, b, "bobby") is RequestOutcome.REQUESTED
    assert not await core.relations.is_friend(a, b)
    [req] = sink_b.of(FriendEvent)
    assert (req.uid, req.peer, req.change, req.remark) == (a, b, FriendChange.REQUESTED, "bobby")
    assert sink_a.of(FriendEvent) == []
    assert [(r.uid, r.peer, r.remark) for r in await core.relations.requests_to(b)] == [(a, b, "bobby")]

    assert await core.relations.request_friend(b, a, "ally") is RequestOutcome.ACCEPTED
    assert [(f.peer, f.remark) for f in await core.relations.friends(a)] == [(b, "bobby")]
    assert [(f.peer, f.remark) for f in await core.relations.friends(b)] == [(a, "ally")]
    assert await core.relations.requests_to(b) == [] and await core.relations.requests_to(a) == []
    added = sink_a.of(FriendEvent)[-1]
    assert (added.uid, added.peer, added.change, added.remark) == (b, a, FriendChange.ADDED, "ally")
    assert [(e.uid, e.presence) for e in sink_a.of(PresenceEvent)] == [(b, Presence.ONLINE)]
    assert [(e.uid, e.presence) for e in sink_b.of(PresenceEvent)] == [(a, Presence.ONLINE)]

    assert await core.relations.request_friend(a, b, "bob!") is RequestOutcome.UPDATED
    assert [f.remark for f in await core.relations.friends(a)] == ["bob!"]


async def test_remove_declines_and_add_settles_requests(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    _, sink_a = await online(core, a)
    await core.relations.request_friend(a, b)
    await core.relations.remove_friend(b, a)  # declines
    assert sink_a.of(FriendEvent)[-1].change is FriendChange.DECLINED
    assert await core.relations.requests_to(b) == []
    await core.relations.request_friend(a, b)
    await core.relations.add_friend(b, a)  # OMTP's immediate add settles the pending request
    assert await core.relations.requests_to(b) == []
    await core.relations.set_blocked(b, a, True)
    await core.relations.remove_friend(a, b)
    await refused(Code.BLOCKED, core.relations.request_friend(a, b))
    await refused(Code.BAD_REQUEST, core.relations.request_friend(a, a))


# -- mutes ----------------------------------------------------------------------------------------------
async def test_mute_stores_without_pushing(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, _ = await online(core, a)
    _, sink_a2 = await online(core, a, "d2", DeviceClass.MOBILE)
    _, sink_b = await online(core, b)
    await core.relations.set_muted(b, a, True)
    assert a in await core.relations.muted(b)
    conv = ConvId.peer(a, b)
    result = await send(core, sa, conv, "psst")
    assert sink_b.messages() == [] and sink_a2.messages() == ["psst"]  # the sender's other device gets it
    state = await core.messages.state(b, conv)
    assert (state.last_seq, state.delivered_seq) == (result.message.seq, 0)  # waits for sync
    await core.relations.set_muted(b, a, False)
    await send(core, sa, conv, "hello")
    assert sink_b.messages() == ["hello"]


# -- groups -----------------------------------------------------------------------------------------
async def test_group_changes_say_add_or_remove(core: Core) -> None:
    owner, mgr, m = await user(core, "o"), await user(core, "mg"), await user(core, "m")
    g = await core.groups.create(owner, "team", [mgr, m])
    _, sink_m = await online(core, m)
    await core.groups.set_manager(owner, g.gid, mgr, True)
    await core.groups.set_manager(owner, g.gid, mgr, False)
    await core.groups.set_muted(owner, g.gid, None, True)
    events = [(e.change, e.uids, e.on) for e in sink_m.of(GroupEvent)]
    assert events == [
        (GroupChange.MANAGER, (mgr,), True),
        (GroupChange.MANAGER, (mgr,), False),
        (GroupChange.MUTE, (), True),
    ]
    await core.groups.set_manager(owner, g.gid, mgr, True)
    await refused(Code.NO_PRIVILEGE, core.groups.set_muted(mgr, g.gid, owner, True))
    await refused(Code.NO_PRIVILEGE, core.groups.set_blacklisted(mgr, g.gid, owner, True))
    sink_m.clear()
    await core.groups.set_blacklisted(owner, g.gid, mgr, True)  # the owner may ban a manager
    ban = sink_m.of(GroupEvent)
    assert [(e.change, e.uids, e.on, set(e.members)) for e in ban] == [
        (GroupChange.BLACKLIST, (mgr,), True, {owner, m})
    ]
    assert await core.groups.blacklist(g.gid) == {mgr}


async def test_operator_group_settings(core: Core) -> None:
    owner, m, x = await user(core, "o"), await user(core, "m"), await user(core, "x")
    g = await core.groups.create(owner, "ops", [m])
    so, _ = await online(core, owner)
    await core.groups.set_muted(None, g.gid, m, True)  # an operator
    await core.groups.set_muted(None, g.gid, None, True)
    assert await core.groups.muted(g.gid) == (True, [m])
    await core.groups.configure(g.gid, closed=True)
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(x, g.gid, [x]))
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(owner, g.gid, [x]))  # no invites either
    await refused(Code.FORBIDDEN, core.messages.send(so, Outgoing(ConvId.group(g.gid), 1, "hi", "c1")))
    await core.groups.configure(g.gid, closed=False, member_limit=2)
    await refused(Code.GROUP_FULL, core.groups.add_members(x, g.gid, [x]))
    await core.groups.set_blacklisted(None, g.gid, m, True)
    assert m not in {mb.uid for mb in await core.groups.members(None, g.gid)}
    await refused(Code.NO_PRIVILEGE, core.groups.set_blacklisted(None, g.gid, owner, True))


async def test_invitee_who_blocked_the_inviter(core: Core) -> None:
    owner, x = await user(core, "o"), await user(core, "x")
    g = await core.groups.create(owner, "inv", [])
    await core.relations.set_blocked(x, owner, True)
    await refused(Code.BLOCKED, core.groups.add_members(owner, g.gid, [x]))


# -- pushes ---------------------------------------------------------------------------------------------
async def test_user_push_stored_and_acknowledged(core: Core) -> None:
    a = await user(core, "alice")
    _, sink = await online(core, a)
    live = await core.push.to_user(a, b"now")
    [event] = sink.of(PushEvent)
    assert (event.msgid, event.payload, event.text, event.broadcast) == (live.msgid, b"now", "now", False)
    assert live.online == 1

    stored = await core.push.to_user(a, b"\xff\x00", store=True, expire_s=60)
    [message] = [e.message for e in sink.events if hasattr(e, "message")]
    assert message.msg_id == stored.msgid and message.topic == push_topic(a)
    assert payload_of(message) == b"\xff\x00" and message.content == "/wA="  # binary: base64 text
    assert not await core.push.acknowledge(a, live.msgid)  # not stored: nothing to acknowledge
    assert await core.push.acknowledge(a, stored.msgid)
    state = await core.messages.state(a, ConvId.notify(a))
    assert state.delivered_seq == message.seq
    await refused(Code.USER_NOT_FOUND, core.push.to_user(999, b"x"))
    await refused(Code.TOO_LARGE, core.push.to_user(a, b"x" * 60_001))


async def test_broadcast_by_app(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, sink_a = await online(core, a)
    _, sink_b = await online(core, b)
    sa.app, sa.app_version = "chat", "2.0"
    assert core.push.broadcast(b"all").online == 2
    assert core.push.broadcast(b"chat", app="chat").online == 1
    assert core.push.broadcast(b"old", app="chat", version="1.0").online == 0
    assert [e.payload for e in sink_a.of(PushEvent)] == [b"all", b"chat"]
    assert [e.payload for e in sink_b.of(PushEvent)] == [b"all"]
    assert all(e.broadcast for e in sink_a.of(PushEvent))


# -- devices and the node registry ------------------------------------------------------------------
async def test_devices_bind_for_good(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    first = await core.devices.register(a)
    second = await core.devices.register(a)
    assert second == first + 1 and await core.devices.registered_since(a, 0) == 2
    await core.devices.bind(first, a)
    await refused(Code.IDENTITY_MISMATCH, core.devices.bind(first, b))
    huge = (1 << 64) - 5  # u64 on the wire, stored as a signed 64-bit integer
    await core.devices.bind(huge, b)
    core.devices._owners.clear()
    assert await core.devices.owner(huge) == b
    await core.devices.bind(first + 2, b)  # bound by a login: register skips it
    assert await core.devices.register(a) == first + 3


async def test_node_registry(core: Core) -> None:
    calls: list[int] = []
    core.nodes.add_reporter(lambda nodes: (calls.append(1), nodes.put("k", "one", b"v"))[-1])
    core.nodes.set_listeners([ListenerInfo("http", "tcp", "127.0.0.1", 8000)])
    assert len(calls) == 2 and core.nodes.listener("http", "tcp") is not None
    [record] = core.nodes.records("k")
    assert (
        record.value == b"v"
        and record.alive(record.refreshed + 1)
        and not record.alive(record.refreshed + 31)
    )


async def test_follow_is_one_way_and_buddy_groups_keep_order_and_empty_groups(core: Core) -> None:
    a, b, c = await user(core, "fa"), await user(core, "fb"), await user(core, "fc")
    _, sink_b = await online(core, b)
    await core.relations.follow(a, b, "bee", "Work")
    assert await core.relations.is_friend(a, b) and not await core.relations.is_friend(b, a)
    assert [(e.uid, e.change) for e in sink_b.of(FriendEvent)] == [(a, FriendChange.ADDED)]
    await core.relations.add_buddy_group(a, "Zoo")
    await core.relations.follow(a, c)
    assert await core.relations.buddy_groups(a) == ["Work", "Zoo"]
    await refused(Code.BAD_REQUEST, core.relations.remove_buddy_group(a, "Work"))  # not empty
    await core.relations.rename_buddy_group(a, "Work", "Office")
    await core.relations.move_buddy(a, c, "New")
    assert [(f.peer, f.buddy_group) for f in await core.relations.friends(a)] == [(b, "Office"), (c, "New")]
    await core.relations.remove_buddy_group(a, "Zoo")
    assert await core.relations.buddy_groups(a) == ["Office", "New"]
    await core.relations.set_blocked(b, a, True)
    await refused(Code.BLOCKED, core.relations.follow(a, b))
    assert await core.relations.unfollow(a, c) and not await core.relations.unfollow(a, c)


async def test_search_matches_every_condition_and_never_disabled_accounts(core: Core) -> None:
    await core.accounts.create("searchbob", "pw", nickname="Bobby", email="bob@x.cn")
    carl = await core.accounts.create("searchcarl", "pw", nickname="Bobcat")
    assert {a.username for a in await core.accounts.search(nickname="bob")} == {"searchbob", "searchcarl"}
    assert [a.username for a in await core.accounts.search(name="search", nickname="BOBBY")] == ["searchbob"]
    assert [a.username for a in await core.accounts.search(email="BOB@x.cn")] == ["searchbob"]
    assert await core.accounts.search(email="bob@x") == [] and await core.accounts.search(name="s") == []
    await core.accounts.set_disabled(carl.uid, True)
    assert [a.username for a in await core.accounts.search(nickname="bob")] == ["searchbob"]


async def test_activation_by_code_is_throttled_and_tells_no_names_apart(core: Core) -> None:
    account = await core.accounts.create("newbie", "pw", activated=False)
    code = await core.accounts.activation_code(account.uid)
    assert len(code) == 8 and code == await core.accounts.activation_code(account.uid)
    assert not await core.accounts.activate("newbie", "WRONG000")
    assert not await core.accounts.activate("nobody", code)
    assert await core.accounts.activate("newbie", code.lower())
    assert (await core.accounts.get(account.uid)).activated  # type: ignore[union-attr]
    assert await core.accounts.activate("newbie", "anything")  # already active
    for _ in range(5):
        assert not await core.accounts.activate("ghost", "X")
    await refused(Code.THROTTLED, core.accounts.activate("ghost", "X"))


async def test_accounts_by_name_come_from_the_cache_and_never_stale(core: Core) -> None:
    account = await core.accounts.create("cached", "pw")
    assert await core.accounts.by_name("cached") == account
    await core.accounts.set_disabled(account.uid, True)  # drops the entry by uid: read again
    found = await core.accounts.by_name("cached")
    assert found is not None and found.disabled
    assert await core.accounts.by_name("nobody-by-that-name") is None
