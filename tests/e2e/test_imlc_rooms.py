"""imlc rooms over real sockets (imlc.md §3.1 ROOM, MS/MP/MR in a room, §8.4): JOIN and LEAVE with their
refusals, room messages as MN to every other session inside (and to beehive's ROOM-CHAT, both ways),
history and recall inside the room, member counts by COUNT only when they change, broadcasts as MPS
(live and to later joiners), kicks as KICKED (then banned), closed rooms, dismissal as DISMISSED."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients import beehive as b
from tests.clients.imlc import Command, ImlcClient, Status
from tests.conftest import Server, start_server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Imlc
from tests.e2e.test_beehive_rooms import chat, config, joined, room_http

__all__ = ["beehive"]

ROOM = pb.CONVERSATION_TYPE_ROOM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Member counts every 0.3 s, so that a COUNT is quick to watch."""
    srv = start_server(tmp_path_factory.mktemp("imlc-rooms"), extra="room_count_interval = 0.3")
    yield srv
    srv.stop()


def new_room(server: Server, owner: int) -> int:
    status, body = server.api("POST", "/api/v1/rooms", {"owner": owner, "name": "lobby"})
    assert status == 201, body
    return int(body["rid"])


async def room(client: ImlcClient, rid: int | str, op: int = pb.ROOM_OP_JOIN) -> Any:
    return await client.request(Command.ROOM, pb.Room(rid=str(rid), op=op))


async def next_notify(client: ImlcClient, command: int, timeout: float = 3) -> Any:
    """The next notify of ``command``, skipping the member counts that arrive whenever they change."""
    deadline = time.monotonic() + timeout
    while True:
        frame, body = await client.expect_any(max(0.05, deadline - time.monotonic()))
        if frame.command == Command.ROOM and body.op == pb.ROOM_OP_COUNT:
            continue
        assert frame.command == command, (frame, body)
        return body


async def quiet(client: ImlcClient) -> None:
    """Nothing but member counts on the way (a PING round trip flushes what was queued before it)."""
    assert (await client.ping()).status == Status.OK
    while (got := await client.poll(0.05)) is not None:
        frame, body = got
        assert frame.command == Command.ROOM and body.op == pb.ROOM_OP_COUNT, got


async def send(client: ImlcClient, rid: int, text: str, message_id: int) -> Any:
    return await client.send(str(rid), text, message_id, conv_type=ROOM)


async def test_join_leave_and_chat_with_imlc_and_beehive(
    server: Server, imlc: Imlc, beehive: Beehive
) -> None:
    alice, _ = await imlc.user("ra")
    bob, bob_name = await imlc.user("rb")
    bob_pc = await imlc.login(bob_name, device_id="pc", device_class=pb.DEVICE_CLASS_DESKTOP)
    rid = new_room(server, int(alice.uid))
    bee = await beehive.user()

    assert (await room(alice, 987654321)).status == Status.NOT_FOUND  # imlc never creates rooms
    assert (await room(alice, "0")).status == Status.BAD_REQUEST
    assert (await room(alice, rid, pb.ROOM_OP_KICKED)).status == Status.BAD_REQUEST
    assert (await send(alice, rid, "early", 1)).status == Status.NOT_MEMBER
    assert (await alice.pull(str(rid), conv_type=ROOM)).status == Status.NOT_MEMBER

    first = await room(alice, rid)
    assert first.status == Status.OK
    assert (first.body.rid, first.body.op, first.body.member_count, first.body.last_seq) == (
        str(rid),
        pb.ROOM_OP_JOIN,
        1,
        0,
    )
    assert (await room(alice, rid)).body.member_count == 1  # idempotent
    await joined(bee, rid)
    assert (await room(bob, rid)).body.member_count == 3  # the session joins, not the user

    ack = await send(alice, rid, "hello room", 11)
    assert ack.status == Status.OK and ack.body.seq == 1
    mn = await next_notify(bob, Command.MN)
    assert (mn.conversation.type, mn.conversation.target, mn.to) == (ROOM, str(rid), str(rid))
    assert (getattr(mn, "from"), mn.seq, mn.message_content.searchable_content) == (
        alice.uid,
        1,
        "hello room",
    )
    seen = await bee.expect(b.ROOM_CHAT)
    assert (seen.msg.uid, seen.msg.rid, seen.msg.text) == (int(alice.uid), rid, "hello room")
    await quiet(alice)  # the sending session has its ack
    await quiet(bob_pc)  # bob's other device is not inside

    assert (await chat(bee, rid, "from bee")).code == 0
    for client in (alice, bob):
        mn = await next_notify(client, Command.MN)
        assert (getattr(mn, "from"), mn.seq, mn.message_content.searchable_content) == (
            str(bee.uid),
            2,
            "from bee",
        )
        assert mn.message_id == 0

    history = await bob.pull(str(rid), conv_type=ROOM)
    assert [m.seq for m in history.body.messages] == [1, 2] and history.body.last_seq == 2
    back = await bob.pull(str(rid), anchor=2, direction=pb.PULL_DIRECTION_BACKWARD, conv_type=ROOM)
    assert [m.seq for m in back.body.messages] == [1]

    left = await room(bob, rid, pb.ROOM_OP_LEAVE)
    assert (left.status, left.body.op) == (Status.OK, pb.ROOM_OP_LEAVE)
    assert (await room(bob, rid, pb.ROOM_OP_LEAVE)).status == Status.OK  # not inside: OK
    assert (await room(bob, 987654321, pb.ROOM_OP_LEAVE)).status == Status.OK
    assert (await send(bob, rid, "gone", 2)).status == Status.NOT_MEMBER
    assert (await send(alice, rid, "still here", 12)).body.seq == 3
    await quiet(bob)


