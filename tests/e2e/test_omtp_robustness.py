"""Durability and bad input, against a real server process over real sockets."""

from __future__ import annotations

import asyncio
import signal
import struct
from pathlib import Path

import pytest

from tests.clients.omtp import PT, OmtpClient, OtimHeader, encode_frame, single_session_id
from tests.conftest import Server, start_server


async def _login(server: Server, name: str, password: str = "pw", device: str = "pc-1") -> OmtpClient:
    client = await OmtpClient.connect("127.0.0.1", server.omtp)
    code, _ = await client.login(user_name=name, password=password, device_id=device)
    assert code == 0
    return client


async def test_acked_messages_survive_kill_9(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    try:
        alice_uid, alice = srv.add_user("alice")
        bob_uid, bob = srv.add_user("bob")
        a = await _login(srv, alice)
        acks = await asyncio.gather(
            *(a.send_single(str(bob_uid), f"m{i}", pack_id=f"p{i}") for i in range(180))
        )
        assert all(ack.ok for ack in acks)
        assert sorted(ack.seq_id for ack in acks) == list(range(1, 181))
        by_pack = {f"p{i}": ack.seq_id for i, ack in enumerate(acks)}
    finally:
        srv.stop(signal.SIGKILL)
    assert srv.proc.returncode == -signal.SIGKILL

    srv = start_server(tmp_path, config=srv.config)
    try:
        b = await _login(srv, bob)
        sid = single_session_id(str(alice_uid), str(bob_uid))
        seen: dict[int, str] = {}
        cursor = 0
        while True:
            page = await b.history(sid, cursor, 200)
            assert page.ok
            if not page.msgs:
                break
            for pack in page.msgs:
                seen[pack.msg.seq_id] = pack.msg.content
            cursor = min(p.msg.seq_id for p in page.msgs) - 1
            if cursor <= 0:
                break
        assert sorted(seen) == list(range(1, 181))
        assert {seen[seq] for seq in by_pack.values()} == {f"m{i}" for i in range(180)}

        a = await _login(srv, alice)
        again = await a.send_single(str(bob_uid), "m7", pack_id="p7")
        assert again.ok and again.seq_id == by_pack["p7"]
        assert (await b.history(sid, 0, 1)).msgs[0].msg.seq_id == 180  # nothing stored twice
    finally:
        srv.stop()


@pytest.fixture
async def bystander(server: Server) -> OmtpClient:
    """A logged-in connection that must stay healthy while another connection misbehaves."""
    _, name = server.add_user("by")
    client = await _login(server, name)
    yield client
    await client.close()


async def _assert_alive(client: OmtpClient) -> None:
    header = await client.ping()
    assert header.type == PT.PING


@pytest.mark.parametrize(
    "raw",
    [
        struct.pack(">I", 3),  # length below 4
        struct.pack(">I", 640_001) + b"\x00" * 16,  # length above the bound
        struct.pack(">I", 10) + b"\xff" * 6,  # body that is not an OTIMPack
        struct.pack(">I", 8) + b"\x0a\x00\x0a\x0b",  # header without its payload tag
    ],
    ids=["short-length", "oversize", "garbage-body", "no-payload"],
)
async def test_bad_frames_close_only_that_connection(
    server: Server, bystander: OmtpClient, raw: bytes
) -> None:
    _, name = server.add_user("bad")
    client = await _login(server, name)
    client.send_raw(raw)
    assert await client.wait_closed(timeout=5)
    await _assert_alive(bystander)


async def test_truncated_frame_waits_then_completes(server: Server, bystander: OmtpClient) -> None:
    _, name = server.add_user("trunc")
    client = await _login(server, name)
    frame = encode_frame(OtimHeader(type=PT.PING, version=1, flags=0, pack_id="slow"))
    for i in range(len(frame)):
        client.send_raw(frame[i : i + 1])
        await asyncio.sleep(0)
    header, _ = await client.request(PT.PING, pack_id="after")
    assert header.pack_id == "after"
    await _assert_alive(bystander)


async def test_unknown_type_gets_code_1_and_connection_stays(server: Server) -> None:
    _, name = server.add_user("unk")
    client = await _login(server, name)
    header, payload = await client.request(99, b"")
    assert header.flags & 1
    assert payload[:2] == b"\x00\x01"  # CommonErrorCode code 1
    await _assert_alive(client)


async def test_frames_before_login_close_without_reply(server: Server, bystander: OmtpClient) -> None:
    client = await OmtpClient.connect("127.0.0.1", server.omtp)
    client.send(PT.MSG_SINGLE_CHAT, b"")
    assert await client.wait_closed(timeout=5)
    assert not client.unmatched
    await _assert_alive(bystander)


async def test_undecodable_payload_gets_code_42(server: Server) -> None:
    _, name = server.add_user("p42")
    client = await _login(server, name)
    _, payload = await client.request(PT.MSG_SINGLE_CHAT, b"\x0f\x0f\x0f")
    assert payload[:3] == b"\x0a\x00\x2a"  # MsgAck{errorCode{42,…}}
    await _assert_alive(client)


async def test_absurd_counts_are_refused(server: Server) -> None:
    _, name = server.add_user("cnt")
    client = await _login(server, name)
    too_many = await client.user_info_get([str(10_000 + i) for i in range(201)])
    assert too_many.code == 2
    # a list whose declared element count is far larger than the bytes sent
    _, payload = await client.request(PT.USERINFO_GET, b"\x09\x02\x7f\xff\xff\xff")
    assert payload[:3] == b"\x0a\x00\x2a"
    await _assert_alive(client)


async def test_compression_flag_refused_with_code_1(server: Server) -> None:
    _, name = server.add_user("cmp")
    client = await _login(server, name)
    _, payload = await client.request(PT.PING, b"", flags=0x40)
    assert payload[:2] == b"\x00\x01"
    await _assert_alive(client)


async def test_flood_is_rate_limited(server: Server, bystander: OmtpClient) -> None:
    _, name = server.add_user("flood")
    client = await _login(server, name)
    for _ in range(400):
        client.send(PT.PING, b"")
    await client.drain()
    for _ in range(100):
        if len(client.unmatched) >= 400:
            break
        await asyncio.sleep(0.05)
    refused = [p for h, p in client.unmatched if p[:2] == b"\x00\x07"]
    assert len(client.unmatched) == 400
    assert 150 <= len(refused) <= 250  # burst of 200 passes, the rest is refused with code 7
    await _assert_alive(bystander)


async def test_reserved_flag_bits_are_not_echoed(server: Server) -> None:
    _, name = server.add_user("flg")
    client = await _login(server, name)
    header, _ = await client.request(PT.PING, b"", flags=0x1000 | 0x20)  # a reserved bit and HIGHPRJ
    assert header.flags == 0x20 | 0x1  # HIGHPRJ echoed with ACK, the reserved bit written as 0
