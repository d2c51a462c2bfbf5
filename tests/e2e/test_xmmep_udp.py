"""XMMEP over UDP through real sockets: the peer bound to its login address and, when negotiated, to its
session token; the 170 resend schedule; 133 15 for a peer whose session is gone; the 1450-byte cap
(xmmep.md §1.3, §1.5, §2.6, §2.7, §8.3)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.clients.xmmep import XmmepClient, encode
from tests.conftest import Server, start_server, write_config
from tests.e2e.conftest import Xmmep


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: ``udp_require_token = true``, 1 s ready and login timeouts, and a
    login throttle (which counts per source address) not shared with other modules."""
    tmp = tmp_path_factory.mktemp("xmmep-token")
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8")
    own = "[xmmep]\nudp_require_token = true\nready_timeout = 1\nlogin_timeout = 1\n"
    cfg.write_text(text.replace("[xmmep]\n", own, 1), encoding="utf-8")
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


async def test_login_chat_and_keep_alive_over_udp(xmmep: Xmmep) -> None:
    alice = await xmmep.user("ua", udp=True)
    bob = await xmmep.user("ub", udp=True)
    alice.send(170, alice.user, bob.user, 1, "over udp", 0)
    assert (await bob.expect(170)).fields[3:] == [b"over udp", b"0"]
    bob.send(200, bob.user)
    assert (await bob.expect(200)).field(0) == bob.user
    alice.send(110, alice.user)
    assert (await alice.expect(111)).num(2) == xmmep.server.xmmep_udp


async def test_a_datagram_from_another_address_is_not_the_session(xmmep: Xmmep) -> None:
    alice = await xmmep.user("sp", udp=True)
    bob = await xmmep.user("sq", udp=True)
    forger = await xmmep.connect(udp=True)
    forger.send(170, alice.user, bob.user, 1, "forged", 0)
    assert (await forger.expect(133)).body == b"15"
    forger.send(200, "a")  # 9 bytes: no answer larger than the request
    assert await forger.poll() is None
    assert await bob.poll() is None


async def test_session_gone_gets_133_15(xmmep: Xmmep) -> None:
    alice = await xmmep.user("sg", udp=True)
    alice.send(135, alice.user, 3)
    alice.send(200, alice.user)
    assert (await alice.expect(133)).body == b"15"


async def test_token_is_required_once_negotiated(xmmep: Xmmep, server: Server) -> None:
    _, name = server.add_user("tk")
    client = await xmmep.connect(udp=True)
    replies = await client.login(name, ext="tok")
    token = client.token
    assert len(token) == 32 and all(ch in "0123456789abcdef" for ch in token)
    client.token = ""
    client.send(200, name)  # no token: dropped, unanswered
    assert await client.poll() is None
    client.send(200, name, ext={"tok": "0" * 32})
    assert await client.poll() is None
    client.token = token
    client.send(200, name)
    assert (await client.expect(200)).field(0) == name
    again = await client.login(name, ext="tok")  # a repeated 112 needs none and keeps the token
    assert again[0].ext("tok") == token and len(replies) == len(again)


async def test_udp_require_token_refuses_logins_without_it(token_server: Server) -> None:
    _, name = token_server.add_user("rt")
    client = await XmmepClient.over_udp("127.0.0.1", token_server.xmmep_udp)
    try:
        assert (await client.login(name))[0].body == b"17"
        assert (await client.login(name, ext="tok"))[-1].code == 127
        tcp = await XmmepClient.tcp("127.0.0.1", token_server.xmmep_tcp)
        assert (await tcp.login(name))[-1].code == 127  # TCP needs none
        await tcp.close()
    finally:
        await client.close()


async def test_unconfirmed_170_is_resent_at_2_and_6_seconds_then_never(xmmep: Xmmep) -> None:
    alice = await xmmep.user("ra")
    bob = await xmmep.user("rb", udp=True, ext="ack")
    loop = asyncio.get_running_loop()
    alice.send(170, alice.user, bob.user, 1, "resend me", 0)
    first = await bob.expect(170)
    t0 = loop.time()
    times = []
    for _ in range(2):
        again = await bob.expect(170, timeout=8)
        assert again.body == first.body
        times.append(loop.time() - t0)
    assert 1.5 < times[0] < 3.0 and 5.5 < times[1] < 7.0, times
    assert await bob.poll(3.0) is None
    # a confirmed one is not resent
    alice.send(170, alice.user, bob.user, 1, "confirm me", 0)
    got = await bob.expect(170)
    bob.send(172, bob.user, 1, got.ext("mid") or "")
    assert await bob.poll(2.8) is None