async def test_recall_in_a_room_by_the_sender_or_the_owner(server: Server, imlc: Imlc) -> None:
    owner, _ = await imlc.user("ro")
    guest, _ = await imlc.user("rg")
    other, _ = await imlc.user("rx")
    rid = new_room(server, int(owner.uid))
    for client in (owner, guest, other):
        assert (await room(client, rid)).status == Status.OK
    mine = (await send(owner, rid, "owner's", 1)).body.seq
    theirs = (await send(guest, rid, "guest's", 1)).body.seq
    for client in (guest, other):
        await next_notify(client, Command.MN)
    await next_notify(other, Command.MN)
    await next_notify(owner, Command.MN)

    recall = pb.Recall(conversation=pb.Conversation(type=ROOM, target=str(rid)), seq=mine)
    assert (await guest.request(Command.MR, recall)).status == Status.RECALL_DENIED
    recall.seq = theirs
    assert (await owner.request(Command.MR, recall)).status == Status.OK  # the owner may
    for client in (guest, other):
        changed = await next_notify(client, Command.MN)
        assert (changed.seq, changed.status) == (theirs, pb.MESSAGE_STATUS_RECALLED)
        assert not changed.HasField("message_content")
    await quiet(owner)
    pulled = await other.pull(str(rid), conv_type=ROOM)
    assert [(m.seq, m.status) for m in pulled.body.messages] == [
        (mine, pb.MESSAGE_STATUS_NORMAL),
        (theirs, pb.MESSAGE_STATUS_RECALLED),
    ]


async def test_counts_broadcasts_kick_close_and_dismiss(server: Server, imlc: Imlc, beehive: Beehive) -> None:
    alice, _ = await imlc.user("rc")
    bob, _ = await imlc.user("rd")
    rid = new_room(server, int(alice.uid))
    assert (await room(alice, rid)).body.member_count == 1
    bee = await beehive.user()
    await joined(bee, rid)
    count = await _count(alice, rid, 2)
    assert count.member_count == 2
    await bee.close()
    assert (await _count(alice, rid, 1)).member_count == 1  # a closed connection has left

    status, _ = room_http(server, "/room/push", {"dim": "room", "rid": rid, "expire": 60}, data=b"\x00kept")
    assert status == 200
    push = await next_notify(alice, Command.MPS)
    assert (push.conversation.type, push.conversation.target, push.data) == (ROOM, str(rid), b"\x00kept")
    assert push.expires_ms > push.server_time_ms > 0
    joining = await room(bob, rid)
    assert joining.status == Status.OK
    late = await next_notify(bob, Command.MPS)  # an unexpired broadcast, after the JOIN reply
    assert (late.push_id, late.data) == (push.push_id, b"\x00kept")

    status, _ = server.api("POST", f"/api/v1/rooms/{rid}/kick", {"uid": int(bob.uid)})
    assert status == 200
    kicked = await next_notify(bob, Command.ROOM)
    assert (kicked.rid, kicked.op) == (str(rid), pb.ROOM_OP_KICKED) and kicked.detail
    assert (await send(bob, rid, "after the kick", 1)).status == Status.NOT_MEMBER
    assert (await room(bob, rid)).status == Status.FORBIDDEN  # banned
    await quiet(alice)  # others hear nothing of a kick but the count

    config(server, option="room", action="close", rid=rid)
    assert (await send(alice, rid, "closed", 1)).status == Status.FORBIDDEN
    carol, _ = await imlc.user("re")
    assert (await room(carol, rid)).status == Status.FORBIDDEN
    config(server, option="room", action="open", rid=rid)

    status, _ = server.api("DELETE", f"/api/v1/rooms/{rid}")
    assert status == 200
    gone = await next_notify(alice, Command.ROOM)
    assert (gone.rid, gone.op) == (str(rid), pb.ROOM_OP_DISMISSED)
    assert (await send(alice, rid, "dismissed", 2)).status == Status.NOT_FOUND
    assert (await room(alice, rid)).status == Status.NOT_FOUND


async def _count(client: ImlcClient, rid: int, expected: int, timeout: float = 3) -> Any:
    """Wait for a COUNT of ``expected`` (counts only come when they change)."""
    deadline = time.monotonic() + timeout
    while True:
        frame, body = await client.expect_any(max(0.05, deadline - time.monotonic()))
        assert frame.command == Command.ROOM and body.op == pb.ROOM_OP_COUNT and body.rid == str(rid), body
        if body.member_count == expected:
            return body
