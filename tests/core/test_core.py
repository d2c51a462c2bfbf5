"""The core facade over a real SqliteStore, with fake sinks standing in for protocol adapters."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import pytest

from polyim.config import AccountSettings
from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.events import (
    ControlEvent,
    Event,
    FriendChange,
    FriendEvent,
    GroupChange,
    GroupEvent,
    KickReason,
    MessageEvent,
    Presence,
    PresenceEvent,
    ReadEvent,
)
from polyim.core.groups import GroupPolicy
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.core.sessions import Session, Sink
from polyim.model import (
    AccountUpdate,
    ControlCmd,
    ConvId,
    ConvKind,
    DeviceClass,
    GroupKind,
    GroupRole,
    MsgStatus,
    Role,
)
from polyim.store.sqlite import SqliteStore

E = TypeVar("E")


class FakeSink(Sink):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.kicks: list[KickReason] = []

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def kick(self, reason: KickReason) -> None:
        self.kicks.append(reason)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def messages(self) -> list[str]:
        return [e.message.content for e in self.of(MessageEvent)]

    def clear(self) -> None:
        self.events.clear()
        self.kicks.clear()


async def make_core(tmp_path: Path, settings: AccountSettings | None = None) -> Core:
    core = Core(SqliteStore(str(tmp_path / "db.sqlite")), settings or AccountSettings(), secret=b"k")
    await core.start()
    return core


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    c = await make_core(tmp_path)
    yield c
    await c.stop()


async def user(core: Core, name: str, password: str = "pw", **kw: object) -> int:
    return (await core.accounts.create(name, password, **kw)).uid  # type: ignore[arg-type]


async def online(
    core: Core,
    uid: int,
    device: str = "d1",
    cls: DeviceClass = DeviceClass.DESKTOP,
    role: Role = Role.USER,
) -> tuple[Session, FakeSink]:
    sink = FakeSink()
    session = Session(uid=uid, device_id=device, device_class=cls, protocol="test", sink=sink, role=role)
    await core.accounts.attach(session)
    return session, sink


async def send(core: Core, session: Session, conv: ConvId, text: str, cid: str = "") -> SendResult:
    fut = await core.messages.send(session, Outgoing(conv, 1, text, cid or f"c-{time.monotonic_ns()}"))
    return await fut


async def refused(code: Code, coro: object) -> CoreError:
    with pytest.raises(CoreError) as info:
        await coro  # type: ignore[misc]
    assert info.value.code is code, info.value.code
    return info.value


def cred(name: str = "", secret: str = "pw", uid: int | None = None, **kw: object) -> Credentials:
    return Credentials(username=name, uid=uid, secret=secret, device_id="dev", **kw)  # type: ignore[arg-type]


# -- authentication ---------------------------------------------------------------------------------
async def test_authenticate_right_and_wrong_password(core: Core) -> None:
    uid = await user(core, "alice", "open sesame")
    assert uid == 10000
    assert (await core.accounts.authenticate(cred("alice", "open sesame"))).uid == uid
    from polyim.core.auth import md5hex

    md5_login = cred("alice", md5hex("open sesame"), is_md5=True)
    assert (await core.accounts.authenticate(md5_login)).uid == uid  # TeamTalk style
    assert (await core.accounts.authenticate(cred(uid=uid, secret="open sesame"))).username == "alice"
    assert (await core.accounts.authenticate(cred("alice", "open sesame", uid=uid))).uid == uid
    wrong = await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "nope")))
    unknown = await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("nobody", "open sesame")))
    no_uid = await refused(
        Code.AUTH_FAILED, core.accounts.authenticate(cred(uid=99999, secret="open sesame"))
    )
    assert str(wrong) == str(unknown) == str(no_uid)
    # username and uid must name the same account
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "open sesame", uid=uid + 1)))
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "")))


async def test_unknown_user_costs_the_same_password_check(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """design.md §7: nothing, timing included, may reveal whether an account exists."""
    from polyim.core import auth

    await user(core, "alice")
    calls: list[str] = []
    real = auth.verify_normalised

    def counting(stored: str, normalised: str) -> bool:
        calls.append(stored)
        return real(stored, normalised)

    monkeypatch.setattr(auth, "verify_normalised", counting)
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "bad")))
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("nobody", "bad")))
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred(uid=55555, secret="bad")))
    assert len(calls) == 3 and all(h.startswith("$argon2id$") for h in calls)


async def test_throttle_refuses_even_the_right_password(core: Core) -> None:
    await user(core, "alice")
    bob = await user(core, "bob")
    for _ in range(5):
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "bad")))
    await refused(Code.THROTTLED, core.accounts.authenticate(cred("alice", "pw")))
    assert (await core.accounts.authenticate(cred("bob", "pw"))).uid == bob  # others unaffected
    # unknown names are throttled alike, so the throttle does not reveal who exists
    for _ in range(5):
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("ghost", "bad")))
    await refused(Code.THROTTLED, core.accounts.authenticate(cred("ghost", "pw")))


async def test_success_resets_the_failure_count(core: Core) -> None:
    await user(core, "alice")
    for _ in range(4):
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "bad")))
    await core.accounts.authenticate(cred("alice", "pw"))
    for _ in range(4):
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "bad")))
    await core.accounts.authenticate(cred("alice", "pw"))


async def test_address_throttle_has_four_times_the_limit(tmp_path: Path) -> None:
    core = await make_core(tmp_path, AccountSettings(max_failed_logins=2))
    try:
        for name in ("a", "b", "c", "d"):
            await user(core, name)
        for name in ("a", "b", "c"):  # 6 failures from one address, 2 per account (each locks it)
            for _ in range(2):
                await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred(name, "x", addr="1.2.3.4")))
        await refused(Code.THROTTLED, core.accounts.authenticate(cred("a", "pw", addr="9.9.9.8")))
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("d", "x", addr="1.2.3.4")))
        await user(core, "e")
        assert (await core.accounts.authenticate(cred("e", "pw", addr="1.2.3.4"))).username == "e"
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("d", "x", addr="1.2.3.4")))  # 8th
        await refused(Code.THROTTLED, core.accounts.authenticate(cred("e", "pw", addr="1.2.3.4")))
        assert (await core.accounts.authenticate(cred("e", "pw", addr="5.5.5.5"))).username == "e"
    finally:
        await core.stop()


async def test_disabled_and_unactivated_accounts(tmp_path: Path) -> None:
    core = await make_core(tmp_path, AccountSettings(require_activation=True))
    try:
        uid = await user(core, "alice")
        await user(core, "newbie", activated=False)
        await core.accounts.set_disabled(uid, True)
        await refused(Code.DISABLED, core.accounts.authenticate(cred("alice", "pw")))
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", "bad")))
        await refused(Code.DISABLED, core.accounts.authenticate(cred("newbie", "pw")))
        await core.accounts.set_disabled(uid, False)
        assert (await core.accounts.authenticate(cred("alice", "pw"))).uid == uid
    finally:
        await core.stop()


async def test_token_login(core: Core) -> None:
    uid = await user(core, "alice")
    bob = await user(core, "bob")
    token = core.accounts.issue_token(uid, "phone")
    assert (await core.accounts.authenticate(cred("alice", token))).uid == uid
    assert (await core.accounts.authenticate(cred(uid=uid, secret=token))).uid == uid
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("bob", token)))  # not bob's
    expired = core.accounts.tokens.issue(uid, "phone", 60, now=time.time() - 3600)
    await refused(Code.AUTH_FAILED, core.accounts.authenticate(cred("alice", expired)))
    assert bob


async def test_disable_kicks_sessions_and_tells_friends(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    await core.relations.add_friend(a, b)
    _, sink_b = await online(core, b)
    sa1, sink_a1 = await online(core, a, "pc")
    sa2, sink_a2 = await online(core, a, "phone", DeviceClass.MOBILE)
    sink_b.clear()
    await core.accounts.set_disabled(a, True)
    assert sink_a1.kicks == [KickReason.DISABLED] and sink_a2.kicks == [KickReason.DISABLED]
    assert not core.sessions.online(a)
    assert [(e.uid, e.presence) for e in sink_b.of(PresenceEvent)] == [(a, Presence.OFFLINE)]
    assert sa1 and sa2


async def test_profile_update_writes_only_profile_fields(core: Core) -> None:
    uid = await user(core, "alice", nickname="Al")
    await core.accounts.get(uid)  # cached: the update must drop it
    updated = await core.accounts.update_profile(uid, AccountUpdate(avatar="a.png", birthday=19990101))
    assert (updated.nickname, updated.avatar, updated.birthday) == ("Al", "a.png", 19990101)
    assert await core.accounts.get(uid) == updated
    for privileged in (AccountUpdate(role=Role.OPERATOR), AccountUpdate(disabled=True, nickname="x")):
        await refused(Code.BAD_REQUEST, core.accounts.update_profile(uid, privileged))
    assert await core.accounts.get(uid) == updated
    await refused(Code.USER_NOT_FOUND, core.accounts.update_profile(99999, AccountUpdate(nickname="x")))


# -- sessions, kick policy, presence -------------------------------------------------------------
async def test_kick_policy(core: Core) -> None:
    a = await user(core, "alice")
    desk1, sink1 = await online(core, a, "pc-1")
    phone, sink_phone = await online(core, a, "phone", DeviceClass.MOBILE)
    assert sink1.kicks == []  # another device class does not kick
    desk2, sink2 = await online(core, a, "pc-2")
    assert sink1.kicks == [KickReason.DUPLICATE_LOGIN]  # same class, any protocol, kicks the older
    assert sink_phone.kicks == [] and sink2.kicks == []
    assert set(core.sessions.of(a)) == {phone, desk2}
    # the same device id takes over even as another class
    web, sink_web = await online(core, a, "phone", DeviceClass.WEB)
    assert sink_phone.kicks == [KickReason.DUPLICATE_LOGIN]
    assert set(core.sessions.of(a)) == {desk2, web}
    assert sink_web.kicks == [] and sink2.kicks == []
    assert desk1 not in core.sessions.of(a)


async def test_presence_to_online_friends_on_first_attach_and_last_detach(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    await core.relations.add_friend(a, b)
    _, sink_b = await online(core, b)
    _, sink_c = await online(core, c)  # not a friend
    sink_b.clear()
    pc, _ = await online(core, a, "pc")
    assert [(e.uid, e.presence) for e in sink_b.of(PresenceEvent)] == [(a, Presence.ONLINE)]
    phone, _ = await online(core, a, "phone", DeviceClass.MOBILE)
    await core.accounts.detach(pc)
    assert len(sink_b.of(PresenceEvent)) == 1  # still online on the phone
    await core.accounts.detach(phone)
    assert [(e.uid, e.presence) for e in sink_b.of(PresenceEvent)] == [
        (a, Presence.ONLINE),
        (a, Presence.OFFLINE),
    ]
    await core.accounts.detach(phone)  # twice is harmless
    assert len(sink_b.of(PresenceEvent)) == 2
    assert sink_c.of(PresenceEvent) == []


async def test_presence_goes_to_the_users_who_have_one_as_a_friend(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    await core.relations.follow(a, b)  # a has b; b does not have a
    _, sink_a = await online(core, a)
    _, sink_b = await online(core, b)
    assert [(e.uid, e.presence) for e in sink_a.of(PresenceEvent)] == [(b, Presence.ONLINE)]
    assert sink_b.of(PresenceEvent) == []


async def test_presence_levels_and_invisibility_reach_friends_as_aggregate_changes(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    await core.relations.add_friend(a, b)
    _, sink_b = await online(core, b)
    sink_b.clear()
    hidden = Session(
        uid=a, device_id="pc", device_class=DeviceClass.DESKTOP, protocol="test", sink=FakeSink()
    )
    hidden.presence = Presence.OFFLINE  # an invisible login: friends see nothing
    await core.accounts.attach(hidden)
    assert sink_b.of(PresenceEvent) == [] and core.accounts.presence(a) is Presence.OFFLINE
    await core.accounts.set_presence(hidden, Presence.AWAY)
    phone, _ = await online(core, a, "phone", DeviceClass.MOBILE)  # ONLINE beats AWAY
    await core.accounts.set_presence(phone, Presence.ONLINE)  # no change: nothing said
    await core.accounts.set_presence(hidden, Presence.BUSY)  # the aggregate stays ONLINE
    await core.accounts.detach(phone)
    await core.accounts.set_presence(hidden, Presence.OFFLINE)
    await core.accounts.detach(hidden)
    seen = [e.presence for e in sink_b.of(PresenceEvent)]
    assert seen == [Presence.AWAY, Presence.ONLINE, Presence.BUSY, Presence.OFFLINE]


# -- 1:1 messages ----------------------------------------------------------------------------------
async def test_send_peer_delivery(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, sink_a = await online(core, a, "pc")
    _, sink_a2 = await online(core, a, "phone", DeviceClass.MOBILE)
    _, sink_b = await online(core, b)
    fut = await core.messages.send(sa, Outgoing(ConvId.peer(a, b), 1, "hi", "cid1"), origin="test")
    res = await fut
    assert not res.duplicate
    m = res.message
    assert (m.conv, m.seq, m.sender, m.device, m.client_id, m.content) == (
        ConvId.peer(a, b),
        1,
        a,
        "pc",
        "cid1",
        "hi",
    )
    assert m.recipient == b and m.msg_id > 0 and m.ts_ms > 0
    assert sink_b.messages() == ["hi"] and sink_a2.messages() == ["hi"]
    assert sink_b.of(MessageEvent)[0].origin_protocol == "test"
    assert sink_a.of(MessageEvent) == []  # the sending session gets the ack, not an echo
    second = await send(core, sa, ConvId.peer(a, b), "again")
    assert second.message.seq == 2 and second.message.msg_id > m.msg_id
    stored = await core.store.get_message(ConvId.peer(a, b), 1)
    assert stored is not None and stored.content == "hi"


async def test_send_to_self_and_offline_recipient(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, sink_a = await online(core, a, "pc")
    _, sink_a2 = await online(core, a, "phone", DeviceClass.MOBILE)
    await send(core, sa, ConvId.peer(a, a), "note to self")
    assert sink_a2.messages() == ["note to self"] and sink_a.of(MessageEvent) == []
    res = await send(core, sa, ConvId.peer(a, b), "while you were away")
    state = await core.messages.state(b, ConvId.peer(a, b))
    assert state.unread == 1 and state.last_seq == res.message.seq


async def test_send_refusals(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    sa, _ = await online(core, a)
    _, sink_b = await online(core, b)
    p = ConvId.peer(a, b)
    await refused(Code.EMPTY, core.messages.send(sa, Outgoing(p, 1, "", "e1")))
    big = "x" * (core.settings.max_message_bytes + 1)
    await refused(Code.TOO_LARGE, core.messages.send(sa, Outgoing(p, 1, big, "e2")))
    await refused(Code.TOO_LARGE, core.messages.send(sa, Outgoing(p, 1, "é" * (len(big) // 2 + 1), "e3")))
    await refused(Code.USER_NOT_FOUND, core.messages.send(sa, Outgoing(ConvId.peer(a, 424242), 1, "x", "e4")))
    await refused(Code.IDENTITY_MISMATCH, core.messages.send(sa, Outgoing(ConvId.peer(b, c), 1, "x", "e5")))
    await refused(Code.BAD_REQUEST, core.messages.send(sa, Outgoing(ConvId.notify(b), 1, "x", "e6")))
    await core.relations.set_blocked(b, a, True)
    await refused(Code.BLOCKED, core.messages.send(sa, Outgoing(p, 1, "let me in", "e7")))
    assert sink_b.of(MessageEvent) == []
    assert await core.store.last_seq(p) == 0  # nothing stored
    await core.relations.set_blocked(b, a, False)
    assert (await send(core, sa, p, "ok now")).message.seq == 1
    # data alone is a message
    fut = await core.messages.send(sa, Outgoing(p, 2, "", "img", data=b"\x89PNG"))
    assert (await fut).message.data == b"\x89PNG"


async def test_verdicts_are_the_same_once_the_facts_are_cached(core: Core) -> None:
    """The first send of a kind loads the facts its rules need; the next one is checked from the caches
    without a coroutine. Both give the same verdict, and a change made meanwhile counts at once."""
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    sa, _ = await online(core, a)
    sc, _ = await online(core, c)
    sb, sink_b = await online(core, b)
    p = ConvId.peer(a, b)
    big = "x" * (core.settings.max_message_bytes + 1)
    for attempt in ("first", "cached"):
        await refused(Code.TOO_LARGE, core.messages.send(sa, Outgoing(p, 1, big, f"big-{attempt}")))
        await refused(
            Code.IDENTITY_MISMATCH,
            core.messages.send(sa, Outgoing(ConvId.peer(b, c), 1, "x", f"i-{attempt}")),
        )
    await send(core, sa, p, "warm")  # every fact of this pair is cached now
    await core.relations.set_muted(b, a, True)  # a's messages reach b by sync only
    for attempt in ("first", "cached"):
        stored = await send(core, sa, p, f"muted {attempt}")
        assert f"muted {attempt}" not in sink_b.messages() and stored.message.seq > 0
    await core.relations.set_muted(b, a, False)
    await core.relations.set_blocked(b, a, True)
    for attempt in ("first", "cached"):
        await refused(Code.BLOCKED, core.messages.send(sa, Outgoing(p, 1, "x", f"b-{attempt}")))
    await core.relations.set_blocked(b, a, False)
    await send(core, sa, p, "unblocked")
    assert "unblocked" in sink_b.messages()
    group = ConvId.group((await core.groups.create(a, "rules", [b])).gid)
    await send(core, sa, group, "warm the group")
    for attempt in ("first", "cached"):
        await refused(Code.NOT_MEMBER, core.messages.send(sc, Outgoing(group, 1, "x", f"nm-{attempt}")))
    await core.groups.set_muted(a, group.a, None, True)  # everyone but owner and managers
    for attempt in ("first", "cached"):
        stored = await send(core, sa, group, f"owner speaks {attempt}")
        assert stored.message.seq > 0
    for attempt in ("first", "cached"):
        await refused(Code.MUTED, core.messages.send(sb, Outgoing(group, 1, "x", f"m-{attempt}")))


async def test_send_policy_is_the_protocols_limit_and_friendship_rule(core: Core) -> None:
    """A protocol's own limits are a policy the core applies, for 1:1, group and room sends alike."""
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, _ = await online(core, a)
    _, sink_b = await online(core, b)
    p = ConvId.peer(a, b)
    small = SendPolicy(max_bytes=8)
    await refused(Code.TOO_LARGE, core.messages.send(sa, Outgoing(p, 1, "123456789", "p1"), "t", small))
    assert (await send(core, sa, p, "12345678")).message.seq == 1  # the core's own limit is larger
    gid = (await core.groups.create(a, "policy", [b])).gid
    group_out = Outgoing(ConvId.group(gid), 1, "123456789", "p2")
    await refused(Code.TOO_LARGE, core.messages.send(sa, group_out, "t", small))
    room = await core.rooms.create(a)
    core.rooms.join(sa, room.rid)
    with pytest.raises(CoreError) as err:
        core.rooms.chat(sa, Outgoing(ConvId.room(room.rid), 1, "123456789", "p3"), 0, small)
    assert err.value.code is Code.TOO_LARGE
    friends_only = SendPolicy(require_friend=True)
    await refused(Code.NOT_FRIEND, core.messages.send(sa, Outgoing(p, 1, "hi", "p4"), "t", friends_only))
    note = await core.messages.send(sa, Outgoing(ConvId.peer(a, a), 1, "to self", "p5"), "t", friends_only)
    assert (await note).message.seq == 1
    await core.relations.add_friend(a, b)
    ok = await core.messages.send(sa, Outgoing(p, 1, "friends now", "p6"), "t", friends_only)
    assert (await ok).message.content == "friends now" and "friends now" in sink_b.messages()
    await core.relations.set_blocked(b, a, True)  # a blocked sender hears "blocked", not "not a friend"
    await refused(Code.BLOCKED, core.messages.send(sa, Outgoing(p, 1, "x", "p7"), "t", friends_only))


