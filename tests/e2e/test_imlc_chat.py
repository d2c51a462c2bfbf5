"""imlc messages through real sockets (imlc.md §3.1 MS/MN/MP/MR/READ, §5.2–§5.4, §8.4): 1:1 and group sends
acked after the commit then delivered as MN, dedup by client message id, offline catch-up by seq,
recall, read cursors with receipts, and 1:1, recall and receipts across OMTP both ways."""

from __future__ import annotations

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command, ImlcClient, Status
from tests.clients.omtp import PT, MsgCtlCmd, single_session_id
from tests.conftest import Server
from tests.e2e.conftest import Imlc, Omtp


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def no_notify(client: ImlcClient) -> None:
    """A PING round trip flushes anything on its way (deliveries are written before the ack)."""
    assert (await client.ping()).status == Status.OK
    assert await client.poll(0.01) is None


async def test_one_to_one_ack_then_delivery_to_the_peer_and_own_devices(imlc: Imlc) -> None:
    alice, a_name = await imlc.user("alice")
    alice_pc = await imlc.login(a_name, device_id="pc-1", device_class=pb.DEVICE_CLASS_DESKTOP)
    bob, _ = await imlc.user("bob")
    ack = await alice.send(bob.uid, "hello", message_id=41)
    assert ack.status == Status.OK and ack.frame.command == Command.MS
    assert (ack.body.message_id, ack.body.seq) == (41, 1) and ack.body.server_id > 0
    mn = await bob.expect(Command.MN)
    assert (mn.conversation.type, mn.conversation.target) == (pb.CONVERSATION_TYPE_SINGLE, alice.uid)
    assert (getattr(mn, "from"), mn.to, mn.message_id, mn.seq) == (alice.uid, bob.uid, 41, 1)
    assert (mn.server_id, mn.server_time_ms) == (ack.body.server_id, ack.body.server_time_ms)
    assert mn.message_content.searchable_content == "hello"
    assert mn.message_content.content_type == pb.MESSAGE_CONTENT_TYPE_TEXT
    copy = await alice_pc.expect(Command.MN)  # the sender's other device: the conversation names bob
    assert (copy.conversation.target, copy.seq) == (bob.uid, 1)
    await no_notify(alice)  # the sending session has the ack only
    reply = await bob.send(alice.uid, "hi", message_id=7)
    assert reply.body.seq == 2
    assert (await alice.expect(Command.MN)).conversation.target == bob.uid


async def test_resend_with_the_same_message_id_is_acked_once(imlc: Imlc) -> None:
    alice, _ = await imlc.user("dup")
    bob, _ = await imlc.user("dupb")
    first = await alice.send(bob.uid, "once", message_id=5)
    again = await alice.send(bob.uid, "once", message_id=5)
    assert again.status == Status.OK and again.body == first.body
    await bob.expect(Command.MN)
    await no_notify(bob)  # delivered once
    assert (await alice.send(bob.uid, "next", message_id=6)).body.seq == 2  # no gap


async def test_send_refusals(imlc: Imlc) -> None:
    alice, _ = await imlc.user("ref")
    bob, _ = await imlc.user("refb")
    content = pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TEXT, searchable_content="x")
    forged = pb.Message(
        message_id=1,
        message_content=content,
        conversation=pb.Conversation(target=bob.uid),
        **{"from": bob.uid},
    )
    assert (await alice.request(Command.MS, forged)).status == Status.IDENTITY_MISMATCH
    assert (await alice.send("99999999999", "x", message_id=2)).status == Status.NOT_FOUND
    assert (await alice.send("007", "x", message_id=3)).status == Status.BAD_REQUEST
    assert (await alice.send(bob.uid, "", message_id=4)).status == Status.BAD_REQUEST
    assert (await alice.send(bob.uid, "x", message_id=0)).status == Status.BAD_REQUEST
    big = pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TEXT, searchable_content="x" * 70000)
    too_big = pb.Message(message_id=9, message_content=big, conversation=pb.Conversation(target=bob.uid))
    assert (await alice.request(Command.MS, too_big)).status == Status.MESSAGE_TOO_LARGE
    await no_notify(bob)  # nothing stored or delivered