async def test_oversized_datagrams_are_dropped(xmmep: Xmmep) -> None:
    alice = await xmmep.user("ov", udp=True)
    body = b"x" * 1443
    alice.raw(b"%4d%4d" % (len(body), 200) + body)
    alice.raw(encode(200, [alice.user]) + b"\x00\x00")  # size and header disagree
    assert await alice.poll() is None
    alice.raw(encode(200, [alice.user]) + b"\x00")  # one trailing NUL is tolerated
    assert (await alice.expect(200)).field(0) == alice.user


async def test_login_throttle_answers_5_even_to_the_right_password(token_server: Server) -> None:
    _, name = token_server.add_user("thr")
    client = await XmmepClient.tcp("127.0.0.1", token_server.xmmep_tcp)
    try:
        for _ in range(5):
            assert (await client.login(name, "wrong"))[0].body == b"12"
        assert (await client.login(name))[0].body == b"5"
    finally:
        await client.close()


async def test_without_client_ready_the_session_is_ready_after_the_timeout(token_server: Server) -> None:
    _, alice = token_server.add_user("rta")
    _, bob = token_server.add_user("rtb")
    sender = await XmmepClient.tcp("127.0.0.1", token_server.xmmep_tcp)
    receiver = await XmmepClient.tcp("127.0.0.1", token_server.xmmep_tcp)
    try:
        await sender.login(alice)
        await sender.ready()
        sender.send(170, alice, bob, 1, "waiting for you", 0)
        assert (await receiver.login(bob))[-1].code == 127  # and no 128
        assert await receiver.poll(0.5) is None
        assert (await receiver.expect(170, timeout=3)).field(3) == "waiting for you"
    finally:
        await sender.close()
        await receiver.close()


async def test_a_signed_out_tcp_peer_is_new_again_with_a_fresh_login_deadline(token_server: Server) -> None:
    _, name = token_server.add_user("nw")
    client = await XmmepClient.tcp("127.0.0.1", token_server.xmmep_tcp)
    try:
        await client.login(name)
        await client.ready()
        await asyncio.sleep(1.2)  # longer than the login timeout since the connection opened
        client.send(135, name, 3)
        client.send(110, name)  # NEW again: pre-login codes are answered
        assert (await client.expect(111)).num(0) == 0
        assert await client.wait_closed(3)  # and it must log in again within the login timeout
    finally:
        await client.close()


@pytest.fixture(scope="module")
def activation_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose new accounts need activation (``[accounts] require_activation``)."""
    srv = start_server(tmp_path_factory.mktemp("xmmep-activate"), "[accounts]\nrequire_activation = true\n")
    yield srv
    srv.stop()


async def test_registration_with_activation(activation_server: Server) -> None:
    client = await XmmepClient.tcp("127.0.0.1", activation_server.xmmep_tcp)
    try:
        client.send(100, "newbie", "secret123", "newbie@example.com", "", "", "", "", 0)
        assert (await client.expect(101)).body == b"0"
        assert (await client.login("newbie", "secret123"))[0].body == b"14"
        client.send(102, "newbie", "AAAAAAAA")
        assert (await client.expect(103)).body == b"13"
        client.send(102, "nobody-here", "AAAAAAAA")
        assert (await client.expect(103)).body == b"13"  # the same answer for an unknown name
        assert activation_server.log is not None
        line = next(
            x for x in activation_server.log.read_text().splitlines() if "activation code of 'newbie'" in x
        )
        client.send(102, "newbie", line.rsplit(" ", 1)[1])
        assert (await client.expect(103)).body == b"0"
        assert (await client.login("newbie", "secret123"))[-1].code == 127
    finally:
        await client.close()
