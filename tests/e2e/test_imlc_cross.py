"""imlc with every other landed protocol over real sockets (imlc.md §8.4): 1:1 with beehive both ways,
a group of imlc, OMTP and beehive members, a read cursor moved in imlc reaching the reader's OMTP
session in OMTP's form, kicks across protocols in each one's own words, blacklists, group gags, a
disabled account, and ROOM_FULL."""

from __future__ import annotations

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients import beehive as b
from tests.clients.imlc import Command, Status
from tests.clients.omtp import PT, DeviceType, MsgReaded, single_session_id
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Imlc, Omtp
from tests.e2e.test_beehive_rooms import config
from tests.e2e.test_imlc_rooms import new_room, room

__all__ = ["beehive"]

GROUP = pb.CONVERSATION_TYPE_GROUP


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def test_one_to_one_with_beehive_both_ways(imlc: Imlc, beehive: Beehive) -> None:
    alice, _ = await imlc.user("hb")
    bee = await beehive.user()
    ack = await alice.send(str(bee.uid), "to beehive", 1)
    assert ack.status == Status.OK
    got = await bee.expect(b.CHAT)
    assert (got.msg.suid, got.msg.duid, got.msg.text, got.header.seq) == (
        int(alice.uid),
        bee.uid,
        "to beehive",
        ack.body.seq,
    )
    assert (await bee.chat(int(alice.uid), "from beehive")).code == 0
    mn = await alice.expect(Command.MN)
    assert (getattr(mn, "from"), mn.conversation.target, mn.message_id) == (str(bee.uid), str(bee.uid), 0)
    assert (mn.message_content.searchable_content, mn.seq) == ("from beehive", ack.body.seq + 1)


async def test_a_group_of_three_protocols(imlc: Imlc, omtp: Omtp, beehive: Beehive, server: Server) -> None:
    alice, _ = await imlc.user("g3")
    o = await omtp.user("g3o")
    bee = await beehive.user()
    status, group = server.api(
        "POST",
        "/api/v1/groups",
        {"name": f"three{alice.uid}", "owner": int(alice.uid), "members": [int(o.uid), bee.uid]},
    )
    assert status == 201, group
    gid = group["gid"]
    ack = await alice.send(str(gid), "hello all", 1, conv_type=GROUP)
    assert ack.status == Status.OK
    _, msg = await o.expect_msg(PT.MSG_GROUP_CHAT)
    assert (msg.content, msg.seq_id, msg.from_) == ("hello all", ack.body.seq, alice.uid)
    frame = await bee.expect(b.GROUP_CHAT)
    assert (frame.msg.uid, frame.msg.gid, frame.msg.text) == (int(alice.uid), gid, "hello all")
    assert (await o.send_group(f"GC_{gid}", "from omtp")).ok
    mn = await alice.expect(Command.MN)
    assert (mn.conversation.type, mn.conversation.target, getattr(mn, "from")) == (GROUP, str(gid), o.uid)


async def test_read_in_imlc_reaches_the_readers_omtp_session(imlc: Imlc, omtp: Omtp) -> None:
    o_peer = await omtp.user("rp")
    me = await omtp.user("rm", device_id="ph", device_type=DeviceType.IOS)
    imlc_me = await imlc.login(omtp.name_of(me), device_id="pc", device_class=pb.DEVICE_CLASS_DESKTOP)
    assert (await o_peer.send_single(me.uid, "read me")).ok
    await imlc_me.expect(Command.MN)
    cursor = pb.ReadCursor(conversation=pb.Conversation(target=o_peer.uid), read_seq=1)
    assert (await imlc_me.request(Command.READ, cursor)).status == Status.OK
    _, payload = await me.expect_push(PT.MSG_READ)
    read = MsgReaded.decode(payload)
    assert (read.session_id, read.seq_id) == (single_session_id(o_peer.uid, me.uid), 1)


