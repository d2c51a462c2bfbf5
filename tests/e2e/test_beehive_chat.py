"""beehive 1:1 chat over real sockets: beehive↔beehive, beehive↔OMTP both ways online and offline,
SYNC replay and the receiver's CHAT-ACK cursor, resends, blacklists across protocols, presence and
friends (beehive.md §4.1, §4.2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients import beehive as b
from tests.clients.omtp import PT, MsgCtlCmd, single_session_id
from tests.conftest import Server, start_server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]


async def test_chat_between_beehive_users(server: Server, beehive: Beehive) -> None:
    a_uid, _ = server.add_user("bh")
    b_uid, _ = server.add_user("bh")
    alice = await beehive.login(a_uid)
    bob = await beehive.login(b_uid, ws=True)
    ack = await alice.chat(b_uid, "hello bob", data=b"\x00\x01")
    assert (ack.code, ack.errmsg, ack.suid, ack.duid) == (0, "Ok", a_uid, b_uid)
    got = await bob.expect(b.CHAT)
    m = got.msg
    assert (m.suid, m.duid, m.text, m.data) == (a_uid, b_uid, "hello bob", b"\x00\x01")
    assert got.header.seq == 1 and got.header.sid == bob.sid
    bob.ack_chat(got)
    reply = await bob.chat(a_uid, "hi alice")
    assert reply.code == 0
    back = await alice.expect(b.CHAT)
    assert back.msg.text == "hi alice" and back.header.seq == 2


async def test_a_chat_with_its_fields_out_of_order_is_delivered_the_same(
    server: Server, beehive: Beehive
) -> None:
    """Protobuf lets a writer put fields in any order: such a CHAT goes by the runtime's decoder, not
    the canonical fast path, and must arrive as the same message."""
    a_uid, _ = server.add_user("bh")
    b_uid, _ = server.add_user("bh")
    alice = await beehive.login(a_uid)
    bob = await beehive.login(b_uid)
    whole = b.body(b.CHAT, suid=a_uid, duid=b_uid, level=3, time=77, text="reordered", data=b"\x07")
    tail = b.body(b.CHAT, suid=a_uid, duid=b_uid, level=3, time=77, text="reordered")
    head = whole.SerializeToString()[len(tail.SerializeToString()) :]  # the data field alone
    ack = await alice.request(b.CHAT, head + tail.SerializeToString())
    assert (ack.type, ack.msg.code) == (b.CHAT_ACK, 0)
    m = (await bob.expect(b.CHAT)).msg
    assert (m.suid, m.duid, m.level, m.time, m.text, m.data) == (a_uid, b_uid, 3, 77, "reordered", b"\x07")


async def test_sync_replays_until_acked(server: Server, beehive: Beehive) -> None:
    a_uid, _ = server.add_user("bh")
    b_uid, _ = server.add_user("bh")
    alice = await beehive.login(a_uid)
    for i in range(3):
        assert (await alice.chat(b_uid, f"m{i}")).code == 0
    bob = await beehive.login(b_uid)
    frames, ack = await bob.sync()
    chats = [f for f in frames if f.type == b.CHAT]
    assert [f.msg.text for f in chats] == ["m0", "m1", "m2"]
    assert [f.header.seq for f in chats] == [1, 2, 3]
    assert ack.code == 0 and ack.uid == b_uid
    bob.ack_chat(chats[1])  # delivered up to seq 2
    await bob.ping()
    frames, _ = await bob.sync()
    assert [f.msg.text for f in frames if f.type == b.CHAT] == ["m2"]


async def test_resend_gets_the_first_ack(server: Server, beehive: Beehive) -> None:
    a_uid, _ = server.add_user("bh")
    b_uid, _ = server.add_user("bh")
    alice = await beehive.login(a_uid)
    bob = await beehive.login(b_uid)
    body = b.body(b.CHAT, suid=a_uid, duid=b_uid, level=0, time=1, text="once")
    first = await alice.request(b.CHAT, body)
    again = await alice.request(b.CHAT, body, seq=first.header.seq)  # same (sid, seq)
    assert first.msg.code == 0 and again.type == b.CHAT_ACK and again.msg.code == 0
    await bob.expect(b.CHAT)
    assert await bob.no_push(b.CHAT)
    assert (await alice.ping()).type == b.PONG  # not a seq violation


async def test_floor_continues_across_logins(server: Server, beehive: Beehive) -> None:
    a_uid, _ = server.add_user("bh")
    b_uid, _ = server.add_user("bh")
    alice = await beehive.login(a_uid, sid=59001)
    alice.seq = 500
    assert (await alice.chat(b_uid, "x")).code == 0
    await alice.request(b.OFFLINE)
    again = await beehive.connect(59001)
    ack = await again.online(a_uid, beehive.token(a_uid, 59001))
    assert ack.code == 0 and ack.seq >= 501


async def test_beehive_to_omtp_online(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o = await omtp.user("om")
    bh = await beehive.user()
    assert (await bh.chat(int(o.uid), "from beehive")).code == 0
    _, msg = await o.expect_msg(PT.MSG_SINGLE_CHAT)
    assert (msg.from_, msg.to, msg.content) == (str(bh.uid), o.uid, "from beehive")


async def test_omtp_to_beehive_online(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o = await omtp.user("om")
    bh = await beehive.user(ws=True)
    ack = await o.send_single(str(bh.uid), "from omtp")
    assert ack.ok
    got = await bh.expect(b.CHAT)
    assert (got.msg.suid, got.msg.duid, got.msg.text, got.msg.level) == (int(o.uid), bh.uid, "from omtp", 0)
    assert got.header.seq == ack.seq_id


async def test_omtp_to_beehive_offline(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o = await omtp.user("om")
    b_uid, _ = server.add_user("bh")
    assert (await o.send_single(str(b_uid), "while you were away")).ok
    bh = await beehive.login(b_uid)
    frames, _ = await bh.sync()
    assert [f.msg.text for f in frames if f.type == b.CHAT] == ["while you were away"]


async def test_beehive_to_omtp_offline(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o_uid, o_name = server.add_user("om")
    omtp.names[str(o_uid)] = o_name
    bh = await beehive.user()
    assert (await bh.chat(o_uid, "see you later")).code == 0
    o = await omtp.login(o_name)
    sid = single_session_id(str(bh.uid), str(o_uid))
    hot = await o.hot_sessions(0)
    item = hot.session(sid)
    assert item is not None and item.unread_count == 1
    page = await o.history(sid, 0, 10)
    assert [p.msg.content for p in page.msgs] == ["see you later"]


async def test_blacklist_enforced_across_protocols(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o = await omtp.user("om")
    bh = await beehive.user()
    other = await beehive.user()
    ack = await bh.pair(b.BLACKLIST_ADD, int(o.uid))
    assert (ack.code, ack.errmsg) == (0, "Ok")
    refused = await o.send_single(str(bh.uid), "let me in")
    assert not refused.ok
    assert (await bh.pair(b.BLACKLIST_ADD, other.uid)).code == 0
    denied = await other.chat(bh.uid, "blocked?")
    assert (denied.code, denied.errmsg) == (10005, "You're in blacklist!")
    assert await bh.no_push(b.CHAT)
    assert (await bh.pair(b.BLACKLIST_DEL, other.uid)).code == 0
    assert (await other.chat(bh.uid, "again")).code == 0
    assert (await bh.expect(b.CHAT)).msg.text == "again"
    assert (await bh.pair(b.BLACKLIST_ADD, bh.uid)).code == 20007
    assert (await bh.pair(b.BLACKLIST_ADD, 999_999_999)).code == 10013


async def test_chat_refusals(server: Server, beehive: Beehive) -> None:
    bh = await beehive.user()
    assert (await bh.chat(999_999_999, "nobody")).code == 10013
    assert (await bh.chat(0, "zero")).code == 20011
    assert (await bh.chat(bh.uid, "x" * 16385)).code == 10018
    assert (await bh.chat(bh.uid, "note to self")).code == 0


async def test_friends_and_presence(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    alice = await beehive.user()
    b_uid, _ = server.add_user("bh")
    bob = await beehive.login(b_uid)
    ack = await alice.pair(b.FRIEND_ADD, b_uid, mark="bob")
    assert ack.code == 0
    relay = await bob.expect(b.FRIEND_ADD)
    assert (relay.msg.suid, relay.msg.duid, relay.msg.mark) == (alice.uid, b_uid, "bob")
    assert (await bob.pair(b.FRIEND_ADD, alice.uid, mark="alice")).code == 0  # accepts
    accepted = await alice.expect(b.FRIEND_ADD)
    assert (accepted.msg.suid, accepted.msg.duid, accepted.msg.mark) == (b_uid, alice.uid, "alice")
    frames, _ = await bob.sync()
    assert alice.uid in [f.msg.uid for f in frames if f.type == b.ONLINE_NTF]
    await bob.request(b.OFFLINE)
    off = await alice.expect(b.OFFLINE_NTF)
    assert off.msg.uid == b_uid and off.header.seq == 0
    await beehive.login(b_uid)
    on = await alice.expect(b.ONLINE_NTF)
    assert on.msg.uid == b_uid and on.msg.status == 1
    assert (await alice.pair(b.FRIEND_DEL, b_uid)).code == 0


# == friend requests (§4.2, §10 #3) ========================================================================
async def test_friend_request_pending_until_accepted(server: Server, beehive: Beehive) -> None:
    alice = await beehive.user()
    b_uid, _ = server.add_user("bh")
    assert (await alice.pair(b.FRIEND_ADD, b_uid, mark="first")).code == 0
    assert (await alice.pair(b.FRIEND_ADD, b_uid, mark="bobby")).code == 0  # a repeat replaces the mark
    bob = await beehive.login(b_uid)  # offline so far: the request waits for SYNC
    frames, _ = await bob.sync()
    requests = [f.msg for f in frames if f.type == b.FRIEND_ADD]
    assert [(r.suid, r.duid, r.mark) for r in requests] == [(alice.uid, b_uid, "bobby")]
    assert [f for f in frames if f.type == b.ONLINE_NTF] == []  # not friends yet
    mark = await bob.request(b.MARK_ADD, b.body(b.MARK_ADD, suid=bob.uid, duid=alice.uid, mark=7))
    assert mark.msg.code == 20007  # MARK needs a friend

    assert (await bob.pair(b.FRIEND_ADD, alice.uid, mark="ally")).code == 0
    accepted = await alice.expect(b.FRIEND_ADD)
    assert (accepted.msg.suid, accepted.msg.duid, accepted.msg.mark) == (b_uid, alice.uid, "ally")
    assert (await alice.expect(b.ONLINE_NTF)).msg.uid == b_uid
    frames, _ = await bob.sync()
    assert [f for f in frames if f.type == b.FRIEND_ADD] == []  # no longer pending
    assert alice.uid in [f.msg.uid for f in frames if f.type == b.ONLINE_NTF]
    assert (await alice.pair(b.FRIEND_ADD, b_uid, mark="again")).code == 0  # friends: remark only
    assert await bob.no_push(b.FRIEND_ADD, 0.3)


async def test_friend_del_declines_a_request(server: Server, beehive: Beehive) -> None:
    alice = await beehive.user()
    bob = await beehive.user()
    assert (await alice.pair(b.FRIEND_ADD, bob.uid, mark="hi")).code == 0
    await bob.expect(b.FRIEND_ADD)
    assert (await bob.pair(b.FRIEND_DEL, alice.uid)).code == 0  # declines
    declined = await alice.expect(b.FRIEND_DEL)
    assert (declined.msg.suid, declined.msg.duid) == (bob.uid, alice.uid)
    frames, _ = await bob.sync()
    assert [f for f in frames if f.type == b.FRIEND_ADD] == []
    assert (await bob.pair(b.FRIEND_DEL, alice.uid)).code == 0  # nothing left: ACK 0, nothing relayed
    assert await alice.no_push(b.FRIEND_DEL, 0.3)


async def test_friend_request_refusals(server: Server, beehive: Beehive) -> None:
    alice = await beehive.user()
    bob = await beehive.user()
    assert (await alice.pair(b.FRIEND_ADD, alice.uid, mark="")).code == 20007
    assert (await alice.pair(b.FRIEND_ADD, 999_999_999, mark="")).code == 10013
    assert (await bob.pair(b.BLACKLIST_ADD, alice.uid)).code == 0
    refused = await alice.pair(b.FRIEND_ADD, bob.uid, mark="")
    assert (refused.code, refused.errmsg) == (10005, "You're in blacklist!")
    assert await bob.no_push(b.FRIEND_ADD, 0.3)


async def test_friendship_across_protocols(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o = await omtp.user("om")
    bh = await beehive.user()
    assert (await o.friend_add(o.uid, str(bh.uid), "from omtp")).ok  # OMTP: both edges at once
    relay = await bh.expect(b.FRIEND_ADD)
    assert (relay.msg.suid, relay.msg.duid, relay.msg.mark) == (int(o.uid), bh.uid, "from omtp")
    frames, _ = await bh.sync()
    assert int(o.uid) in [f.msg.uid for f in frames if f.type == b.ONLINE_NTF]
    assert (await bh.pair(b.FRIEND_DEL, int(o.uid))).code == 0
    await o.expect_sync()
    assert [f.friend_id for f in (await o.friend_sync()).friends] == []

    other = await omtp.user("om")
    assert (await bh.pair(b.FRIEND_ADD, int(other.uid), mark="x")).code == 0  # a request: OMTP has none
    assert [f.friend_id for f in (await other.friend_sync()).friends] == []
    assert (await other.friend_add(other.uid, str(bh.uid))).ok  # OMTP's add settles the request
    frames, _ = await bh.sync()
    assert int(other.uid) in [f.msg.uid for f in frames if f.type == b.ONLINE_NTF]
    assert str(bh.uid) in [f.friend_id for f in (await other.friend_sync()).friends]


# == gag (mute a user: stored, not pushed, §4.2) ============================================================
async def test_gag_holds_messages_back_until_sync(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    alice = await beehive.user()
    bob = await beehive.user()
    o = await omtp.user("om")
    ack = await alice.pair(b.GAG_ADD, bob.uid)
    assert (ack.code, ack.errmsg) == (0, "Ok")
    assert (await alice.pair(b.GAG_ADD, o_uid := int(o.uid))).code == 0
    assert (await bob.chat(alice.uid, "muted words")).code == 0  # accepted and acked
    assert (await o.send_single(str(alice.uid), "from a muted omtp user")).ok  # every protocol obeys
    assert await alice.no_push(b.CHAT, 0.3)
    frames, _ = await alice.sync()
    texts = sorted(f.msg.text for f in frames if f.type == b.CHAT)
    assert texts == ["from a muted omtp user", "muted words"]
    assert (await alice.pair(b.GAG_DEL, bob.uid)).code == 0
    assert (await alice.pair(b.GAG_DEL, o_uid)).code == 0
    assert (await bob.chat(alice.uid, "heard again")).code == 0
    assert (await alice.expect(b.CHAT)).msg.text == "heard again"
    assert (await alice.pair(b.GAG_ADD, alice.uid)).code == 20007
    assert (await alice.pair(b.GAG_ADD, 999_999_999)).code == 10013


# == recalls across protocols (§10 #20) =====================================================================
async def test_omtp_recall_is_not_replayed_to_beehive(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    """beehive has no frame for a recall: a beehive user online keeps what it got; one that syncs later
    never sees the recalled message. (beehive has no recall command either, so the other way does not
    arise: a beehive user cannot recall.)"""
    o = await omtp.user("om")
    b_uid, _ = server.add_user("bh")
    keep = await o.send_single(str(b_uid), "keep me")
    gone = await o.send_single(str(b_uid), "take it back", pack_id="recall-me")
    assert keep.ok and gone.ok
    sid = single_session_id(o.uid, str(b_uid))
    assert (await o.control(MsgCtlCmd.REVOKE, sid, "recall-me", gone.seq_id)).ok
    bh = await beehive.login(b_uid)
    frames, _ = await bh.sync()
    assert [f.msg.text for f in frames if f.type == b.CHAT] == ["keep me"]


@pytest.fixture(scope="module")
def friends_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose ``[beehive]`` section switches on the core's friendship rule for 1:1 chat."""
    srv = start_server(tmp_path_factory.mktemp("friends"), extra="require_friend = true")
    yield srv
    srv.stop()


async def test_require_friend_is_a_policy_beehive_can_switch_on(friends_only: Server) -> None:
    pool = Beehive(friends_only)
    try:
        alice, bob = await pool.user(), await pool.user()
        refused = await alice.chat(bob.uid, "hello stranger")
        assert (refused.code, refused.errmsg) == (20007, "Not friend!")
        assert await bob.no_push(b.CHAT)
        assert (await alice.pair(b.FRIEND_ADD, bob.uid, mark="bob")).code == 0
        await bob.expect(b.FRIEND_ADD)
        assert (await bob.pair(b.FRIEND_ADD, alice.uid, mark="alice")).code == 0  # accepts
        assert (await alice.chat(bob.uid, "hello friend")).code == 0
        assert (await bob.expect(b.CHAT)).msg.text == "hello friend"
    finally:
        await pool.close()
