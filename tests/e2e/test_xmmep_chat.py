"""XMMEP chat, buddies, presence, info and search through real sockets (xmmep.md §3.4–§3.10, §5)."""

from __future__ import annotations

import pytest

from tests.clients.omtp import DeviceType
from tests.clients.xmmep import XmmepClient, struct
from tests.conftest import Server
from tests.e2e.conftest import Omtp, Xmmep


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def synced(client: XmmepClient) -> None:
    """Everything the client sent before is handled: a keep-alive has come back."""
    client.send(200, client.user)
    await client.expect(200)


async def buddies(a: XmmepClient, b: XmmepClient, group: str = "") -> None:
    """a adds b (150 → 151, 152 to b), b adds a back (153)."""
    a.send(150, a.user, struct(b.user, group, ""), 0)
    assert (await a.expect(151)).num(1) == 1
    assert (await b.expect(152)).field(0) == a.user
    b.send(153, b.user, struct(a.user, "", "", "", "", "", 0, 0), 1)
    await synced(b)


async def test_one_to_one_online_with_acks(xmmep: Xmmep) -> None:
    alice = await xmmep.user("ca", ext="ack")
    bob = await xmmep.user("cb", ext="ack")
    alice.send(170, alice.user, bob.user, 1700000100, "Hello, Bob! 你好", 0, ext={"cid": "a-0001"})
    ack = await alice.expect(171)
    assert [ack.field(i) for i in (0, 1, 2, 3, 4, 5)] == [
        alice.user,
        "0",
        bob.user,
        "0",
        "1700000100",
        "a-0001",
    ]
    got = await bob.expect(170)
    assert [got.field(i) for i in (0, 1, 3, 4)] == [alice.user, bob.user, "Hello, Bob! 你好", "0"]
    assert got.ext("mid") == ack.field(6)
    bob.send(172, bob.user, 1, got.ext("mid") or "")
    # a resend with the same cid: the same 171, nothing delivered twice
    alice.send(170, alice.user, bob.user, 1700000100, "Hello, Bob! 你好", 0, ext={"cid": "a-0001"})
    assert (await alice.expect(171)).body == ack.body
    assert await bob.poll() is None


async def test_a_170_naming_another_sender_is_refused_whatever_the_server_has_cached(xmmep: Xmmep) -> None:
    """§8.2: after login the first field must name the session's user. The second 170 goes to a
    receiver the server has just looked up (the path without a coroutine) and is refused all the same."""
    alice, bob, carol = await xmmep.user("fa", ext="ack"), await xmmep.user("fb"), await xmmep.user("fc")
    alice.send(170, alice.user, bob.user, 1, "first", 0)
    assert (await alice.expect(171)).field(1) == "0"
    assert (await bob.expect(170)).fields[3:] == [b"first", b"0"]
    alice.send(170, carol.user, bob.user, 2, "forged", 0)
    assert (await alice.expect(171)).field(1) == "17"
    assert await bob.poll() is None


async def test_one_to_one_without_ack_has_no_171_nor_mid(xmmep: Xmmep) -> None:
    alice, bob = await xmmep.user("na"), await xmmep.user("nb")
    alice.send(170, alice.user, bob.user, 5, "plain", 0)
    got = await bob.expect(170)
    assert got.fields[3:] == [b"plain", b"0"]
    assert await alice.poll() is None


async def test_refusals_use_171_for_ack_clients_and_900_otherwise(xmmep: Xmmep) -> None:
    acker, plain = await xmmep.user("ra", ext="ack"), await xmmep.user("rp")
    acker.send(170, acker.user, "no-such-user-q", 1, "x", 0)
    assert (await acker.expect(171)).field(1) == "8"
    plain.send(170, plain.user, "no-such-room-q", 1, "x", 1)
    assert (await plain.expect(900)).fields[:2] == [b"19", b"170"]
    plain.send(156, plain.user, acker.user)  # plain blocks acker
    await synced(plain)
    acker.send(170, acker.user, plain.user, 1, "x", 0)
    assert (await acker.expect(171)).field(1) == "18"