async def test_each_content_check_of_a_send_refuses_with_bad_request(imlc: Imlc) -> None:
    """imlc.md §3.1 MS step 4: what each content type needs, each refusal naming its field."""
    alice, _ = await imlc.user("cc")
    bob, _ = await imlc.user("ccb")
    text = pb.MESSAGE_CONTENT_TYPE_TEXT
    refused = {
        "content_type required": pb.MessageContent(searchable_content="x"),
        "text required": pb.MessageContent(content_type=text, data=b"only bytes"),
        "empty content": pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_IMAGE),
        "bad mentioned_type": pb.MessageContent(content_type=text, searchable_content="x", mentioned_type=9),
        "bad mentioned_targets": pb.MessageContent(
            content_type=text, searchable_content="x", mentioned_targets=[bob.uid, "007"]
        ),
        "field too long": pb.MessageContent(
            content_type=pb.MESSAGE_CONTENT_TYPE_IMAGE, remote_media_url="https://m.example/" + "é" * 2040
        ),
    }
    for n, (detail, content) in enumerate(refused.items(), start=1):
        msg = pb.Message(message_id=n, message_content=content, conversation=pb.Conversation(target=bob.uid))
        reply = await alice.request(Command.MS, msg)
        assert reply.status == Status.BAD_REQUEST, detail
        assert reply.body.detail == detail
    # a URL of 4,096 bytes is within the limit, and bytes alone make a content
    fits = pb.MessageContent(
        content_type=pb.MESSAGE_CONTENT_TYPE_FILE, remote_media_url="https://m.example/" + "é" * 2039
    )
    for n, content in enumerate(
        (fits, pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_SOUND, data=b"\1")), 7
    ):
        msg = pb.Message(message_id=n, message_content=content, conversation=pb.Conversation(target=bob.uid))
        assert (await alice.request(Command.MS, msg)).status == Status.OK
    assert (await bob.expect(Command.MN)).message_content == fits
    await bob.expect(Command.MN)
    await no_notify(bob)  # nothing of the refused sends was stored or delivered


async def test_every_content_field_reaches_an_imlc_peer_as_sent_but_the_local_path(imlc: Imlc) -> None:
    """imlc.md §8.3–§8.4: imlc → imlc keeps every field of the content; ``local_media_path`` is the
    sender's own and never leaves the server."""
    alice, _ = await imlc.user("kf")
    bob, _ = await imlc.user("kfb")
    content = pb.MessageContent(
        content_type=pb.MESSAGE_CONTENT_TYPE_SOUND,
        searchable_content="[voice]",
        push_content="alice sent a voice message",
        data=b"\x00\x01opus",
        mentioned_type=pb.MENTION_TYPE_TARGETS,
        mentioned_targets=[bob.uid],
        media_type=4,
        msg_length=17,
        remote_media_url="https://media.example/v.opus",
        local_media_path="/sdcard/v.opus",
    )
    msg = pb.Message(message_id=1, message_content=content, conversation=pb.Conversation(target=bob.uid))
    assert (await alice.request(Command.MS, msg)).status == Status.OK
    got = (await bob.expect(Command.MN)).message_content
    content.ClearField("local_media_path")
    assert got == content
    pulled = await bob.pull(alice.uid)
    assert [m.message_content for m in pulled.body.messages] == [content]


async def test_group_send(imlc: Imlc) -> None:
    alice, _ = await imlc.user("ga")
    bob, _ = await imlc.user("gb")
    carol, _ = await imlc.user("gc")
    status, group = imlc.server.api(
        "POST", "/api/v1/groups", {"name": "club", "owner": int(alice.uid), "members": [int(bob.uid)]}
    )
    assert status == 201, group
    gid = str(group["gid"])
    ack = await alice.send(gid, "hi club", message_id=1, conv_type=pb.CONVERSATION_TYPE_GROUP)
    assert ack.status == Status.OK and ack.body.seq >= 1
    mn = await bob.expect(Command.MN)
    assert (mn.conversation.type, mn.conversation.target, mn.to) == (pb.CONVERSATION_TYPE_GROUP, gid, gid)
    outsider = await carol.send(gid, "let me in", message_id=1, conv_type=pb.CONVERSATION_TYPE_GROUP)
    assert outsider.status == Status.NOT_MEMBER
    missing = await carol.send("99999999999", "x", message_id=2, conv_type=pb.CONVERSATION_TYPE_GROUP)
    assert missing.status == Status.NOT_FOUND