async def test_resend_same_client_id_is_duplicate_and_not_redelivered(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, _ = await online(core, a)
    _, sink_b = await online(core, b)
    p = ConvId.peer(a, b)
    first = await send(core, sa, p, "hi", "cid1")
    again = await send(core, sa, p, "hi", "cid1")
    assert again.duplicate and again.message == first.message
    assert sink_b.messages() == ["hi"]
    assert await core.store.last_seq(p) == 1
    # two in flight at once (pipelined) still commit once
    f1 = await core.messages.send(sa, Outgoing(p, 1, "x", "cid2"))
    f2 = await core.messages.send(sa, Outgoing(p, 1, "x", "cid2"))
    r1, r2 = await f1, await f2
    assert [r1.duplicate, r2.duplicate] == [False, True] and r1.message == r2.message
    assert sink_b.messages() == ["hi", "x"]


# -- groups: sending -------------------------------------------------------------------------------
async def test_group_send_membership_and_mute(core: Core) -> None:
    owner, mgr, mem, out = [await user(core, n) for n in ("o", "m", "e", "x")]
    g = await core.groups.create(owner, "team", [mgr, mem])
    await core.groups.set_manager(owner, g.gid, mgr, True)
    so, sink_o = await online(core, owner)
    sm, sink_m = await online(core, mgr)
    se, sink_e = await online(core, mem)
    sx, sink_x = await online(core, out)
    conv = ConvId.group(g.gid)
    await send(core, se, conv, "hello all")
    assert sink_o.messages() == ["hello all"] and sink_m.messages() == ["hello all"]
    assert sink_e.messages() == [] and sink_x.messages() == []
    await refused(Code.NOT_MEMBER, core.messages.send(sx, Outgoing(conv, 1, "hey", "x1")))
    await refused(Code.GROUP_NOT_FOUND, core.messages.send(sx, Outgoing(ConvId.group(999), 1, "hey", "x2")))

    await core.groups.set_muted(owner, g.gid, mem, True)
    await refused(Code.MUTED, core.messages.send(se, Outgoing(conv, 1, "mmph", "e2")))
    await core.groups.set_muted(owner, g.gid, mem, False)
    await send(core, se, conv, "free again")

    await core.groups.set_muted(mgr, g.gid, None, True)  # mute all: owner and managers still speak
    await refused(Code.MUTED, core.messages.send(se, Outgoing(conv, 1, "mmph", "e3")))
    await send(core, so, conv, "owner speaks")
    await send(core, sm, conv, "manager speaks")
    await refused(Code.NO_PRIVILEGE, core.groups.set_muted(mem, g.gid, None, False))
    await core.groups.set_muted(owner, g.gid, None, False)
    assert (await send(core, se, conv, "member speaks")).message.seq == 5
    assert sink_x.messages() == []


# -- recall / edit / delete ----------------------------------------------------------------------
async def test_peer_control_permissions_and_events(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, sink_a = await online(core, a, "pc")
    _, sink_a2 = await online(core, a, "phone", DeviceClass.MOBILE)
    sb, sink_b = await online(core, b)
    p = ConvId.peer(a, b)
    for i in range(3):
        await send(core, sa, p, f"m{i + 1}")
    m1 = await core.messages.message_for_control(sb, p, 1)
    await refused(Code.FORBIDDEN, core.messages.control(sb, m1, ControlCmd.RECALL, "b1"))
    await refused(Code.FORBIDDEN, core.messages.control(sb, m1, ControlCmd.DELETE, "b2"))
    await refused(Code.FORBIDDEN, core.messages.control(sb, m1, ControlCmd.EDIT, "b3", "hacked"))

    ctl = await core.messages.control(sa, m1, ControlCmd.RECALL, "r1")
    assert ctl.cmd is ControlCmd.RECALL and ctl.actor == a and ctl.seq == 1
    for sink in (sink_b, sink_a2):
        (ev,) = sink.of(ControlEvent)
        assert ev.control == ctl and ev.message is not None and ev.message.status is MsgStatus.RECALLED
    assert sink_a.of(ControlEvent) == []
    # a recalled message cannot be edited back to life
    recalled = await core.messages.message_for_control(sa, p, 1)
    await refused(Code.FORBIDDEN, core.messages.control(sa, recalled, ControlCmd.EDIT, "r2", "back"))

    m2 = await core.messages.message_for_control(sa, p, 2)
    await refused(Code.EMPTY, core.messages.control(sa, m2, ControlCmd.EDIT, "e0", ""))
    await core.messages.control(sa, m2, ControlCmd.EDIT, "e1", "m2 fixed")
    ev = sink_b.of(ControlEvent)[-1]
    assert ev.control.cmd is ControlCmd.EDIT and ev.message is not None and ev.message.content == "m2 fixed"
    # a resent control is not applied or announced twice
    await core.messages.control(sa, m2, ControlCmd.EDIT, "e1", "m2 fixed")
    assert len(sink_b.of(ControlEvent)) == 2

    m3 = await core.messages.message_for_control(sa, p, 3)
    await core.messages.control(sa, m3, ControlCmd.DELETE, "d1")
    assert sink_b.of(ControlEvent)[-1].control.cmd is ControlCmd.DELETE
    await refused(Code.MSG_NOT_FOUND, core.messages.message_for_control(sa, p, 3))
    await refused(Code.MSG_NOT_FOUND, core.messages.message_for_control(sa, p, 99))
    hist = await core.messages.history(sb, p, 0, 10)
    assert [(m.seq, m.content, m.status) for m in hist] == [
        (2, "m2 fixed", MsgStatus.EDITED),
        (1, "", MsgStatus.RECALLED),
    ]
    c = await user(core, "carol")
    sc, _ = await online(core, c)
    await refused(Code.NOT_PARTICIPANT, core.messages.message_for_control(sc, p, 2))


async def test_group_control_by_owner_and_manager(core: Core) -> None:
    owner, mgr, m1, m2 = [await user(core, n) for n in ("o", "m", "a", "b")]
    g = await core.groups.create(owner, "team", [mgr, m1, m2])
    await core.groups.set_manager(owner, g.gid, mgr, True)
    so, sink_o = await online(core, owner)
    sm, _ = await online(core, mgr)
    s1, sink_1 = await online(core, m1)
    s2, sink_2 = await online(core, m2)
    conv = ConvId.group(g.gid)
    for i in range(4):
        await send(core, s1, conv, f"spam{i}")
    msgs = [await core.messages.message_for_control(so, conv, s) for s in range(1, 5)]
    await refused(Code.FORBIDDEN, core.messages.control(s2, msgs[0], ControlCmd.RECALL, "x"))
    await refused(Code.FORBIDDEN, core.messages.control(s2, msgs[0], ControlCmd.DELETE, "x"))
    await refused(Code.FORBIDDEN, core.messages.control(so, msgs[0], ControlCmd.EDIT, "x", "owner edit"))
    await core.messages.control(so, msgs[0], ControlCmd.RECALL, "o1")
    await core.messages.control(sm, msgs[1], ControlCmd.RECALL, "m1")
    await core.messages.control(sm, msgs[2], ControlCmd.DELETE, "m2")
    await core.messages.control(s1, msgs[3], ControlCmd.EDIT, "a1", "sorry")
    assert [e.control.cmd for e in sink_2.of(ControlEvent)] == [
        ControlCmd.RECALL,
        ControlCmd.RECALL,
        ControlCmd.DELETE,
        ControlCmd.EDIT,
    ]
    assert len(sink_1.of(ControlEvent)) == 3  # not its own edit
    assert len(sink_o.of(ControlEvent)) == 3  # not its own recall
    statuses = [m.status for m in await core.store.messages_after(conv, 0, 10)]
    assert statuses == [MsgStatus.RECALLED, MsgStatus.RECALLED, MsgStatus.DELETED, MsgStatus.EDITED]


# -- read cursors, history, monitors ---------------------------------------------------------------
async def test_mark_read(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    sa, sink_a = await online(core, a)
    sb, sink_b = await online(core, b, "pc")
    _, sink_b2 = await online(core, b, "phone", DeviceClass.MOBILE)
    sc, _ = await online(core, c)
    p = ConvId.peer(a, b)
    for i in range(3):
        await send(core, sa, p, f"m{i}")
    assert (await core.messages.state(b, p)).unread == 3
    assert await core.messages.mark_read(sb, p, 2) == 2
    assert [(e.uid, e.conv, e.seq) for e in sink_b2.of(ReadEvent)] == [(b, p, 2)]
    assert [(e.uid, e.seq) for e in sink_a.of(ReadEvent)] == [(b, 2)]  # the 1:1 peer learns it
    assert sink_b.of(ReadEvent) == []
    assert await core.messages.mark_read(sb, p, 99) == 3  # clamped
    assert await core.messages.mark_read(sb, p, 1) == 3  # never back
    assert (await core.messages.state(b, p)).unread == 0
    await refused(Code.NOT_PARTICIPANT, core.messages.mark_read(sc, p, 1))

    g = await core.groups.create(a, "g", [b, c])
    await send(core, sa, ConvId.group(g.gid), "group hi")
    sink_a.clear()
    assert await core.messages.mark_read(sc, ConvId.group(g.gid), 1) == 1
    assert sink_a.of(ReadEvent) == []  # group reads are not announced to others


async def test_history_access(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    op = await user(core, "root", role=Role.OPERATOR)
    sa, _ = await online(core, a)
    sc, _ = await online(core, c)
    sop, _ = await online(core, op, role=Role.OPERATOR)
    p = ConvId.peer(a, b)
    for i in range(5):
        await send(core, sa, p, f"m{i}")
    assert [m.content for m in await core.messages.history(sa, p, 0, 2)] == ["m4", "m3"]
    assert [m.content for m in await core.messages.history(sa, p, 3, 10)] == ["m2", "m1", "m0"]
    assert [m.seq for m in await core.messages.since(sa, p, 3, 10)] == [4, 5]
    await refused(Code.NOT_PARTICIPANT, core.messages.history(sc, p, 0, 10))
    await refused(Code.NOT_PARTICIPANT, core.messages.since(sc, p, 0, 10))
    assert len(await core.messages.history(sop, p, 0, 10)) == 5  # operators may read any history
    g = await core.groups.create(a, "g", [b])
    await refused(Code.NOT_PARTICIPANT, core.messages.history(sc, ConvId.group(g.gid), 0, 10))
    assert await core.messages.history(sop, ConvId.group(g.gid), 0, 10) == []


async def test_monitors(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    op = await user(core, "root", role=Role.OPERATOR)
    sa, _ = await online(core, a)
    sb, sink_b = await online(core, b)
    sc, sink_c = await online(core, c)
    sop, sink_op = await online(core, op, role=Role.OPERATOR)
    p = ConvId.peer(a, b)
    await refused(Code.FORBIDDEN, core.messages.monitor(sc, p))
    await core.messages.monitor(sop, p)
    await core.messages.monitor(sb, p)  # a participant may monitor too
    await core.messages.monitor(sb, p)
    await send(core, sa, p, "watched")
    assert sink_op.messages() == ["watched"]
    assert sink_b.messages() == ["watched"]  # once, although participant and monitor
    assert sink_c.messages() == []
    m = await core.messages.message_for_control(sa, p, 1)
    await core.messages.control(sa, m, ControlCmd.RECALL, "r")
    assert len(sink_op.of(ControlEvent)) == 1 and len(sink_b.of(ControlEvent)) == 1
    core.messages.unmonitor(sop, p)
    await send(core, sa, p, "private again")
    assert sink_op.messages() == ["watched"]
    # monitors end with the session
    await core.messages.monitor(sop, p)
    await core.accounts.detach(sop)
    assert core.sessions.monitors_of(p.key) == {sb}
    with pytest.raises(CoreError) as info:
        for i in range(3):
            await core.messages.monitor(sop, ConvId.peer(a, 20000 + i), limit=2)
    assert info.value.code is Code.LIMIT


async def test_a_delivery_reaches_each_session_once_and_never_the_skipped_one(core: Core) -> None:
    """The registry's two ways, each session once: distinct users (every 1:1 message's way), and a
    user named twice or also monitoring (the general way)."""
    a, b = await user(core, "alice"), await user(core, "bob")
    sa, sink_a = await online(core, a)
    _, sink_a2 = await online(core, a, "d2", DeviceClass.MOBILE)
    sb, sink_b = await online(core, b)
    event = PresenceEvent(a, Presence.ONLINE)
    assert core.sessions.deliver([a, b], event, skip=sa.sid) == 2
    assert core.sessions.deliver([b, a, b, a], event, skip=sa.sid) == 2
    await core.messages.monitor(sb, ConvId.peer(a, b))
    assert core.sessions.deliver([b], event, conv_key=ConvId.peer(a, b).key) == 1
    assert core.sessions.deliver((u for u in (a, b)), event) == 3
    assert [len(s.events) for s in (sink_a, sink_a2, sink_b)] == [1, 3, 4]


# -- notifications ---------------------------------------------------------------------------------
async def test_notifications_stream(core: Core) -> None:
    b = await user(core, "bob")
    sb, sink_b = await online(core, b)
    res = await core.messages.notify(b, "news", 1, "extra! extra!", "req-1", extra={"from": "app"})
    assert not res.duplicate
    m = res.message
    assert (m.conv, m.seq, m.topic, m.content, m.extra) == (
        ConvId.notify(b),
        1,
        "news",
        "extra! extra!",
        {"from": "app"},
    )
    assert sink_b.messages() == ["extra! extra!"]
    assert sink_b.of(MessageEvent)[0].message.topic == "news"
    await core.messages.notify(b, "news", 1, "more news", "req-2")
    await core.messages.notify(b, "bills", 1, "pay up", "req-3")
    dup = await core.messages.notify(b, "news", 1, "extra! extra!", "req-1")
    assert dup.duplicate and dup.message == m
    assert len(sink_b.of(MessageEvent)) == 3
    topics = {
        s.topic: s.unread for s in await core.messages.conversations(b) if s.conv.kind is ConvKind.NOTIFY
    }
    assert topics == {"news": 2, "bills": 1}
    assert await core.messages.mark_read(sb, ConvId.notify(b), 2, topic="news") == 2
    topics = {
        s.topic: s.unread for s in await core.messages.conversations(b) if s.conv.kind is ConvKind.NOTIFY
    }
    assert topics == {"news": 0, "bills": 1}
    hist = await core.messages.history(sb, ConvId.notify(b), 0, 10, topic="news")
    assert [h.content for h in hist] == ["more news", "extra! extra!"]
    await refused(Code.USER_NOT_FOUND, core.messages.notify(4242, "news", 1, "x", "req-9"))
    c = await user(core, "carol")
    sc, _ = await online(core, c)
    await refused(Code.NOT_PARTICIPANT, core.messages.history(sc, ConvId.notify(b), 0, 10))


async def test_conversations_list(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    sa, _ = await online(core, a)
    await send(core, sa, ConvId.peer(a, b), "hi")
    g = await core.groups.create(c, "g", [a, b])
    await send(core, sa, ConvId.group(g.gid), "hi group")
    convs = {s.conv: s.unread for s in await core.messages.conversations(b)}
    assert convs == {ConvId.peer(a, b): 1, ConvId.group(g.gid): 1}
    await core.groups.remove_members(b, g.gid, [b])
    assert {s.conv for s in await core.messages.conversations(b)} == {ConvId.peer(a, b)}


# -- groups: management ----------------------------------------------------------------------------
async def test_group_create(core: Core) -> None:
    a, b, c = await user(core, "alice"), await user(core, "bob"), await user(core, "carol")
    _, sink_b = await online(core, b)
    sa, sink_a = await online(core, a)
    g = await core.groups.create(a, "team", [b, c, b], desc="the team", skip=sa.sid)
    assert g.owner == a and g.name == "team" and g.desc == "the team"
    members = await core.groups.members(sa, g.gid)
    assert [(m.uid, m.role) for m in members] == [
        (a, GroupRole.OWNER),
        (b, GroupRole.MEMBER),
        (c, GroupRole.MEMBER),
    ]
    (ev,) = sink_b.of(GroupEvent)
    assert ev.change is GroupChange.CREATED and ev.actor == a and set(ev.members) == {a, b, c}
    assert sink_a.of(GroupEvent) == []  # skipped: the creator's session gets the reply
    await refused(Code.NAME_TAKEN, core.groups.create(b, "team", []))
    await refused(Code.GROUP_FULL, core.groups.create(a, "small", [b, c], member_limit=2))
    await refused(Code.USER_NOT_FOUND, core.groups.create(a, "ghosts", [b, 99999]))
    unnamed = await core.groups.create(b, "", [])
    assert unnamed.name == f"GC_{unnamed.gid}" and unnamed.owner == b
    assert [x.gid for x in await core.groups.of_user(b)] == [g.gid, unnamed.gid]
    assert (await core.groups.by_name("team")) == g
    sc, _ = await online(core, await user(core, "dan"))
    await refused(Code.NOT_MEMBER, core.groups.members(sc, g.gid))


async def test_group_add_rules(core: Core) -> None:
    owner, m, x, y = [await user(core, n) for n in ("o", "m", "x", "y")]
    g = await core.groups.create(owner, "open", [m], member_limit=4)
    _, sink_m = await online(core, m)
    _, sink_x = await online(core, x)
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(x, g.gid, [y]))  # a stranger adds another
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(x, g.gid, [x, y]))
    assert await core.groups.add_members(x, g.gid, [x]) == [x]  # joins an open group itself
    ev = sink_m.of(GroupEvent)[-1]
    assert ev.change is GroupChange.JOINED and ev.uids == (x,) and set(ev.members) == {owner, m, x}
    assert sink_x.of(GroupEvent)[-1].change is GroupChange.JOINED  # the newcomer hears of it too
    assert await core.groups.add_members(m, g.gid, [y, x]) == [y]  # a member invites; x already in
    z = await user(core, "z")
    await refused(Code.GROUP_FULL, core.groups.add_members(owner, g.gid, [z]))
    await refused(Code.USER_NOT_FOUND, core.groups.add_members(owner, g.gid, [123456]))
    await refused(Code.GROUP_NOT_FOUND, core.groups.add_members(owner, 999, [z]))
    await refused(Code.BAD_REQUEST, core.groups.add_members(owner, g.gid, []))


async def test_group_add_policy_where_only_owner_and_managers_add(core: Core) -> None:
    """A protocol whose page lets only the owner and managers change a normal group's members (TeamTalk
    5/14) says so per call; a temporary group lets every member add; nobody adds himself."""
    only = GroupPolicy(members_invite=False, self_join=False)
    owner, mgr, m, x, y, z = [await user(core, n) for n in ("o", "mg", "m", "x", "y", "z")]
    g = await core.groups.create(owner, "normal", [mgr, m])
    await core.groups.set_manager(owner, g.gid, mgr, True)
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(m, g.gid, [x], policy=only))  # a member
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(m, g.gid, [mgr], policy=only))  # even a no-op
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(x, g.gid, [x], policy=only))  # joining itself
    assert x not in await core.groups.roles(g.gid)
    assert await core.groups.add_members(mgr, g.gid, [x], policy=only) == [x]
    assert await core.groups.add_members(owner, g.gid, [y], policy=only) == [y]
    assert await core.groups.add_members(m, g.gid, [z]) == [z]  # the default: members invite (OMTP 42)
    t = await core.groups.create(owner, "talk", [m], kind=GroupKind.TEMPORARY)
    assert await core.groups.add_members(m, t.gid, [x], policy=only) == [x]


async def test_group_remove_rules(core: Core) -> None:
    owner, m1, m2, a, b, c = [await user(core, n) for n in ("o", "m1", "m2", "a", "b", "c")]
    g = await core.groups.create(owner, "team", [m1, m2, a, b, c])
    await core.groups.set_manager(owner, g.gid, m1, True)
    await core.groups.set_manager(owner, g.gid, m2, True)
    _, sink_a = await online(core, a)
    _, sink_b = await online(core, b)
    await refused(Code.NO_PRIVILEGE, core.groups.remove_members(m1, g.gid, [m2]))  # manager vs manager
    await refused(Code.OWNER_CANNOT_QUIT, core.groups.remove_members(m1, g.gid, [owner]))
    await refused(Code.NO_PRIVILEGE, core.groups.remove_members(a, g.gid, [b]))  # member vs member
    await refused(Code.OWNER_CANNOT_QUIT, core.groups.remove_members(owner, g.gid, [owner]))
    await refused(Code.NOT_MEMBER, core.groups.remove_members(owner, g.gid, [424242]))
    assert await core.groups.remove_members(m1, g.gid, [a]) == [a]  # manager removes a member
    ev = sink_a.of(GroupEvent)[-1]  # the removed user is told
    assert ev.change is GroupChange.REMOVED and ev.uids == (a,) and ev.actor == m1
    assert sink_b.of(GroupEvent)[-1].change is GroupChange.REMOVED
    assert await core.groups.remove_members(b, g.gid, [b]) == [b]  # anyone but the owner may leave
    assert sink_b.of(GroupEvent)[-1].change is GroupChange.LEFT
    assert await core.groups.remove_members(owner, g.gid, [m2]) == [m2]  # owner removes a manager
    assert {mm.uid for mm in await core.groups.members(None, g.gid)} == {owner, m1, c}


async def test_group_dismiss(core: Core) -> None:
    owner, m = await user(core, "o"), await user(core, "m")
    g = await core.groups.create(owner, "doomed", [m])
    sm, sink_m = await online(core, m)
    await refused(Code.NOT_OWNER, core.groups.dismiss(m, g.gid))
    await core.groups.dismiss(owner, g.gid)
    ev = sink_m.of(GroupEvent)[-1]
    assert ev.change is GroupChange.DISMISSED and set(ev.uids) == {owner, m}
    await refused(Code.GROUP_NOT_FOUND, core.groups.get(g.gid))
    await refused(
        Code.GROUP_NOT_FOUND, core.messages.send(sm, Outgoing(ConvId.group(g.gid), 1, "hello?", "h"))
    )
    assert await core.groups.of_user(m) == []
    assert (await core.groups.create(m, "doomed", [])).owner == m  # the name is free again


async def test_group_transfer(core: Core) -> None:
    owner, m, x = await user(core, "o"), await user(core, "m"), await user(core, "x")
    g = await core.groups.create(owner, "team", [m])
    _, sink_o = await online(core, owner)
    await refused(Code.NOT_OWNER, core.groups.transfer(m, g.gid, m))
    await refused(Code.NOT_MEMBER, core.groups.transfer(owner, g.gid, x))
    updated = await core.groups.transfer(owner, g.gid, m)
    assert updated.owner == m and (await core.groups.get(g.gid)).owner == m
    roles = {mm.uid: mm.role for mm in await core.groups.members(None, g.gid)}
    assert roles == {m: GroupRole.OWNER, owner: GroupRole.MEMBER}  # the old owner stays a member
    ev = sink_o.of(GroupEvent)[-1]
    assert ev.change is GroupChange.OWNER and ev.uids == (m,) and ev.group.owner == m
    await refused(Code.NOT_OWNER, core.groups.dismiss(owner, g.gid))
    assert await core.groups.remove_members(owner, g.gid, [owner]) == [owner]  # and may now leave
    await refused(Code.OWNER_CANNOT_QUIT, core.groups.remove_members(m, g.gid, [m]))


async def test_group_update_info(core: Core) -> None:
    owner, mgr, m = await user(core, "o"), await user(core, "mg"), await user(core, "m")
    g = await core.groups.create(owner, "team", [mgr, m], avatar="a.png")
    await core.groups.create(owner, "other", [])
    await core.groups.set_manager(owner, g.gid, mgr, True)
    _, sink_m = await online(core, m)
    await refused(Code.NOT_OWNER, core.groups.update_info(m, g.gid, desc="mine now"))
    updated = await core.groups.update_info(mgr, g.gid, name="team2", desc="new desc")
    assert (updated.name, updated.desc, updated.avatar) == ("team2", "new desc", "a.png")  # empty keeps
    ev = sink_m.of(GroupEvent)[-1]
    assert ev.change is GroupChange.INFO and ev.group.name == "team2" and set(ev.members) == {owner, mgr, m}
    await refused(Code.NAME_TAKEN, core.groups.update_info(owner, g.gid, name="other"))
    await refused(Code.GROUP_FULL, core.groups.update_info(owner, g.gid, member_limit=2))
    assert (await core.groups.update_info(owner, g.gid, member_limit=3)).member_limit == 3
    assert (await core.groups.get(g.gid)).name == "team2"
    assert await core.groups.by_name("team") is None


# -- relations -------------------------------------------------------------------------------------
async def test_add_friend_both_edges_and_events(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    _, sink_a = await online(core, a)
    _, sink_b = await online(core, b)
    await core.relations.add_friend(a, b, "bobby")
    assert await core.relations.is_friend(a, b) and await core.relations.is_friend(b, a)
    assert [(f.peer, f.remark) for f in await core.relations.friends(a)] == [(b, "bobby")]
    for sink in (sink_a, sink_b):
        assert [(e.uid, e.peer, e.change) for e in sink.of(FriendEvent)] == [(a, b, FriendChange.ADDED)]
    await refused(Code.USER_NOT_FOUND, core.relations.add_friend(a, 777))
    await refused(Code.BAD_REQUEST, core.relations.add_friend(a, a))
    await core.relations.remove_friend(b, a)
    assert not await core.relations.is_friend(a, b) and not await core.relations.is_friend(b, a)
    assert sink_a.of(FriendEvent)[-1].change is FriendChange.REMOVED
    # the remark survives as an attribute
    assert await core.relations.attrs(a, b, "REMARK") == [(b, "REMARK", "bobby")]


async def test_blocked_user_cannot_befriend(core: Core) -> None:
    a, b = await user(core, "alice"), await user(core, "bob")
    _, sink_a = await online(core, a)
    await core.relations.set_blocked(b, a, True)
    assert a in await core.relations.blocked(b)
    await refused(Code.BLOCKED, core.relations.add_friend(a, b))
    assert not await core.relations.is_friend(a, b) and not await core.relations.is_friend(b, a)
    assert sink_a.of(FriendEvent) == []
    await core.relations.add_friend(b, a)  # the blocker still may
    await core.relations.set_blocked(b, a, False)
    await core.relations.add_friend(a, b)


async def test_throttle_counts_name_and_uid_logins_together(core: Core) -> None:
    uid = await user(core, "alice")
    for i in range(5):  # alternating the name and the uid gains no extra tries
        attempt = cred("alice", "bad") if i % 2 else cred("", "bad", uid=uid)
        await refused(Code.AUTH_FAILED, core.accounts.authenticate(attempt))
    await refused(Code.THROTTLED, core.accounts.authenticate(cred("", "pw", uid=uid)))
    await refused(Code.THROTTLED, core.accounts.authenticate(cred("alice", "pw")))


async def test_group_blacklist_blocks_joining_and_invites(core: Core) -> None:
    owner, m, x = [await user(core, n) for n in ("o", "m", "x")]
    g = await core.groups.create(owner, "guarded", [m, x])
    await refused(Code.NO_PRIVILEGE, core.groups.set_blacklisted(m, g.gid, x, True))  # members cannot ban
    await core.groups.set_blacklisted(owner, g.gid, x, True)
    assert x not in {mb.uid for mb in await core.groups.members(None, g.gid)}  # banning removes
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(x, g.gid, [x]))  # cannot rejoin
    await refused(Code.NO_PRIVILEGE, core.groups.add_members(m, g.gid, [x]))  # nor be invited
    await core.groups.set_blacklisted(owner, g.gid, x, False)
    assert await core.groups.add_members(x, g.gid, [x]) == [x]