async def test_offline_messages_arrive_after_client_ready(xmmep: Xmmep, server: Server) -> None:
    alice = await xmmep.user("oa", ext="ack")
    _, bob_name = server.add_user("ob")
    for text in ("one", "two", "three"):
        alice.send(170, alice.user, bob_name, 1, text, 0)
    # stored: each 171 follows its commit (a keep-alive's answer follows none)
    assert [(await alice.expect(171)).field(1) for _ in range(3)] == ["0", "0", "0"]
    bob = await xmmep.login(bob_name, ready=False)
    assert await bob.poll() is None  # nothing before 128
    await bob.ready()
    got = [await bob.expect(170) for _ in range(3)]
    assert [m.field(3) for m in got] == ["one", "two", "three"]
    assert await bob.poll() is None
    await bob.close()
    again = await xmmep.login(bob_name)  # delivered: not again
    assert await again.poll() is None


async def test_buddies_presence_and_status(xmmep: Xmmep) -> None:
    alice, bob = await xmmep.user("pa"), await xmmep.user("pb")
    await buddies(alice, bob, "Work")
    bob.send(135, bob.user, 2)
    assert (await alice.expect(136)).fields == [alice.user.encode(), bob.user.encode(), b"2"]
    await bob.close()
    assert (await alice.expect(136)).fields[1:] == [bob.user.encode(), b"3"]
    bob2 = await xmmep.login(bob.user, ready=False)
    assert await alice.poll() is None  # observers hear of a login at its READY
    await bob2.ready()
    login = await alice.expect(130)
    assert login.field(0) == alice.user and login.items(1)[0][:2] == [bob.user, "Work"]
    replies = await bob2.login(bob.user)
    assert replies[2].items(2) == [[alice.user, "Friends", ""]]
    assert replies[5].items(2)[0][0] == alice.user


async def test_login_sequence_lists_groups_buddies_blacklist(xmmep: Xmmep) -> None:
    alice, bob, carol = await xmmep.user("la"), await xmmep.user("lb"), await xmmep.user("lc")
    alice.send(140, alice.user, "Empty")
    await buddies(alice, bob, "Work")
    alice.send(156, alice.user, carol.user)
    alice.send(155, alice.user, bob.user, "Bobby", "Work", "Office")
    await synced(alice)
    replies = await alice.login(alice.user)
    assert replies[1].items(2) == [["Empty"], ["Work"], ["Office"]]  # Work stays, empty
    assert replies[2].items(2) == [[bob.user, "Office", "Bobby"]]
    assert replies[3].items(2) == [[carol.user]]
    alice.send(141, alice.user, "Office")  # not empty
    assert (await alice.expect(900)).fields[:2] == [b"2", b"141"]


async def test_user_info_and_search_paging(xmmep: Xmmep, server: Server) -> None:
    tag = f"srch{server.add_user('t')[0]}"
    for _ in range(35):
        server.add_user(tag, nickname=f"{tag}-nick")
    alice = await xmmep.user("ia", email="ia@example.com")
    alice.send(195, alice.user, 1, f"2\x04{tag}-nick")
    pages = [await alice.expect(196) for _ in range(4)]
    assert [(p.num(0), p.num(1)) for p in pages] == [(1, 10), (2, 10), (3, 10), (4, 5)]
    assert all(len(item) == 9 and item[3] == "" for p in pages for item in p.items(2))
    alice.send(190, alice.user, alice.user)
    own = await alice.expect(191)
    assert own.num(1) == 0 and own.items(2)[0][3] == "ia@example.com"
    alice.send(190, alice.user, "nobody-here-zz")
    assert (await alice.expect(191)).body == f"{alice.user}\x018".encode()


async def test_room_messages_by_group_name(xmmep: Xmmep, server: Server) -> None:
    alice, bob = await xmmep.user("ga"), await xmmep.user("gb")
    owner = server.add_user("gown")[0]
    name = f"room-{owner}"
    members = [alice.uid, bob.uid]
    status, body = server.api("POST", "/api/v1/groups", {"owner": owner, "name": name, "members": members})
    assert status == 201, body
    alice.send(170, alice.user, name, 1, "Hi all", 1)
    got = await bob.expect(170)
    assert got.fields[:2] == [alice.user.encode(), name.encode()] and got.fields[3:] == [b"Hi all", b"1"]
    replies = await bob.login(bob.user)
    assert replies[4].items(2) == [[name]]


