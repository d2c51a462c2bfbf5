"""XMMEP over TCP through real sockets: server lookup, login and its ordered checks, the login sequence,
keep-alive, status and sign-out, kicks, and the refusals of §2.8 (xmmep.md §1.3, §3.3, §3.4, §3.11)."""

from __future__ import annotations

import pytest

from tests.clients.xmmep import XmmepClient, encode
from tests.conftest import Server
from tests.e2e.conftest import Xmmep


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def test_login_info_answers_every_name_alike(xmmep: Xmmep) -> None:
    client = await xmmep.connect()
    client.send(110, "nobody-at-all")
    unknown = await client.expect(111)
    client.send(110, "x")
    assert (await client.expect(111)).body == unknown.body
    assert unknown.num(0) == 0 and unknown.field(1) == "127.0.0.1"
    assert unknown.num(2) == xmmep.server.xmmep_tcp


async def test_login_sequence_and_keep_alive(xmmep: Xmmep, server: Server) -> None:
    _, name = server.add_user("seq", nickname="Seq", email="seq@example.com")
    client = await xmmep.connect()
    replies = await client.login(name)
    assert [m.code for m in replies] == [113, 114, 115, 116, 117, 118, 127]
    info = replies[0].items(1)[0]
    assert info[:4] == [name, "Seq", "", "seq@example.com"] and len(info) == 9
    assert [m.body for m in replies[2:6]] == [b"1\x010"] * 4  # no buddies, blacklist, rooms, online
    assert replies[6].body == b""
    await client.ready()
    client.send(200, name)
    assert (await client.expect(200)).field(0) == name
    client.send(200, "someone-else")  # not the session's user: ignored
    assert await client.poll() is None


async def test_wrong_password_and_unknown_name_get_the_same_12(xmmep: Xmmep, server: Server) -> None:
    _, name = server.add_user("pw")
    client = await xmmep.connect()
    assert (await client.login(name, "wrong"))[0].body == b"12"
    assert (await client.login("no-such-user-xyz", "wrong"))[0].body == b"12"
    client.send(112, "", "pw", 0)
    assert (await client.expect(113)).body == b"2"
    assert not client.closed
    assert (await client.login(name))[-1].code == 127


async def test_messages_before_login_get_133_15(xmmep: Xmmep) -> None:
    client = await xmmep.connect()
    client.send(200, "alice")
    assert (await client.expect(133)).body == b"15"
    client.send(170, "alice", "bob", 1, "hi", 0)
    assert (await client.expect(133)).body == b"15"
    client.send(999)  # an unknown code: no reply
    client.send(113, 0)  # a server-side code: ignored
    assert await client.poll() is None and not client.closed


async def test_a_bad_header_closes_the_connection(xmmep: Xmmep) -> None:
    client = await xmmep.connect()
    client.raw(b"  3x 200abc")
    assert await client.wait_closed()
    big = await xmmep.connect()
    big.raw(b"1443 170")
    assert await big.wait_closed()


async def test_acting_user_mismatch_is_refused_with_900_17(xmmep: Xmmep) -> None:
    client = await xmmep.user("act")
    client.send(170, "someone-else", client.user, 1, "spoof", 0)
    report = await client.expect(900)
    assert (report.num(0), report.num(1)) == (17, 170)


async def test_malformed_body_gets_result_2(xmmep: Xmmep) -> None:
    client = await xmmep.user("mal")
    client.send(135, client.user, "x1")
    assert (await client.expect(900)).fields[:2] == [b"2", b"135"]
    client.send(110, "")
    assert (await client.expect(111)).body == b"2"


async def test_a_second_login_kicks_the_first_with_133_16(xmmep: Xmmep, server: Server) -> None:
    _, name = server.add_user("kick")
    first = await xmmep.login(name)
    second = await xmmep.login(name, udp=True)
    assert (await first.expect(133)).body == b"16"
    assert await first.wait_closed()
    second.send(200, name)
    assert (await second.expect(200)).field(0) == name