async def test_kicks_across_protocols_in_each_ones_words(imlc: Imlc, omtp: Omtp, beehive: Beehive) -> None:
    o = await omtp.user("kk", device_id="pc-1", device_type=DeviceType.WINDOWS)
    name = omtp.name_of(o)
    desk = await imlc.login(name, device_id="desk", device_class=pb.DEVICE_CLASS_DESKTOP)
    await o.expect_push(PT.KICKOUT)  # an imlc desktop login ends the OMTP desktop session
    assert await o.wait_closed(3)
    phone = await omtp.login(name, device_id="ph-1", device_type=DeviceType.ANDROID)
    mobile = await imlc.login(name, device_id="mob", device_class=pb.DEVICE_CLASS_MOBILE)
    await phone.expect_push(PT.KICKOUT)
    again = await omtp.login(name, device_id="ph-2", device_type=DeviceType.IOS)
    kick = await mobile.expect(Command.LOGOUT)  # and the other way: imlc hears LOGOUT REPLACED
    assert kick.reason == pb.LOGOUT_REASON_REPLACED
    assert await mobile.wait_closed(3) and not again.closed
    bee = await beehive.login(int(o.uid), terminal=1)  # a beehive TCP desktop takes the desktop slot
    logout = await desk.expect(Command.LOGOUT)
    assert logout.reason == pb.LOGOUT_REASON_REPLACED and await desk.wait_closed(3)
    await imlc.login(name, device_id="desk-2", device_class=pb.DEVICE_CLASS_DESKTOP)
    kicked = await bee.expect(b.KICK)
    assert (kicked.msg.code, kicked.msg.errmsg) == (20009, "Kicked by another login!")


async def test_blacklist_and_a_disabled_account(imlc: Imlc, beehive: Beehive, server: Server) -> None:
    alice, a_name = await imlc.user("bl")
    bee = await beehive.user()
    assert (await bee.pair(b.BLACKLIST_ADD, int(alice.uid))).code == 0
    assert (await alice.send(str(bee.uid), "let me talk", 1)).status == Status.BLOCKED
    typing = pb.Message(
        message_id=2,
        message_content=pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TYPING),
        conversation=pb.Conversation(target=str(bee.uid)),
    )
    assert (await alice.request(Command.MS, typing)).status == Status.BLOCKED
    assert await bee.no_push(b.CHAT, 0.2)

    status, _ = server.api("POST", f"/api/v1/users/{alice.uid}/disable")
    assert status == 200
    logout = await alice.expect(Command.LOGOUT)
    assert logout.reason == pb.LOGOUT_REASON_DISABLED and await alice.wait_closed(3)
    client = await imlc.connect()
    assert (await client.login(username=a_name, password="wrong")).status == Status.AUTH_FAILED  # no hint
    assert (await client.login(username=a_name, password="pw")).status == Status.ACCOUNT_DISABLED


async def test_a_full_room_and_a_group_gag(imlc: Imlc, beehive: Beehive, server: Server) -> None:
    alice, _ = await imlc.user("fr")
    bob, _ = await imlc.user("fs")
    rid = new_room(server, int(alice.uid))
    config(server, option="limit", action="set", rid=rid, num=1)
    assert (await room(alice, rid)).status == Status.OK
    assert (await room(bob, rid)).status == Status.ROOM_FULL

    owner = await beehive.user()
    gid = await owner.create_group(f"gag{owner.uid}")
    status, _ = server.api("POST", f"/api/v1/groups/{gid}/members", {"uids": [int(bob.uid)]})
    assert status == 200
    assert (await bob.send(str(gid), "before", 1, conv_type=GROUP)).status == Status.OK
    assert (await owner.group(b.GROUP_GAG_ADD, gid, uid=int(bob.uid))).msg.code == 0
    assert (await bob.send(str(gid), "after", 2, conv_type=GROUP)).status == Status.MUTED
