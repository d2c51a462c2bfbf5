"""polyim's push API over real sockets (beehive.md §4.5, §6.8; design.md §4 "Push"): user pushes reach
beehive sessions as P2P and OMTP sessions as BIZ_NOTIFY (16), broadcasts as BC and 16; stored pushes wait
for SYNC (beehive) and the hot sessions (OMTP), until acknowledged (P2P-ACK) or expired."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from tests.clients import beehive as b
from tests.clients.omtp import PT
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive, http
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]

ADMIN = "test-admin-token"


def api_push(server: Server, kind: str, body: dict[str, Any], *, token: str = ADMIN) -> tuple[int, Any]:
    return http(
        server,
        f"/api/v1/push/{kind}",
        method="POST",
        data=json.dumps(body).encode(),
        token=token,
        content_type="application/json",
    )


def pushed(server: Server, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = api_push(server, kind, body)
    assert status == 200, answer
    assert list(answer) == ["code", "errmsg", "msgid", "online"] and answer["errmsg"] == "OK"
    return dict(answer)


async def settled(client: b.BeehiveClient) -> None:
    """Wait until the acknowledgements sent so far are handled and written: the server handles a
    connection's frames in order (a PING answered means they were), and writes delivery receipts in the
    background every 50 ms (``Store.note_delivered``)."""
    await client.ping()
    await asyncio.sleep(0.2)


async def test_user_push_reaches_beehive_and_omtp(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    o = await omtp.user("om")
    uid = int(o.uid)
    bh = await beehive.login(uid, terminal=3)  # the same user on a phone, through beehive
    got = pushed(server, "user", {"uid": uid, "text": "hello both"})
    assert got["online"] == 2
    frame = await bh.expect(b.P2P)
    assert (frame.raw, frame.header.seq, frame.header.sid) == (b"hello both", got["msgid"], bh.sid)
    _, msg = await o.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert (msg.content, msg.to, msg.session_id) == ("hello both", o.uid, f"BM_push_{uid}")

    binary = bytes(range(256))
    got = pushed(server, "user", {"uid": uid, "data": base64.b64encode(binary).decode()})
    assert (await bh.expect(b.P2P)).raw == binary
    _, msg = await o.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert base64.b64decode(msg.content) == binary  # OMTP content is text: binary arrives as base64


async def test_stored_push_replayed_by_sync_until_acknowledged(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    first = pushed(server, "user", {"uid": uid, "text": "while away", "store": True})
    second = pushed(server, "user", {"uid": uid, "text": "and again", "store": True, "expire": 3600})
    assert first["online"] == 0 and second["msgid"] > first["msgid"]
    bh = await beehive.login(uid)
    frames, ack = await bh.sync()
    p2p = [f for f in frames if f.type == b.P2P]
    assert [(f.raw, f.header.seq) for f in p2p] == [
        (b"while away", first["msgid"]),
        (b"and again", second["msgid"]),
    ]
    assert ack.code == 0
    bh.send(b.P2P_ACK, seq=first["msgid"])  # P2P-ACK: header seq = the push id
    await settled(bh)
    frames, _ = await bh.sync()
    assert [f.raw for f in frames if f.type == b.P2P] == [b"and again"]
    bh.send(b.P2P_ACK, seq=second["msgid"])
    await settled(bh)
    frames, _ = await bh.sync()
    assert [f for f in frames if f.type == b.P2P] == []


async def test_stored_push_to_online_user_is_replayed_if_not_acknowledged(
    server: Server, beehive: Beehive
) -> None:
    bh = await beehive.user()
    got = pushed(server, "user", {"uid": bh.uid, "text": "now", "store": True})
    assert got["online"] == 1
    live = await bh.expect(b.P2P)
    assert (live.raw, live.header.seq) == (b"now", got["msgid"])
    frames, _ = await bh.sync()
    assert [f.raw for f in frames if f.type == b.P2P] == [b"now"]


async def test_expired_push_is_not_replayed(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    pushed(server, "user", {"uid": uid, "text": "short-lived", "store": True, "expire": 1})
    pushed(server, "user", {"uid": uid, "text": "not stored"})
    await asyncio.sleep(1.2)
    bh = await beehive.login(uid)
    frames, _ = await bh.sync()
    assert [f for f in frames if f.type == b.P2P] == []


async def test_stored_push_in_omtp_hot_sessions(server: Server, omtp: Omtp) -> None:
    uid, name = server.add_user("om")
    omtp.names[str(uid)] = name
    pushed(server, "user", {"uid": uid, "text": "read me later", "store": True})
    o = await omtp.login(name)
    hot = await o.hot_sessions(0)
    item = hot.session(f"BM_push_{uid}")
    assert item is not None and item.unread_count == 1
    assert [m.msg.content for m in item.last_msgs] == ["read me later"]


async def test_broadcast_reaches_every_protocol(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    tcp = await beehive.user()
    ws = await beehive.user(ws=True)
    o = await omtp.user("om")
    got = pushed(server, "broadcast", {"text": "maintenance at 22:00"})
    assert got["online"] >= 3
    for client in (tcp, ws):
        frame = await client.expect(b.BC)
        assert (frame.raw, frame.header.seq) == (b"maintenance at 22:00", got["msgid"])
    _, msg = await o.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert msg.content == "maintenance at 22:00"


async def test_broadcast_to_one_app(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    uid, _ = server.add_user("bh")
    chat_app = await beehive.connect()
    assert (await chat_app.online(uid, beehive.token(uid, chat_app.sid), app="beehive chat")).code == 0
    other_app = await beehive.user()
    o = await omtp.user("om")
    got = pushed(server, "broadcast", {"text": "for the chat app", "app": "beehive chat"})
    assert got["online"] == 1
    assert (await chat_app.expect(b.BC)).raw == b"for the chat app"
    assert await other_app.no_push(b.BC, 0.3)
    assert await o.poll_push(0.3) is None


def test_push_api_refusals(server: Server) -> None:
    uid, _ = server.add_user("bh")
    assert api_push(server, "user", {"uid": uid, "text": "x"}, token="wrong") == (
        401,
        {"code": 20008, "errmsg": "Auth failed!"},
    )
    status, body = http(
        server, "/api/v1/push/user", method="POST", data=b"uid=1", token=ADMIN, content_type="text/plain"
    )
    assert (status, body["code"]) == (415, 10007)
    assert api_push(server, "user", {"text": "x"})[1]["code"] == 20006
    assert api_push(server, "user", {"uid": uid})[1]["code"] == 20006
    assert api_push(server, "user", {"uid": "me", "text": "x"})[1]["code"] == 20005
    assert api_push(server, "user", {"uid": uid, "data": "not base64!"})[1]["code"] == 20005
    assert api_push(server, "user", {"uid": 999_999_999, "text": "x"}) == (
        404,
        {"code": 10013, "errmsg": "User isn't exist!"},
    )
    big = base64.b64encode(b"x" * 60_001).decode()
    assert api_push(server, "user", {"uid": uid, "data": big}) == (
        413,
        {"code": 10018, "errmsg": "Body over limit!"},
    )
    assert api_push(server, "broadcast", {"app": "x"})[1]["code"] == 20006


async def test_a_push_body_that_arrives_in_pieces_is_read_whole(server: Server) -> None:
    """The body is read to its end however the network splits it: a single read of what had arrived
    refused valid requests as "not JSON" (and bodies over the limit as the same, not 413)."""
    uid, _ = server.add_user("slow")
    body = json.dumps({"uid": uid, "text": "y" * 30_000}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http)
    head = (
        f"POST /api/v1/push/user HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body[:1000])
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.write(body[1000:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    assert status == 200, answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["code"] == 0