async def test_another_user_on_a_logged_in_peer_gets_113_16(xmmep: Xmmep, server: Server) -> None:
    _, other = server.add_user("other")
    client = await xmmep.user("busy")
    assert (await client.login(other))[0].body == b"16"
    client.send(200, client.user)
    assert (await client.expect(200)).field(0) == client.user


async def test_repeated_login_replays_the_sequence_on_the_same_session(xmmep: Xmmep) -> None:
    client = await xmmep.user("again")
    replies = await client.login(client.user)
    assert [m.code for m in replies] == [113, 114, 115, 116, 117, 118, 127]


async def test_sign_out_ends_the_session_and_a_tcp_peer_may_log_in_again(xmmep: Xmmep) -> None:
    alice = await xmmep.user("so")
    alice.send(135, alice.user, 3)
    alice.send(200, alice.user)
    assert (await alice.expect(133)).body == b"15"
    assert not alice.closed
    assert (await alice.login(alice.user))[-1].code == 127


async def test_register_then_login(xmmep: Xmmep) -> None:
    client = await xmmep.connect()
    name = f"reg{id(client) % 100000}"
    client.send(100, name, "secret123", f"{name}@example.com", "Nick", "", "1990-01-01", "Kunshan", 1)
    assert (await client.expect(101)).body == b"0"
    client.send(100, name, "secret123", f"{name}@example.com", "Nick", "", "", "", 0)
    assert (await client.expect(101)).body == b"11"
    client.send(100, "ab", "secret123", "a@b.cn", "", "", "", "", 0)
    assert (await client.expect(101)).body == b"2"
    replies = await client.login(name, "secret123")
    assert replies[0].items(1)[0] == [
        name,
        "Nick",
        "",
        f"{name}@example.com",
        "",
        "631152000",
        "Kunshan",
        "0",
        "1",
    ]
    again = await xmmep.connect()
    await client.close()
    last = (await again.login(name, "secret123"))[0].items(1)[0][7]
    assert int(last) > 1_700_000_000  # the login before this one


def test_encode_matches_the_page() -> None:
    assert encode(112, ["alice", "secret123", 0]) == b"  17 112alice\x01secret123\x010"
    assert isinstance(XmmepClient(), XmmepClient)


async def test_disabled_account_hears_133_15(xmmep: Xmmep) -> None:
    alice = await xmmep.user("dis")
    status, _ = xmmep.server.api("POST", f"/api/v1/users/{alice.uid}/disable")
    assert status == 200
    assert (await alice.expect(133)).body == b"15"
    assert await alice.wait_closed()
    again = await xmmep.connect()
    assert (await again.login(alice.user))[0].body == b"17"


async def test_garbage_closes_only_its_own_connection(xmmep: Xmmep) -> None:
    alice = await xmmep.user("gb")
    bad = await xmmep.connect()
    bad.raw(bytes(range(256)))
    assert await bad.wait_closed()
    alice.send(200, alice.user)
    assert (await alice.expect(200)).field(0) == alice.user


async def test_rate_limit_answers_900_20_and_drops(xmmep: Xmmep) -> None:
    alice = await xmmep.user("rl")
    for _ in range(150):
        alice.send(200, alice.user)
    codes = []
    while (msg := await alice.poll(0.5)) is not None:
        codes.append((msg.code, msg.fields[:2] if msg.code == 900 else []))
    answered = sum(1 for code, _ in codes if code == 200)
    assert 95 <= answered < 150  # about the burst of 100 (and what refilled meanwhile), not all
    assert [fields for code, fields in codes if code == 900] == [[b"20", b"200"]]  # one report


async def test_more_than_20_refusals_in_a_minute_end_the_session(xmmep: Xmmep) -> None:
    alice = await xmmep.user("rf")
    for _ in range(21):
        alice.send(135, alice.user, "bad")
    assert await alice.wait_closed()