async def test_a_resend_is_acked_even_where_a_later_check_would_now_refuse(imlc: Imlc) -> None:
    """imlc.md §3.1 MS step 5: dedup comes before the target and policy checks."""
    alice, _ = await imlc.user("rs")
    bob, _ = await imlc.user("rsb")
    status, group = imlc.server.api(
        "POST", "/api/v1/groups", {"name": "resend club", "owner": int(bob.uid), "members": [int(alice.uid)]}
    )
    assert status == 201, group
    gid = str(group["gid"])
    first = await alice.send(gid, "in time", message_id=7, conv_type=pb.CONVERSATION_TYPE_GROUP)
    assert first.status == Status.OK
    status, _ = imlc.server.api("POST", f"/api/v1/groups/{gid}/members/remove", {"uids": [int(alice.uid)]})
    assert status == 200
    again = await alice.send(gid, "in time", message_id=7, conv_type=pb.CONVERSATION_TYPE_GROUP)
    assert again.status == Status.OK and again.body == first.body
    late = await alice.send(gid, "too late", message_id=8, conv_type=pb.CONVERSATION_TYPE_GROUP)
    assert late.status == Status.NOT_MEMBER


async def test_offline_catch_up_by_seq(imlc: Imlc) -> None:
    alice, _ = await imlc.user("off")
    bob_uid, bob_name = imlc.server.add_user("offb")
    for i in range(1, 6):
        assert (await alice.send(str(bob_uid), f"m{i}", message_id=i)).status == Status.OK
    bob = await imlc.login(bob_name)
    first = await bob.pull(alice.uid, anchor=0, limit=3)
    assert first.status == Status.OK
    assert [m.seq for m in first.body.messages] == [1, 2, 3] and first.body.has_more
    assert first.body.last_seq == 5 and first.body.conversation.target == alice.uid
    rest = await bob.pull(alice.uid, anchor=3)
    assert [m.message_content.searchable_content for m in rest.body.messages] == ["m4", "m5"]
    assert not rest.body.has_more
    newest = await bob.pull(alice.uid, direction=pb.PULL_DIRECTION_BACKWARD, limit=2)
    assert [m.seq for m in newest.body.messages] == [4, 5] and newest.body.has_more
    older = await bob.pull(alice.uid, anchor=4, direction=pb.PULL_DIRECTION_BACKWARD, limit=10)
    assert [m.seq for m in older.body.messages] == [1, 2, 3] and not older.body.has_more
    assert (await bob.pull("99999999999")).status == Status.NOT_FOUND


async def test_imlc_to_omtp_and_back(imlc: Imlc, omtp: Omtp) -> None:
    alice, _ = await imlc.user("xa")
    bob = await omtp.user("xb")
    ack = await alice.send(bob.uid, "to omtp", message_id=11)
    assert ack.status == Status.OK
    _, msg = await bob.expect_msg()
    assert (msg.from_, msg.to, msg.content, msg.seq_id) == (alice.uid, bob.uid, "to omtp", ack.body.seq)
    back = await bob.send_single(alice.uid, "from omtp")
    assert back.ok
    mn = await alice.expect(Command.MN)
    assert (getattr(mn, "from"), mn.conversation.target, mn.message_id) == (bob.uid, bob.uid, 0)
    assert (mn.message_content.searchable_content, mn.seq) == ("from omtp", back.seq_id)


async def test_a_bad_stream_harms_no_other_connection(imlc: Imlc) -> None:
    alice, _ = await imlc.user("bs")
    bob, _ = await imlc.user("bsb")
    bob.write(b"\x00\x00\x00\x00\x01\x00\x00\x00\x01\x03\xc0\x00")  # reserved flag bits: closed at once
    assert await bob.wait_closed(3)
    assert (await alice.ping()).status == Status.OK
    assert (await alice.send(bob.uid, "still here", message_id=1)).status == Status.OK


def recall(target: str, seq: int) -> pb.Recall:
    return pb.Recall(conversation=pb.Conversation(target=target), seq=seq)