async def test_file_offer_accept_and_decline(xmmep: Xmmep) -> None:
    alice, bob = await xmmep.user("fa"), await xmmep.user("fb")
    alice.send(180, alice.user, bob.user, "dir/a.png", 2048, 7, 1)
    offer = await bob.expect(181)
    assert offer.fields[:6] == [alice.user.encode(), bob.user.encode(), b"a.png", b"2048", b"7", b"1"]
    assert (offer.field(6), offer.num(7)) == alice.local
    bob.send(182, bob.user, alice.user, 7, 1)
    answer = await alice.expect(183)
    assert answer.fields[:4] == [bob.user.encode(), alice.user.encode(), b"7", b"1"]
    assert (answer.field(4), answer.num(5)) == bob.local
    bob.send(182, bob.user, alice.user, 7, 1)  # already answered
    assert (await bob.expect(900)).fields[:2] == [b"7", b"182"]
    alice.send(180, alice.user, bob.user, "b.txt", 1, 8, 0)
    await bob.expect(181)
    bob.send(182, alice.user, bob.user, 8, 0)  # the other field order, declined
    assert (await alice.expect(183)).fields[3:] == [b"0", b"", b"0"]
    alice.send(180, alice.user, "nobody-online-zz", "c.txt", 1, 9, 0)
    assert (await alice.expect(183)).fields[2:4] == [b"9", b"0"]


async def test_profile_update_needs_the_current_password(xmmep: Xmmep) -> None:
    alice = await xmmep.user("pu")
    info = struct(alice.user, "New Nick", "sig", "pu@example.com", "av.png", 0, "Kunshan", 0, 1)
    alice.send(108, alice.user, info, "wrong")
    assert (await alice.expect(900)).fields[:2] == [b"12", b"108"]
    alice.send(108, alice.user, info, "pw")
    alice.send(190, alice.user, alice.user)
    own = (await alice.expect(191)).items(2)[0]
    assert (own[1], own[2], own[3], own[4], own[6], own[8]) == (
        "New Nick", "sig", "pu@example.com", "av.png", "Kunshan", "1"
    )  # fmt: skip
    seen = await xmmep.user("pv")
    seen.send(195, seen.user, 2, f"1\x04{alice.user}\x038\x04kunsh")  # name AND location
    found = await seen.expect(196)
    assert [item[0] for item in found.items(2)] == [alice.user]
    assert found.items(2)[0][3] == ""  # e-mail only in one's own record


async def test_one_way_buddy_observes_without_being_observed(xmmep: Xmmep) -> None:
    alice, bob = await xmmep.user("wa"), await xmmep.user("wb")
    alice.send(150, alice.user, struct(bob.user, "", "Bee"), 0)
    shown = (await alice.expect(151)).items(2)[0]
    assert (shown[0], shown[1], shown[2], shown[7]) == (bob.user, "Friends", "Bee", "0")
    await bob.expect(152)  # bob does not answer: no edge bob → alice
    await bob.close()
    assert (await alice.expect(136)).fields[1:] == [bob.user.encode(), b"3"]
    await alice.close()
    bob = await xmmep.login(bob.user)
    assert await bob.poll() is None  # alice is not bob's buddy: bob hears nothing of her


async def test_invisible_login_shows_nothing_until_a_visible_status(xmmep: Xmmep) -> None:
    alice, bob = await xmmep.user("va"), await xmmep.user("vb")
    await buddies(alice, bob)
    await bob.close()
    await alice.expect(136)
    hidden = await xmmep.connect()
    await hidden.login(bob.user, status=3)
    await hidden.ready()
    assert await alice.poll(0.5) is None  # invisible: alice sees nothing
    hidden.send(135, bob.user, 0)
    assert (await alice.expect(130)).items(1)[0][0] == bob.user


async def test_own_messages_from_another_device_only_with_sync(xmmep: Xmmep, omtp: Omtp) -> None:
    phone = await omtp.user("sy", device_id="ph-1", device_type=DeviceType.ANDROID)
    name = omtp.name_of(phone)
    desk = await xmmep.login(name, ext="sync")
    peer = await xmmep.user("sz")
    assert (await phone.send_single(str(peer.uid), "from my phone")).ok
    copy = await desk.expect(170)
    assert (copy.field(0), copy.field(1), copy.field(3)) == (name, peer.user, "from my phone")
    assert (await peer.expect(170)).field(3) == "from my phone"
    plain = await xmmep.login(name)  # a newer desktop login, without sync: no copies
    assert (await phone.send_single(str(peer.uid), "again")).ok
    assert (await peer.expect(170)).field(3) == "again"
    assert await plain.poll() is None
