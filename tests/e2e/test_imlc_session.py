"""imlc sessions through real sockets (imlc.md §1, §3.1 LOGIN/LOGOUT/PING, §5.1, §5.5, §5.6, §7):
password and token logins, refusals with the page's statuses, frames before login, unsupported
commands, the duplicate-login kick as a LOGOUT notify, and the client's LOGOUT."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command, Status
from tests.conftest import Server
from tests.e2e.conftest import Imlc


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def test_password_login_and_ping(imlc: Imlc) -> None:
    uid, name = imlc.server.add_user("pw")
    client = await imlc.connect()
    reply = await client.login(username=name, password="pw", device_id="dev-a1")
    assert reply.status == Status.OK and reply.frame.seq == 1 and reply.frame.flow == c.Flow.REPLY
    body = reply.body
    assert (body.uid, body.username, body.heartbeat_s, body.max_body_bytes) == (str(uid), name, 30, 1048576)
    assert body.token and body.token_expires_ms > body.server_time_ms > 0
    ping = await client.ping()
    assert (ping.status, ping.frame.command, ping.frame.seq, ping.body) == (Status.OK, Command.PING, 2, None)


async def test_login_by_uid_and_with_a_token_from_the_api(imlc: Imlc) -> None:
    uid, _ = imlc.server.add_user("tok")
    by_uid = await imlc.connect()
    assert (await by_uid.login(uid=str(uid), password="pw", device_id="d-uid")).status == Status.OK
    status, issued = imlc.server.api("POST", "/api/v1/tokens", {"uid": uid, "device": "d-tok"})
    assert status == 200, issued
    client = await imlc.connect()
    reply = await client.login(token=issued["token"], device_id="d-tok", device_class=pb.DEVICE_CLASS_DESKTOP)
    assert reply.status == Status.OK and reply.body.uid == str(uid)
    # the reply's token logs the same device in again (§5.1 reconnect), with or without the uid
    again = await imlc.connect()
    token = reply.body.token
    assert (await again.login(uid=str(uid), token=token, device_id="d-tok")).status == Status.OK


async def test_token_refusals(imlc: Imlc) -> None:
    uid, _ = imlc.server.add_user("tokbad")
    other, _ = imlc.server.add_user("tokother")
    _, issued = imlc.server.api("POST", "/api/v1/tokens", {"uid": uid, "device": "d-1"})
    client = await imlc.connect()
    wrong_device = await client.login(token=issued["token"], device_id="d-2")
    assert wrong_device.status == Status.AUTH_FAILED
    mismatch = await client.login(uid=str(other), token=issued["token"], device_id="d-1")
    assert mismatch.status == Status.IDENTITY_MISMATCH
    assert not client.closed


async def test_bad_password_is_refused_and_the_third_failure_closes(imlc: Imlc) -> None:
    _, name = imlc.server.add_user("bad")
    client = await imlc.connect()
    first = await client.login(username=name, password="wrong")
    assert first.status == Status.AUTH_FAILED and first.body.detail == "bad credentials"
    unknown = await client.login(username=f"{name}-nobody", password="pw")
    assert unknown.status == Status.AUTH_FAILED  # the same reply: no account probing
    ping = await client.ping()
    assert ping.status == Status.NOT_LOGGED_IN  # the connection stays in AWAIT_LOGIN
    third = await client.login(username=name, password="wrong")
    assert third.status == Status.AUTH_FAILED
    assert await client.wait_closed(2)


async def test_bad_login_fields(imlc: Imlc) -> None:
    _, name = imlc.server.add_user("field")
    client = await imlc.connect()
    assert (
        await client.login(username=name, password="pw", device_id="bad id!")
    ).status == Status.BAD_REQUEST
    assert (await client.login(username=name, device_id="d")).status == Status.BAD_REQUEST  # no credential


async def test_frames_before_login_and_unsupported_commands(imlc: Imlc) -> None:
    client = await imlc.connect()
    for command in (Command.PING, Command.MS, Command.MP, Command.MR, Command.SYNC):
        reply = await client.request(command)
        assert (reply.status, reply.frame.command) == (Status.NOT_LOGGED_IN, command)
    for command in (Command.RESERVED, Command.MN, Command.MPS, 200):
        reply = await client.request(command)
        assert reply.status == Status.UNSUPPORTED_COMMAND
    _, name = imlc.server.add_user("late")
    assert (await client.login(username=name, password="pw")).status == Status.OK
    assert (await client.request(Command.SYNC)).status == Status.OK  # an empty body: everything
    assert (await client.request(Command.ROOM)).status == Status.BAD_REQUEST  # no rid, no op
    again = await client.login(username=name, password="pw")
    assert again.status == Status.BAD_REQUEST  # a second LOGIN, session unchanged
    assert (await client.ping()).status == Status.OK


async def test_flag_and_body_errors_keep_the_connection(imlc: Imlc) -> None:
    client, _ = await imlc.user("flag")
    assert (await client.request_raw(Command.PING, b"", flag=0x04)).status == Status.UNSUPPORTED_FLAG  # AES
    assert (await client.request_raw(Command.MS, b"\xff\xff")).status == Status.BAD_REQUEST
    assert (await client.request_raw(Command.MS, b"\x1f\x8b", flag=0x10)).status == Status.BAD_REQUEST
    assert (await client.ping()).status == Status.OK


async def test_a_second_login_of_the_same_class_kicks_with_a_logout_notify(imlc: Imlc) -> None:
    first, name = await imlc.user("kick")
    second = await imlc.login(name, device_id="dev-2")
    kick = await first.expect(Command.LOGOUT)
    assert kick.reason == pb.LOGOUT_REASON_REPLACED
    assert await first.wait_closed(3)
    assert (await second.ping()).status == Status.OK
    desktop = await imlc.login(name, device_id="dev-3", device_class=pb.DEVICE_CLASS_DESKTOP)
    assert await second.poll(0.2) is None  # another class: both stay
    assert (await desktop.ping()).status == Status.OK


async def test_client_logout_closes_without_a_reply(imlc: Imlc) -> None:
    client, _ = await imlc.user("bye")
    await client.logout()
    assert await client.wait_closed(3)
    assert client.notifies.empty()


def login_then_pings(name: str, pings: int) -> bytes:
    """A LOGIN (seq 1) and ``pings`` PINGs (seq 2 …) written at once, as a pipelining client does."""
    login = pb.LoginRequest(username=name, password="pw", device_id="d", device_class=pb.DEVICE_CLASS_WEB)
    frames = [c.encode_frame(Command.LOGIN, 1, c.Flow.REQUEST, login.SerializeToString())]
    frames += [c.encode_frame(Command.PING, seq, c.Flow.REQUEST) for seq in range(2, pings + 2)]
    return b"".join(frames)


async def test_frames_behind_a_login_wait_for_its_reply_in_order(imlc: Imlc) -> None:
    """§1.1 AUTHENTICATING: up to 16 frames pipelined behind a LOGIN run after its reply, in order."""
    _, name = imlc.server.add_user("pipe")
    client = await imlc.connect()
    futures = [client.expect_reply(seq) for seq in range(1, 18)]
    client.write(login_then_pings(name, 16))
    replies = [await f for f in futures]
    assert [r.status for r in replies] == [Status.OK] * 17
    assert client.reply_order == list(range(1, 18))  # the LOGIN reply first, then the queued frames in order


async def test_a_seventeenth_frame_behind_a_login_closes(imlc: Imlc) -> None:
    _, name = imlc.server.add_user("flood")
    client = await imlc.connect()
    client.write(login_then_pings(name, 17))
    assert await client.wait_closed(3)


async def test_every_refused_login_counts_toward_the_three(imlc: Imlc) -> None:
    """An undecodable body and a bad field are refused LOGINs too: the third reply is the last."""
    client = await imlc.connect()
    assert (await client.request_raw(Command.LOGIN, b"\xff\xff")).status == Status.BAD_REQUEST
    assert (await client.login(username="x", password="pw", device_id="bad id")).status == Status.BAD_REQUEST
    assert (await client.login(username="nobody-here", password="pw")).status == Status.AUTH_FAILED
    assert await client.wait_closed(3)


async def test_gzip_bodies_are_accepted_and_a_bomb_closes(imlc: Imlc) -> None:
    """§2.2: compression 1 is gzip of the body; the inflated size has the body's limit (§8.3)."""
    alice, _ = await imlc.user("gz")
    bob, _ = await imlc.user("gzb")
    content = pb.MessageContent(
        content_type=pb.MESSAGE_CONTENT_TYPE_TEXT, searchable_content="squeezed " * 50
    )
    msg = pb.Message(message_id=1, message_content=content, conversation=pb.Conversation(target=bob.uid))
    packed = gzip.compress(msg.SerializeToString())
    ack = await alice.request_raw(Command.MS, packed, flag=0x10)
    assert ack.status == Status.OK and ack.body.seq == 1
    assert (await bob.expect(Command.MN)).message_content.searchable_content == "squeezed " * 50
    bomb = gzip.compress(b"\x00" * (2 * 1024 * 1024))  # a few KiB that inflate past 1 MiB
    refused = await alice.request_raw(Command.MS, bomb, flag=0x10)
    assert refused.status == Status.FRAME_TOO_LARGE
    assert await alice.wait_closed(3)
    assert (await bob.ping()).status == Status.OK