async def test_recall_reaches_every_other_session_as_a_changed_mn(imlc: Imlc) -> None:
    alice, a_name = await imlc.user("ra")
    alice_pc = await imlc.login(a_name, device_id="pc-1", device_class=pb.DEVICE_CLASS_DESKTOP)
    bob, _ = await imlc.user("rb")
    seq = (await alice.send(bob.uid, "oops", message_id=1)).body.seq
    await bob.expect(Command.MN)
    await alice_pc.expect(Command.MN)
    assert (await bob.request(Command.MR, recall(alice.uid, seq))).status == Status.RECALL_DENIED
    assert (await alice.request(Command.MR, recall(bob.uid, 99))).status == Status.NOT_FOUND
    assert (await alice.request(Command.MR, recall(bob.uid, 0))).status == Status.BAD_REQUEST
    done = await alice.request(Command.MR, recall(bob.uid, seq))
    assert (done.status, done.body) == (Status.OK, None)
    for device, target in ((bob, alice.uid), (alice_pc, bob.uid)):
        mn = await device.expect(Command.MN)
        assert (mn.status, mn.seq, mn.conversation.target) == (pb.MESSAGE_STATUS_RECALLED, seq, target)
        assert not mn.HasField("message_content")
    await no_notify(alice)
    assert (await alice.request(Command.MR, recall(bob.uid, seq))).status == Status.OK  # again: no change
    await no_notify(bob)
    pulled = await bob.pull(alice.uid)
    assert [m.status for m in pulled.body.messages] == [pb.MESSAGE_STATUS_RECALLED]


async def test_recall_across_omtp_both_ways(imlc: Imlc, omtp: Omtp) -> None:
    alice, _ = await imlc.user("rxa")
    bob = await omtp.user("rxb")
    session = single_session_id(alice.uid, bob.uid)
    seq = (await alice.send(bob.uid, "mine", message_id=3)).body.seq
    await bob.expect_msg()
    assert (await alice.request(Command.MR, recall(bob.uid, seq))).status == Status.OK
    await bob.expect_push(PT.MSG_CTRL)  # OMTP's revoke notice
    back = await bob.send_single(alice.uid, "theirs", pack_id="om-1")
    await alice.expect(Command.MN)
    assert (await bob.control(MsgCtlCmd.REVOKE, session, "om-1", back.seq_id)).ok
    mn = await alice.expect(Command.MN)
    assert (mn.status, mn.seq, getattr(mn, "from")) == (pb.MESSAGE_STATUS_RECALLED, back.seq_id, bob.uid)


def cursor(target: str, seq: int, reader: str = "", kind: int = pb.CONVERSATION_TYPE_SINGLE) -> pb.ReadCursor:
    return pb.ReadCursor(conversation=pb.Conversation(type=kind, target=target), read_seq=seq, reader=reader)


async def test_read_cursor_reply_and_receipts(imlc: Imlc, omtp: Omtp) -> None:
    alice, a_name = await imlc.user("rda")
    alice_pc = await imlc.login(a_name, device_id="pc-1", device_class=pb.DEVICE_CLASS_DESKTOP)
    bob, _ = await imlc.user("rdb")
    for i in (1, 2):
        await alice.send(bob.uid, f"r{i}", message_id=i)
        await bob.expect(Command.MN)
        await alice_pc.expect(Command.MN)
    reply = await bob.request(Command.READ, cursor(alice.uid, 99))  # clamped to the last seq
    assert reply.status == Status.OK
    assert (reply.body.conversation.target, reply.body.read_seq, reply.body.reader) == (alice.uid, 2, bob.uid)
    for device in (alice, alice_pc):  # the peer's sessions: a read receipt naming the reader
        note = await device.expect(Command.READ)
        assert (note.conversation.target, note.read_seq, note.reader) == (bob.uid, 2, bob.uid)
    assert (
        await bob.request(Command.READ, cursor(alice.uid, 1, alice.uid))
    ).status == Status.IDENTITY_MISMATCH
    room = cursor("5", 1, kind=pb.CONVERSATION_TYPE_ROOM)
    assert (await bob.request(Command.READ, room)).status == Status.BAD_REQUEST
    carol = await omtp.user("rdc")
    await alice.send(carol.uid, "to omtp", message_id=3)
    _, msg = await carol.expect_msg()
    assert (await carol.read(single_session_id(alice.uid, carol.uid), msg.seq_id)).ok
    note = await alice.expect(Command.READ)
    assert (note.conversation.target, note.read_seq, note.reader) == (carol.uid, msg.seq_id, carol.uid)
