"""imlc SYNC, pushes and typing over real sockets (imlc.md §3.1 SYNC/MPS/MS TYPING, §5.3): conversations
listed by activity (a peer's receipt counts) with both read cursors and the last message, in pages whose
token is bound to the user; offline catch-up with gap repair; pushes live, stored for offline users and
replayed once after login, broadcasts and OMTP business notifications as MPS; typing never stored."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command, ImlcClient, Status
from tests.conftest import Server
from tests.e2e.conftest import Imlc


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def sync(client: ImlcClient, since_ms: int = 0, limit: int = 0, token: bytes = b"") -> Any:
    reply = await client.request(
        Command.SYNC, pb.SyncRequest(since_ms=since_ms, limit=limit, page_token=token)
    )
    assert reply.status == Status.OK, reply
    return reply.body


def listed(reply: Any) -> list[tuple[int, str]]:
    return [(s.conversation.type, s.conversation.target) for s in reply.conversations]


async def read(client: ImlcClient, target: str, seq: int) -> None:
    cursor = pb.ReadCursor(conversation=pb.Conversation(target=target), read_seq=seq)
    assert (await client.request(Command.READ, cursor)).status == Status.OK


async def test_sync_lists_conversations_by_activity_with_cursors_in_pages(imlc: Imlc, server: Server) -> None:
    alice, _ = await imlc.user("sa")
    bob, bob_name = await imlc.user("sb")
    carol, _ = await imlc.user("sc")
    empty = await sync(alice)
    assert (list(empty.conversations), empty.has_more) == ([], False) and empty.next_since_ms > 0
    await alice.send(bob.uid, "one", 1)
    await alice.send(bob.uid, "two", 2)
    await carol.send(alice.uid, "hey", 1)
    status, group = server.api(
        "POST",
        "/api/v1/groups",
        {"name": f"g{alice.uid}", "owner": int(alice.uid), "members": [int(bob.uid)]},
    )
    assert status in (200, 201), group
    gid = str(group["gid"])
    await alice.send(gid, "to the group", 3, conv_type=pb.CONVERSATION_TYPE_GROUP)

    whole = await sync(alice)
    single, grouped = pb.CONVERSATION_TYPE_SINGLE, pb.CONVERSATION_TYPE_GROUP
    assert listed(whole) == [(single, bob.uid), (single, carol.uid), (grouped, gid)]  # oldest activity first
    with_bob = whole.conversations[0]
    assert (with_bob.last_seq, with_bob.read_seq, with_bob.peer_read_seq) == (2, 2, 0)  # own messages: read
    assert with_bob.last_message.message_content.searchable_content == "two"
    assert with_bob.last_time_ms == with_bob.last_message.server_time_ms > 0
    assert getattr(with_bob.last_message, "from") == alice.uid
    assert whole.conversations[1].read_seq == 0 and whole.conversations[1].last_seq == 1
    assert not whole.has_more and not whole.page_token

    # pages of one, each token sent back; the last page carries next_since_ms
    seen: list[tuple[int, str]] = []
    page = await sync(alice, limit=1)
    while page.has_more:
        seen += listed(page)
        assert page.page_token and not page.next_since_ms
        page = await sync(alice, since_ms=123, limit=1, token=page.page_token)  # since_ms ignored
    seen += listed(page)
    assert seen == listed(whole) and page.next_since_ms > 0

    # bob reads on another device: the conversation is active again for alice, with his cursor
    bob_pc = await imlc.login(bob_name, device_id="pc", device_class=pb.DEVICE_CLASS_DESKTOP)
    await read(bob_pc, alice.uid, 2)
    later = await sync(alice, since_ms=page.next_since_ms)
    moved = {s.conversation.target: s for s in later.conversations}
    assert moved[bob.uid].peer_read_seq == 2


async def test_page_tokens_are_bound_to_the_user_and_cannot_be_altered(imlc: Imlc) -> None:
    alice, _ = await imlc.user("ta")
    bob, _ = await imlc.user("tb")
    for n, peer in enumerate(await _peers(imlc, 2)):
        await alice.send(peer.uid, "x", n + 1)
    token = (await sync(alice, limit=1)).page_token
    assert token
    foreign = await bob.request(Command.SYNC, pb.SyncRequest(page_token=token))
    assert foreign.status == Status.BAD_REQUEST
    altered = token[:-3] + (b"AAA" if token[-3:] != b"AAA" else b"BBB")
    assert (
        await alice.request(Command.SYNC, pb.SyncRequest(page_token=altered))
    ).status == Status.BAD_REQUEST
    assert (
        await alice.request(Command.SYNC, pb.SyncRequest(page_token=b"\xff"))
    ).status == Status.BAD_REQUEST
    # a login token is not a page token either
    login_token = alice.token.encode()
    assert (
        await alice.request(Command.SYNC, pb.SyncRequest(page_token=login_token))
    ).status == Status.BAD_REQUEST
    assert (await sync(alice, limit=1, token=token)).conversations  # the real one still works


async def _peers(imlc: Imlc, n: int) -> list[ImlcClient]:
    return [(await imlc.user("peer"))[0] for _ in range(n)]


async def test_offline_catch_up_and_gap_repair(imlc: Imlc) -> None:
    """§5.3: SYNC says what changed, MP FORWARD fetches from the highest seq held."""
    alice, _ = await imlc.user("oa")
    bob, bob_name = await imlc.user("ob")
    await alice.send(bob.uid, "m1", 1)
    await bob.expect(Command.MN)
    since = (await sync(bob)).next_since_ms
    await bob.close()
    for i in range(2, 6):
        await alice.send(bob.uid, f"m{i}", i)
    bob = await imlc.login(bob_name)
    state = (await sync(bob, since_ms=since)).conversations
    assert [(s.conversation.target, s.last_seq) for s in state] == [(alice.uid, 5)]
    first = await bob.pull(alice.uid, anchor=1, limit=2)
    assert [m.seq for m in first.body.messages] == [2, 3] and first.body.has_more
    rest = await bob.pull(alice.uid, anchor=3)
    assert [m.seq for m in rest.body.messages] == [4, 5] and not rest.body.has_more
    await alice.send(bob.uid, "m6", 6)
    assert (await bob.expect(Command.MN)).seq == 6  # live again, no gap after the pull


async def test_pushes_live_stored_and_broadcast(imlc: Imlc, server: Server) -> None:
    alice, _ = await imlc.user("pa")
    status, body = server.api("POST", "/api/v1/push/user", {"uid": int(alice.uid), "text": "live news"})
    assert status == 200 and body["online"] >= 1
    push = await alice.expect(Command.MPS)
    assert (push.push_id, push.text, push.data, push.expires_ms) == (
        body["msgid"],
        "live news",
        b"live news",
        0,
    )
    assert not push.HasField("conversation")

    bob_uid, bob_name = server.add_user("pb")
    raw = base64.b64encode(b"\x00\x01binary").decode()
    for payload in ({"text": "while you were away"}, {"data": raw}):
        status, body = server.api("POST", "/api/v1/push/user", {"uid": bob_uid, "store": True, **payload})
        assert status == 200 and body["online"] == 0
    bob = await imlc.login(bob_name)
    first, second = await bob.expect(Command.MPS), await bob.expect(Command.MPS)
    assert (first.text, first.data) == ("while you were away", b"while you were away")
    assert second.data == b"\x00\x01binary" and first.push_id < second.push_id
    assert first.expires_ms > first.server_time_ms
    again = await imlc.login(bob_name, device_id="dev-2", device_class=pb.DEVICE_CLASS_DESKTOP)
    assert (await again.ping()).status == Status.OK and await again.poll(0.1) is None  # delivered once

    status, body = server.api("POST", "/api/v1/push/broadcast", {"text": "to everyone"})
    assert status == 200
    for client in (alice, bob, again):
        assert (await client.expect(Command.MPS)).text == "to everyone"
    server.api("POST", "/api/v1/push/broadcast", {"text": "beehive app only", "app": "some-app"})
    assert (await alice.ping()).status == Status.OK and await alice.poll(0.1) is None


async def test_an_omtp_business_notification_arrives_as_mps(imlc: Imlc, server: Server) -> None:
    alice, _ = await imlc.user("biz")
    body = {
        "traceId": uuid.uuid4().hex,
        "appId": "shop",
        "from": "Shop Bot",
        "to": alice.uid,
        "contentType": 1,
        "content": "your parcel is on its way",
    }
    status, resp = server.api("POST", "/msg/sendsimplemsg", body)
    assert status == 200 and resp["code"] == 0, resp
    push = await alice.expect(Command.MPS)
    assert (push.text, push.data) == ("your parcel is on its way", b"")


async def test_typing_is_forwarded_to_the_peer_and_never_stored(imlc: Imlc) -> None:
    alice, a_name = await imlc.user("ty")
    alice_pc = await imlc.login(a_name, device_id="pc", device_class=pb.DEVICE_CLASS_DESKTOP)
    bob, _ = await imlc.user("tz")
    typing = pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TYPING)
    msg = pb.Message(message_id=9, message_content=typing, conversation=pb.Conversation(target=bob.uid))
    ack = await alice.request(Command.MS, msg)
    assert ack.status == Status.OK
    assert (ack.body.message_id, ack.body.server_id, ack.body.seq) == (
        9,
        0,
        0,
    ) and ack.body.server_time_ms > 0
    mn = await bob.expect(Command.MN)
    assert (mn.seq, mn.server_id, mn.message_content.content_type) == (0, 0, pb.MESSAGE_CONTENT_TYPE_TYPING)
    assert (mn.conversation.target, getattr(mn, "from"), mn.message_id) == (alice.uid, alice.uid, 9)
    assert (await alice_pc.ping()).status == Status.OK and await alice_pc.poll(0.1) is None  # not to oneself
    assert (await alice.request(Command.MS, msg)).status == Status.OK  # no dedup: forwarded again
    assert (await bob.expect(Command.MN)).seq == 0
    assert (await bob.pull(alice.uid)).body.last_seq == 0  # nothing stored

    msg.conversation.CopyFrom(pb.Conversation(type=pb.CONVERSATION_TYPE_GROUP, target="1"))
    assert (await alice.request(Command.MS, msg)).status == Status.BAD_REQUEST
    msg.conversation.CopyFrom(pb.Conversation(target="99999999999"))
    assert (await alice.request(Command.MS, msg)).status == Status.NOT_FOUND