async def test_a_login_whose_connection_closes_behind_it_leaves_no_session(imlc: Imlc) -> None:
    """A LOGIN followed in the same write by a frame with reserved flag bits (§2.2: close at once): the
    LOGIN is still checking the password when its connection closes. It must not go online then: the
    user stays without a live session (no ghost shown online), and the server logs no handler failure."""
    uid, name = imlc.server.add_user("gone")
    assert imlc.server.log is not None
    before = len(imlc.server.log.read_text().splitlines())  # the shared server's earlier connections
    client = await imlc.connect()
    port = client.writer.get_extra_info("sockname")[1]
    reserved_flag = c.HEADER.pack(0, c.VERSION, 2, Command.PING, 0x80, 0)
    client.write(login_then_pings(name, 0) + reserved_flag)
    assert await client.wait_closed(3)
    for _ in range(20):  # a second: the password check, done or not, must leave no session
        assert imlc.server.api("GET", f"/api/v1/users/{uid}")[1]["sessions"] == 0
        await asyncio.sleep(0.05)
    lines = imlc.server.log.read_text().splitlines()[before:]
    ours = [x for x in lines if f"imlc 127.0.0.1:{port}:" in x]  # not another protocol's reused port
    assert not [x for x in ours if "handler failed" in x or "logged in" in x], ours
    again = await imlc.login(name)  # the user logs in as usual
    assert (await again.ping()).status == Status.OK
