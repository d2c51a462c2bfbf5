"""OMTP single chat end to end: friends, online/offline delivery, history, read state, dedup, control,
kick policy, identity checks, login, connection commands, priority sync, monitors, notifications."""

from __future__ import annotations

import asyncio

import pytest

from tests.clients.omtp import (
    ACK,
    DUP,
    HIGHPRJ,
    OVERRIDE,
    PT,
    REVOKE,
    DeviceType,
    LoginReq,
    LoginResp,
    MsgAck,
    MsgControl,
    MsgCtlCmd,
    MsgReaded,
    MsgReq,
    OmtpClient,
    OtimHeader,
    SyncCmd,
    SyncDataReq,
    encode_frame,
    single_session_id,
    typed,
)
from tests.conftest import Server, ping_until_closed
from tests.e2e.conftest import Omtp, nothing


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


def sid(a: OmtpClient, b: OmtpClient) -> str:
    return single_session_id(a.uid, b.uid)


# -- friends and online chat -----------------------------------------------------------------------
async def test_friends_and_online_chat_both_ways(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    alice_phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    bob = await omtp.user("bob")

    assert (await alice.friend_add(alice.uid, bob.uid, "bobby")).ok
    _, to_bob = await bob.expect_sync()
    assert (to_bob.command, to_bob.content) == (SyncCmd.FRIEND, alice.uid)
    _, to_phone = await alice_phone.expect_sync()
    assert (to_phone.command, to_phone.content) == (SyncCmd.FRIEND, bob.uid)
    await nothing(alice)  # the requesting connection is not notified
    mine = await alice.friend_sync()
    assert [(f.user_id, f.friend_id, f.remark) for f in mine.friends] == [(alice.uid, bob.uid, "bobby")]
    theirs = await bob.friend_sync()
    assert [(f.user_id, f.friend_id) for f in theirs.friends] == [(bob.uid, alice.uid)]

    session = sid(alice, bob)
    ack1 = await alice.send_single(bob.uid, "hello bob", pack_id="a-1")
    assert ack1.ok and ack1.seq_id == 1 and ack1.session_id == session and ack1.timestamp > 0
    header, msg = await bob.expect_msg()
    assert header.type == PT.MSG_SINGLE_CHAT and header.pack_id == "a-1" and header.flags == 0
    assert (msg.session_id, msg.from_, msg.to, msg.content) == (session, alice.uid, bob.uid, "hello bob")
    assert (msg.seq_id, msg.timestamp, msg.content_type) == (1, ack1.timestamp, 1)
    _, copy = await alice_phone.expect_msg()
    assert (copy.seq_id, copy.content, copy.from_) == (1, "hello bob", alice.uid)
    await nothing(alice)  # the sender's own connection gets the ack only

    ack2 = await bob.send_single(alice.uid, "hi alice", pack_id="b-1")
    assert ack2.ok and ack2.seq_id == 2
    for device in (alice, alice_phone):
        _, msg = await device.expect_msg()
        assert (msg.seq_id, msg.from_, msg.to, msg.content) == (2, bob.uid, alice.uid, "hi alice")

    # a non-canonical sessionId is echoed in the ack, everyone else sees the canonical one
    other_form = f"SC_{bob.uid}_{alice.uid}"
    ack3 = await alice.send_single(bob.uid, "third", session_id=other_form)
    assert ack3.ok and ack3.seq_id == 3 and ack3.session_id == other_form
    _, msg = await bob.expect_msg()
    assert msg.session_id == session and msg.seq_id == 3
    assert [p.msg.seq_id for p in (await bob.history(session)).msgs] == [3, 2, 1]


async def test_session_id_orders_uids_bytewise(omtp: Omtp, server: Server) -> None:
    alice = await omtp.user("alice")
    _, name = server.add_user("old", uid=9999)
    old = await omtp.login(name)
    assert old.uid == "9999"
    expected = f"LP_G1_{alice.uid}_9999"  # "1…" sorts before "9999" byte-wise although 9999 is smaller
    ack = await old.send_single(alice.uid, "hi", session_id="")
    assert ack.ok and ack.session_id == expected  # empty sessionId: the ack carries the canonical one
    _, msg = await alice.expect_msg()
    assert msg.session_id == expected
    assert [p.msg.content for p in (await alice.history(expected)).msgs] == ["hi"]
    assert (await old.hot_sessions()).session(expected) is not None


async def test_offline_recipient_catches_up(omtp: Omtp, server: Server) -> None:
    alice = await omtp.user("alice")
    bob_uid, bob_name = server.add_user("bob")
    session = single_session_id(alice.uid, str(bob_uid))
    acks = [await alice.send_single(str(bob_uid), f"m{i}", pack_id=f"off-{i}") for i in range(1, 4)]
    assert [a.seq_id for a in acks] == [1, 2, 3]

    bob = await omtp.login(bob_name)
    await nothing(bob)  # offline messages are pulled, not pushed
    hot = await bob.hot_sessions(0)
    assert hot.ok and hot.timestamp > 0
    item = hot.session(session)
    assert item is not None
    assert (item.read_seq_id, item.unread_count) == (0, 3)
    assert len(item.last_msgs) == 1
    last = item.last_msgs[0]
    assert last.header.type == PT.MSG_SINGLE_CHAT and last.header.pack_id == "off-3"
    assert (last.msg.seq_id, last.msg.content, last.msg.from_) == (3, "m3", alice.uid)
    # nothing newer than the returned cursor
    again = await bob.hot_sessions(hot.timestamp)
    assert again.ok and again.session(session) is None

    page = await bob.history(session, 0, 200)
    assert page.ok and page.session_id == session
    assert [(p.msg.seq_id, p.msg.content) for p in page.msgs] == [(3, "m3"), (2, "m2"), (1, "m1")]
    assert all(p.header.type == PT.MSG_SINGLE_CHAT and not p.header.flags & ACK for p in page.msgs)


async def test_history_paging_and_permission(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    session = sid(alice, bob)
    for i in range(1, 6):
        assert (await alice.send_single(bob.uid, f"p{i}")).seq_id == i

    first = await bob.history(session, 0, 2)
    assert [p.msg.seq_id for p in first.msgs] == [5, 4]
    cursor = min(p.msg.seq_id for p in first.msgs) - 1
    second = await bob.history(session, cursor, 2)
    assert [p.msg.seq_id for p in second.msgs] == [3, 2]
    third = await bob.history(session, 1, 2)
    assert [p.msg.seq_id for p in third.msgs] == [1]
    assert [p.msg.seq_id for p in (await alice.history(session, 0, 0)).msgs] == [5, 4, 3, 2, 1]
    # any spelling of the pair works for a participant
    assert len((await bob.history(f"SC_{bob.uid}_{alice.uid}", 0, 10)).msgs) == 5

    denied = await carol.history(session, 0, 10)
    assert denied.code != 0 and denied.session_id == session and denied.msgs == []
    unknown = await alice.history("", 0, 10)
    assert unknown.code == 2


async def test_read_clears_unread_and_relays_to_other_device(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    bob_phone = await omtp.login(omtp.name_of(bob), device_id="ph-1", device_type=DeviceType.ANDROID)
    session = sid(alice, bob)
    await alice.send_single(bob.uid, "one")
    await alice.send_single(bob.uid, "two")
    for device in (bob, bob_phone):
        await device.expect_msg()
        await device.expect_msg()

    listing = await bob.hot_sessions()
    before = listing.session(session)
    assert before is not None and before.unread_count == 2

    assert (await bob.read(session, 2)).ok
    header, payload = await bob_phone.expect_push(PT.MSG_READ)
    relay = typed(MsgReaded, payload)
    assert (relay.session_id, relay.seq_id) == (session, 2)
    assert header.flags == 0
    await nothing(alice)  # no read receipt to the peer
    await nothing(bob)

    # reading bumps the session for the reader: the other device sees it as changed since the cursor
    after = (await bob_phone.hot_sessions(listing.timestamp)).session(session)
    assert after is not None and (after.read_seq_id, after.unread_count) == (2, 0)
    # the sender's own messages are never unread
    mine = (await alice.hot_sessions()).session(session)
    assert mine is not None and mine.unread_count == 0
    # reading beyond the end clamps to the last seq; reading backwards changes nothing
    assert (await bob.read(session, 99)).ok
    _, payload = await bob_phone.expect_push(PT.MSG_READ)
    assert typed(MsgReaded, payload).seq_id == 2
    assert (await bob.read("LP_G1_nobody", 1)).code == 2


async def test_send_refusals(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    assert (await alice.send_single("999999999", "hello?")).code == 2
    assert (await alice.send_single("", "hello?")).code == 2
    assert (await alice.send_single("bob", "hello?")).code == 2
    assert (await alice.send_single(bob.uid, "")).code == 40
    too_long = await alice.send_single(bob.uid, "x" * 65537)
    assert too_long.code == 41
    assert (await alice.send_single(bob.uid, "no packId", pack_id="")).code == 2
    assert (await alice.send_single(bob.uid, "long packId", pack_id="p" * 129)).code == 2
    await nothing(bob)
    assert (await bob.history(sid(alice, bob))).msgs == []
    # the largest content is accepted
    big = await alice.send_single(bob.uid, "y" * 65000)
    assert big.ok and big.seq_id == 1
    _, msg = await bob.expect_msg()
    assert len(msg.content) == 65000


async def test_self_chat_and_pipelined_sends(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    ack = await alice.send_single(alice.uid, "note to self")
    assert ack.ok and ack.session_id == f"LP_G1_{alice.uid}_{alice.uid}"
    _, msg = await phone.expect_msg()
    assert (msg.from_, msg.to, msg.content) == (alice.uid, alice.uid, "note to self")
    await nothing(alice)

    bob = await omtp.user("bob")
    acks = await asyncio.gather(*(alice.send_single(bob.uid, f"n{i}", pack_id=f"pl-{i}") for i in range(20)))
    assert [a.seq_id for a in acks] == list(range(1, 21))
    got = [(await bob.expect_msg())[1] for _ in range(20)]
    assert [(m.seq_id, m.content) for m in got] == [(i + 1, f"n{i}") for i in range(20)]


async def test_sync_data_relayed_to_own_devices(omtp: Omtp) -> None:
    pc = await omtp.user("alice")
    phone = await omtp.login(omtp.name_of(pc), device_id="ph-1", device_type=DeviceType.IOS)
    bob = await omtp.user("bob")
    assert (await pc.sync_data(SyncCmd.GROUP, "re-sync")).ok
    header, sync = await phone.expect_sync()
    assert (sync.command, sync.content) == (SyncCmd.GROUP, "re-sync") and header.flags == 0
    await nothing(pc)
    await nothing(bob)
    assert (await pc.sync_data(1, "x" * 4097)).code == 2
    # a client's ACK of a push gets no reply
    pc.ack_push(header, sync.encode())
    await pc.ping()
    assert pc.unmatched == []


# -- dedup -------------------------------------------------------------------------------------------
async def test_resend_same_pack_id_is_stored_and_delivered_once(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    first = await alice.send_single(bob.uid, "once", pack_id="same-1")
    assert first.ok
    _, msg = await bob.expect_msg()
    assert msg.seq_id == first.seq_id

    again = await alice.send_single(bob.uid, "once", pack_id="same-1")
    assert (again.code, again.seq_id, again.timestamp) == (0, first.seq_id, first.timestamp)
    # with DUP set too; the ack header echoes the request's flags plus ACK (§2.3)
    msg = MsgReq(sid(alice, bob), from_=alice.uid, to=bob.uid, content_type=1, content="once")
    header, payload = await alice.request(PT.MSG_SINGLE_CHAT, msg.encode(), flags=DUP, pack_id="same-1")
    assert (header.flags, header.pack_id) == (DUP | ACK, "same-1")
    dup = typed(MsgAck, payload)
    assert (dup.code, dup.seq_id) == (0, first.seq_id)
    await nothing(bob)
    assert len((await bob.history(sid(alice, bob))).msgs) == 1

    # the key includes the device: the same packId from another device is a new message
    alice_phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    other = await alice_phone.send_single(bob.uid, "twice", pack_id="same-1")
    assert other.ok and other.seq_id == first.seq_id + 1


# -- message control -----------------------------------------------------------------------------------
async def test_recall_override_delete(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    alice_phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    bob = await omtp.user("bob")
    session = sid(alice, bob)
    acks = [await alice.send_single(bob.uid, f"c{i}", pack_id=f"ctl-{i}") for i in (1, 2, 3)]
    for _ in acks:
        await bob.expect_msg()
        await alice_phone.expect_msg()

    # only the sender may recall in a 1:1; the packId must match the message
    assert (await bob.control(MsgCtlCmd.REVOKE, session, "ctl-1", acks[0].seq_id)).code == 43
    assert (await alice.control(MsgCtlCmd.REVOKE, session, "wrong", acks[0].seq_id)).code == 44
    assert (await alice.control(MsgCtlCmd.REVOKE, session, "ctl-1", 999)).code == 44
    assert (await alice.control(MsgCtlCmd.REVOKE, session, "ctl-1", 0)).code == 2
    assert (await alice.control(9, session, "ctl-1", acks[0].seq_id)).code == 47
    await nothing(bob)

    # 1 REVOKE
    cursor = (await bob.hot_sessions()).timestamp
    res = await alice.control(MsgCtlCmd.REVOKE, session, "ctl-1", acks[0].seq_id, frame_pack_id="rv-1")
    assert res.ok
    for device in (bob, alice_phone):
        header, payload = await device.expect_push(PT.MSG_CTRL)
        ctl = typed(MsgControl, payload)
        assert header.pack_id == "rv-1" and header.flags == 0
        assert (ctl.command, ctl.session_id, ctl.pack_id, ctl.seq_id) == (1, session, "ctl-1", 1)
    await nothing(alice)
    bumped = (await bob.hot_sessions(cursor)).session(session)  # a control bumps the conversation
    assert bumped is not None and bumped.last_msgs[0].msg.seq_id == 3
    # a resend of the same control request changes nothing and notifies no one
    again = await alice.control(MsgCtlCmd.REVOKE, session, "ctl-1", acks[0].seq_id, frame_pack_id="rv-1")
    assert again.ok
    await nothing(bob)

    # 2 OVERRIDE: sender only, content required
    assert (await bob.control(MsgCtlCmd.OVERRIDE, session, "ctl-2", 2, "hacked")).code == 43
    assert (await alice.control(MsgCtlCmd.OVERRIDE, session, "ctl-2", 2, "")).code == 2
    assert (await alice.control(MsgCtlCmd.OVERRIDE, session, "ctl-2", 2, "c2 edited")).ok
    _, payload = await bob.expect_push(PT.MSG_CTRL)
    ctl = typed(MsgControl, payload)
    assert (ctl.command, ctl.seq_id, ctl.content) == (2, 2, "c2 edited")

    # 3 DELETE
    assert (await alice.control(MsgCtlCmd.DELETE, session, "ctl-3", 3)).ok
    _, payload = await bob.expect_push(PT.MSG_CTRL)
    assert typed(MsgControl, payload).command == 3
    assert (await alice.control(MsgCtlCmd.REVOKE, session, "ctl-3", 3)).code == 44

    history = {p.msg.seq_id: p for p in (await bob.history(session)).msgs}
    assert sorted(history) == [1, 2]
    revoked, edited = history[1], history[2]
    assert revoked.header.flags & REVOKE and revoked.msg.content == ""
    assert edited.header.flags & OVERRIDE and not edited.header.flags & REVOKE
    assert edited.msg.content == "c2 edited" and edited.header.pack_id == "ctl-2"
    hot = (await bob.hot_sessions()).session(session)
    assert hot is not None and [p.msg.seq_id for p in hot.last_msgs] == [2]


# -- kick policy ---------------------------------------------------------------------------------------
async def test_second_login_of_same_device_class_kicks_the_first(omtp: Omtp) -> None:
    first = await omtp.user("alice", device_id="pc-1")
    name = omtp.name_of(first)
    second = await omtp.login(name, device_id="pc-2", device_type=DeviceType.WINDOWS)
    header, payload = await first.expect_push(PT.KICKOUT)
    assert payload == b"" and header.flags == 0 and header.version == 1 and header.pack_id
    assert await first.wait_closed(2)
    assert not second.closed

    phone = await omtp.login(name, device_id="ph-1", device_type=DeviceType.IOS)
    await nothing(second)  # mobile and desktop coexist
    assert not second.closed and not phone.closed

    bob = await omtp.user("bob")
    await bob.send_single(second.uid, "to both devices")
    for device in (second, phone):
        _, msg = await device.expect_msg()
        assert msg.content == "to both devices"

    # a login with the same deviceId replaces that session whatever its class
    same_id = await omtp.login(name, device_id="ph-1", device_type=DeviceType.LINUX)
    await phone.expect_push(PT.KICKOUT)
    assert await phone.wait_closed(2)
    await second.expect_push(PT.KICKOUT)  # and LINUX is a desktop class too
    assert await second.wait_closed(2)
    phone = await omtp.login(name, device_id="ph-2", device_type=DeviceType.IOS)
    second = same_id

    # a MACOS login is also a desktop: it takes the slot of the LINUX one
    mac = await omtp.login(name, device_id="mac-1", device_type=DeviceType.MACOS)
    await second.expect_push(PT.KICKOUT)
    assert await second.wait_closed(2)
    assert not mac.closed and not phone.closed


async def test_kickout_request_kicks_own_other_device(omtp: Omtp) -> None:
    pc = await omtp.user("alice", device_id="pc-1")
    phone = await omtp.login(omtp.name_of(pc), device_id="ph-1", device_type=DeviceType.ANDROID)
    assert (await pc.kick(DeviceType.ANDROID, "nope")).code == 2
    assert (await pc.kick(DeviceType.WINDOWS, "pc-1")).code == 2  # not the calling connection
    assert (await pc.kick(DeviceType.IOS, "ph-1")).code == 2  # an OMTP target must match the type too
    assert (await pc.kick(DeviceType.ANDROID, "ph-1")).ok
    await phone.expect_push(PT.KICKOUT)
    assert await phone.wait_closed(2)
    assert not pc.closed
    await pc.ping()


# -- identity -------------------------------------------------------------------------------------------
async def test_forged_from_is_refused_and_nothing_happens(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    session = sid(bob, carol)
    ack = await alice.send_single(carol.uid, "i am bob", from_=bob.uid, session_id=session)
    assert ack.code == 23 and ack.error.desc == "from is not you"
    assert (ack.session_id, ack.seq_id, ack.timestamp) == (session, 0, 0)
    await nothing(carol)
    await nothing(bob)
    assert (await bob.history(session)).msgs == []
    assert (await carol.hot_sessions()).session(session) is None

    # the forged friend add is refused as well
    assert (await alice.friend_add(bob.uid, carol.uid)).code == 23
    await nothing(carol)
    assert (await bob.friend_sync()).friends == []


# -- login -----------------------------------------------------------------------------------------------
async def test_wrong_password_and_unknown_user_get_the_same_refusal(omtp: Omtp, server: Server) -> None:
    _, name = server.add_user("alice", password="right")
    bad = await omtp.connect()
    code, _ = await bad.login(user_name=name, password="wrong", device_id="pc-1")
    assert code == 21
    wrong_desc = bad.login_resp.error.desc if bad.login_resp else None
    assert await bad.wait_closed(2)

    ghost = await omtp.connect()
    code, _ = await ghost.login(user_name=f"{name}-nobody", password="right", device_id="pc-1")
    assert code == 21
    assert ghost.login_resp is not None and ghost.login_resp.error.desc == wrong_desc
    assert await ghost.wait_closed(2)

    # bad identity fields: 20 and closed
    for kwargs in (
        {"user_name": name, "password": "right", "device_id": ""},
        {"user_name": name, "password": "", "device_id": "pc-1"},
        {"user_name": name, "password": "right", "device_id": "pc-1", "device_type": 0},
        {"user_name": name, "password": "right", "device_id": "pc-1", "device_type": 6},
        {"client_id": "abc", "password": "right", "device_id": "pc-1"},
        {"password": "right", "device_id": "pc-1"},
    ):
        client = await omtp.connect()
        code, _ = await client.login(**kwargs)  # type: ignore[arg-type]
        assert code == 20, kwargs
        assert await client.wait_closed(2)

    good = await omtp.connect()
    code, client_id = await good.login(user_name=name, password="right", device_id="pc-1")
    assert code == 0 and client_id.isdigit()


async def test_login_by_client_id(omtp: Omtp, server: Server) -> None:
    uid, _ = server.add_user("alice", password="pw")
    client = await omtp.connect()
    code, client_id = await client.login(client_id=str(uid), password="pw", device_id="pc-1")
    assert (code, client_id) == (0, str(uid))
    await client.ping()
    # a clientId that is not the account named by userName
    other = await omtp.connect()
    _, name = server.add_user("bob")
    code, _ = await other.login(client_id=str(uid), user_name=name, password="pw", device_id="pc-9")
    assert code == 21


async def test_login_ack_header_and_relogin_on_one_connection(omtp: Omtp, server: Server) -> None:
    uid, name = server.add_user("alice")
    _, other = server.add_user("bob")
    client = await omtp.connect()
    req = LoginReq("", name, "pw", DeviceType.WINDOWS, "", "pc-1", "2.0")
    header, payload = await client.request(PT.LOGIN, req.encode(), flags=0, pack_id="L1", version=3)
    assert (header.type, header.version, header.flags, header.pack_id) == (PT.LOGIN, 3, ACK, "L1")
    resp = typed(LoginResp, payload)
    assert (resp.code, resp.client_id) == (0, str(uid))
    client.uid = str(uid)

    # another account on a logged-in connection: 7, and the connection stays logged in as before
    code, _ = await client.login(user_name=other, password="pw", device_id="pc-2")
    assert code == 7
    assert not await client.wait_closed(0.2)
    await client.ping()
    # the same account again with a new device: a fresh login on this connection
    req = LoginReq("", name, "pw", DeviceType.WINDOWS, "", "pc-3", "2.0")
    _, payload = await client.request(PT.LOGIN, req.encode(), version=3)
    assert typed(LoginResp, payload).code == 0
    await client.ping()

    # the kick carries the version of the kicked connection's LOGIN header
    newer = await omtp.connect()
    code, _ = await newer.login(user_name=name, password="pw", device_id="pc-4")
    assert code == 0
    kick, _ = await client.expect_push(PT.KICKOUT)
    assert kick.version == 3
    assert await client.wait_closed(2)


async def test_failed_logins_are_throttled(omtp: Omtp, server: Server) -> None:
    _, name = server.add_user("alice", password="right")
    for _ in range(5):
        client = await omtp.connect()
        assert (await client.login(user_name=name, password="wrong", device_id="pc-1"))[0] == 21
    client = await omtp.connect()
    code, _ = await client.login(user_name=name, password="right", device_id="pc-1")
    assert code == 7  # locked out for a while, even with the right password
    assert await client.wait_closed(2)


async def test_token_login(omtp: Omtp, server: Server) -> None:
    uid, _ = server.add_user("alice")
    status, body = server.api("POST", "/api/v1/tokens", {"uid": uid, "device": "pc-1"})
    assert status == 200
    client = await omtp.connect()
    code, client_id = await client.login(client_id=str(uid), password=body["token"], device_id="pc-1")
    assert (code, client_id) == (0, str(uid))


# -- connection commands -------------------------------------------------------------------------------------
async def test_ping_echo_and_logout(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    header = await alice.ping(pack_id="p-42")
    assert (header.type, header.version, header.flags, header.pack_id) == (PT.PING, 1, ACK, "p-42")
    header = await alice.logout(pack_id="bye")
    assert (header.type, header.flags, header.pack_id) == (PT.LOGOUT, ACK, "bye")
    assert await alice.wait_closed(2)


async def test_frames_before_login_close_the_connection(omtp: Omtp) -> None:
    for pack_type, payload in (
        (PT.PING, b""),
        (PT.MSG_SINGLE_CHAT, MsgReq("LP_G1_1_2", from_="1", to="2", content="x").encode()),
        (PT.SYNC_DATA_CMD, SyncDataReq(1, "").encode()),
    ):
        client = await omtp.connect()
        client.send_raw(encode_frame(OtimHeader(pack_type, 1, 0, "early"), payload))
        assert await client.wait_closed(2)
        assert client.unmatched == [] and await client.poll_push(0.05) is None


async def test_logout_then_offline(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    await bob.logout()
    assert await bob.wait_closed(2)
    ack = await alice.send_single(bob.uid, "while away")
    assert ack.ok
    back = await omtp.login(omtp.name_of(bob))
    item = (await back.hot_sessions()).session(sid(alice, bob))
    assert item is not None and item.unread_count == 1


# -- high priority -------------------------------------------------------------------------------------------
async def test_high_priority_message_in_priority_sync(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    session = sid(alice, bob)
    await alice.send_single(bob.uid, "normal")
    ack = await alice.send_single(bob.uid, "urgent", pack_id="hi-1", flags=HIGHPRJ)
    assert ack.ok
    await bob.expect_msg()
    header, msg = await bob.expect_msg()
    assert header.flags & HIGHPRJ and msg.content == "urgent"

    # the sender's header version and HIGHPRJ travel with the message, ACK is not set on a push
    msg = MsgReq(session, from_=alice.uid, to=bob.uid, content_type=1, content="v2")
    header, payload = await alice.request(
        PT.MSG_SINGLE_CHAT, msg.encode(), flags=HIGHPRJ, pack_id="v2", version=2
    )
    assert (header.version, header.flags) == (2, HIGHPRJ | ACK)
    v2 = typed(MsgAck, payload)
    header, _ = await bob.expect_msg()
    assert (header.version, header.flags, header.pack_id) == (2, HIGHPRJ, "v2")
    stored = (await bob.history(session, 0, 1)).msgs[0]
    assert (stored.header.version, stored.header.flags, stored.msg.seq_id) == (2, HIGHPRJ, v2.seq_id)

    sync = await bob.priority_sync(0)
    assert sync.ok and [p.header.pack_id for p in sync.msgs] == ["hi-1", "v2"]
    pack = sync.msgs[0]
    assert pack.header.type == PT.MSG_SINGLE_CHAT and pack.header.flags & HIGHPRJ
    assert (pack.header.pack_id, pack.msg.session_id, pack.msg.seq_id) == ("hi-1", session, ack.seq_id)
    assert sync.last_seq_id > 0
    empty = await bob.priority_sync(sync.last_seq_id)
    assert empty.ok and empty.msgs == [] and empty.last_seq_id == sync.last_seq_id
    assert (await alice.priority_sync(0)).msgs == []  # not queued for the sender

    # a control notice goes to the priority queue of both participants
    assert (await alice.control(MsgCtlCmd.REVOKE, session, "hi-1", ack.seq_id)).ok
    later = await bob.priority_sync(sync.last_seq_id)
    assert [p.header.type for p in later.msgs] == [PT.MSG_CTRL]
    ctl = typed(MsgControl, later.msgs[0].payload)
    assert (ctl.command, ctl.pack_id, ctl.seq_id) == (1, "hi-1", ack.seq_id)

    # a deleted message leaves the priority queue; the delete notice takes its place
    doomed = await alice.send_single(bob.uid, "doomed", pack_id="hi-2", flags=HIGHPRJ)
    assert (await alice.control(MsgCtlCmd.DELETE, session, "hi-2", doomed.seq_id)).ok
    rest = await bob.priority_sync(later.last_seq_id)
    assert [p.header.type for p in rest.msgs] == [PT.MSG_CTRL]
    assert typed(MsgControl, rest.msgs[0].payload).command == 3
    assert "hi-2" not in [p.header.pack_id for p in (await bob.priority_sync(0)).msgs]


# -- monitors -------------------------------------------------------------------------------------------------
async def test_session_monitor(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    op = await omtp.user("op", operator=True)
    session = sid(alice, bob)
    await alice.send_single(bob.uid, "before")
    await bob.expect_msg()

    # a non-participant cannot even name the conversation: the pair does not include carol, so the
    # sessionId does not resolve (§5.3.1) → 2 (a group she is not in gives 23, see the group tests)
    assert (await carol.monitor_start(session)).code == 2
    # participants may monitor their own conversation; they still get one copy
    assert (await bob.monitor_start(session)).ok
    assert (await bob.monitor_start(session)).ok  # already monitored
    # an operator may monitor anyone's conversation and hears the live traffic
    assert (await op.monitor_start(session)).ok

    await alice.send_single(bob.uid, "live")
    live_header, heard = await op.expect_msg()
    assert (heard.session_id, heard.content, heard.from_) == (session, "live", alice.uid)
    _, got = await bob.expect_msg()
    assert got.content == "live"
    await nothing(bob)
    await nothing(carol)

    # monitors also hear control notices; operators may read any history
    assert (await alice.control(MsgCtlCmd.OVERRIDE, session, live_header.pack_id, heard.seq_id, "live!")).ok
    _, payload = await op.expect_push(PT.MSG_CTRL)
    assert typed(MsgControl, payload).content == "live!"
    await bob.expect_push(PT.MSG_CTRL)
    read_by_op = await op.history(session)
    assert read_by_op.ok and [p.msg.content for p in read_by_op.msgs] == ["live!", "before"]

    synced = await op.monitor_sync()
    item = synced.session(session)
    assert synced.ok and item is not None
    assert (item.read_seq_id, item.unread_count) == (2, 0)
    assert item.last_msgs[0].msg.content == "live!"
    mine = (await bob.monitor_sync()).session(session)
    assert mine is not None and mine.unread_count == 2

    assert (await op.monitor_stop(session)).ok
    assert (await op.monitor_stop(session)).ok  # none left: still 0
    assert (await op.monitor_sync()).sessions == []
    await alice.send_single(bob.uid, "private again")
    await bob.expect_msg()
    await nothing(op)


# -- business notifications -------------------------------------------------------------------------------------
async def test_client_sent_business_notification(omtp: Omtp) -> None:
    op = await omtp.user("op", operator=True)
    bob = await omtp.user("bob")
    user = await omtp.user("carol")
    refused = await user.send_msg(
        PT.MSG_BIZ_NOTIFY, MsgReq("BM_app_x", from_=user.uid, to=bob.uid, content="spam"), pack_id="n-0"
    )
    assert refused.code == 43
    await nothing(bob)

    topic = f"BM_op{op.uid}_{bob.uid}"
    ack = await op.send_msg(
        PT.MSG_BIZ_NOTIFY, MsgReq("", from_=op.uid, to=bob.uid, content="your order"), pack_id="n-1"
    )
    assert ack.ok and ack.seq_id >= 1 and ack.session_id == topic
    header, msg = await bob.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert header.pack_id == "n-1" and header.flags & 0x4  # COUNTER
    assert (msg.session_id, msg.to, msg.content, msg.seq_id) == (topic, bob.uid, "your order", ack.seq_id)
    item = (await bob.hot_sessions()).session(topic)
    assert item is not None and item.unread_count == 1
    # forged sender
    forged = await op.send_msg(
        PT.MSG_BIZ_NOTIFY, MsgReq("", from_=bob.uid, to=bob.uid, content="x"), pack_id="n-2"
    )
    assert forged.code == 23


async def test_hot_sessions_page_by_100(omtp: Omtp) -> None:
    op = await omtp.user("op", operator=True)
    bob = await omtp.user("bob")
    acks = await asyncio.gather(
        *(
            op.send_msg(PT.MSG_BIZ_NOTIFY, MsgReq(f"topic-{i}", from_=op.uid, to=bob.uid, content=f"n{i}"))
            for i in range(105)
        )
    )
    assert all(a.ok for a in acks)
    first = await bob.hot_sessions(0)
    assert first.code == 25 and len(first.sessions) >= 100
    second = await bob.hot_sessions(first.timestamp)
    assert second.code == 0
    names = [s.session_id for s in first.sessions + second.sessions]
    assert sorted(names) == sorted(f"topic-{i}" for i in range(105))
    assert all(s.unread_count == 1 for s in first.sessions + second.sessions)
    last = await bob.hot_sessions(second.timestamp)
    assert (last.code, last.sessions, last.timestamp) == (0, [], second.timestamp)


async def test_a_conversation_changed_while_the_list_is_paged_comes_with_the_next_sync(omtp: Omtp) -> None:
    """Later pages of a list are served from its first read; a change made meanwhile is not lost."""
    op = await omtp.user("op", operator=True)
    bob = await omtp.user("bob")
    topics = [f"topic-{i}" for i in range(105)]
    acks = await asyncio.gather(
        *(op.send_msg(PT.MSG_BIZ_NOTIFY, MsgReq(t, from_=op.uid, to=bob.uid, content="n")) for t in topics)
    )
    assert all(a.ok for a in acks)
    first = await bob.hot_sessions(0)
    assert first.code == 25
    changed = first.sessions[0].session_id
    again = await op.send_msg(PT.MSG_BIZ_NOTIFY, MsgReq(changed, from_=op.uid, to=bob.uid, content="again"))
    assert again.ok
    second = await bob.hot_sessions(first.timestamp)
    third = await bob.hot_sessions(second.timestamp)
    assert (second.code, third.code) == (0, 0)
    listed = {s.session_id for s in first.sessions + second.sessions}
    assert listed == set(topics)
    latest = [s for s in second.sessions + third.sessions if s.session_id == changed]
    assert [s.unread_count for s in latest][-1:] == [2]


async def test_login_and_idle_timeouts(tuned_server: Server) -> None:
    """With ``login_timeout = 1`` and ``idle_timeout = 1`` (checked once a second)."""
    pool = Omtp(tuned_server)
    try:
        _, name = tuned_server.add_user("alice")
        _, other = tuned_server.add_user("bob")
        never = await pool.connect()  # no LOGIN at all
        idle = await pool.login(name)
        busy = await pool.login(other)
        await ping_until_closed(busy.ping, never, idle)
        assert never.closed and never.unmatched == []
        assert idle.closed
        assert not busy.closed  # any inbound frame keeps a connection alive
        await busy.ping()
    finally:
        await pool.close()
