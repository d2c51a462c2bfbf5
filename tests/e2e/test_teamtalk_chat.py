"""TeamTalk through real sockets (teamtalk.md §1, §4.1–§4.5): the login server hands out the message
server, login with the MD5 hex password, chat with acks after the commit, unread fetch after being
offline, the duplicate-login kick, and what bad input and frames before login get."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Iterator

import pytest

from tests.clients.teamtalk import ANDROID, PC, Body, TeamTalkClient, frame, md5hex, msg_server, parse
from tests.conftest import Server, start_server, write_config
from tests.e2e.conftest import Imlc, TeamTalk


async def test_the_login_server_hands_out_the_message_server_and_closes(server: Server) -> None:
    ip, port = await msg_server("127.0.0.1", server.teamtalk_login)
    assert (ip, port) == ("127.0.0.1", server.teamtalk_msg)


async def test_login_with_the_md5_password_returns_the_profile_and_a_token(
    server: Server, teamtalk: TeamTalk
) -> None:
    uid, name = server.add_user("t", nickname="Tee")
    client = await teamtalk.connect()
    result, _ = await client.login(name)
    assert (result, client.uid, client.nickname, client.depart) == (0, str(uid), "Tee", "0")
    assert 0 < len(client.token) <= 128 and client.token.isascii()
    plain = await teamtalk.connect()
    assert (await plain.login(name, plain=True))[0] == 0  # a test tool's plaintext password (§9 #15)


async def test_a_wrong_password_gets_result_6_and_the_close(server: Server, teamtalk: TeamTalk) -> None:
    _, name = server.add_user("t")
    for user in (name, "nobody-here"):
        client = await teamtalk.connect()
        rsv = client.send(1, 3, Body().s(user).s(md5hex("wrong")).u32(1).u32(PC).s("2.0").done())
        f = await client.wait_for((1, 4))
        assert f.reserved == rsv and len(f.body) == 8 and parse(f, "u32", "u32")[1] == 6
        assert await client.wait_closed()


async def test_chat_is_acked_after_the_commit_and_delivered_with_server_time(teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("a")
    bob, _ = await teamtalk.user("b")
    ack = await alice.say(bob.uid, "hi", seq_no=1)
    assert parse(ack, "u32", "s") == [1, alice.uid]
    got = await bob.message()
    assert (got.seq_no, got.from_id, got.to_id, got.msg_type, got.text, got.reserved) == (
        1,
        alice.uid,
        bob.uid,
        0x01,
        "hi",
        0,
    )
    assert abs(got.create_time - time.time()) < 60  # the server's clock, not the client's 1700000000
    bob.send(3, 2, Body().u32(1).s(alice.uid).done())  # bob's delivery ack is accepted
    await alice.none_of((3, 1))  # nothing echoed back to the sender


async def test_a_resend_of_the_same_seq_no_and_text_is_acked_and_stored_once(teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("a")
    bob, _ = await teamtalk.user("b")
    await alice.say(bob.uid, "once", seq_no=7)
    await alice.say(bob.uid, "once", seq_no=7)
    await bob.message(lambda m: m.text == "once")
    await bob.none_of((3, 1))
    assert parse(await bob.request(3, 7, b"", (3, 8)), "pairs") == [[(alice.uid, 1)]]


async def test_unread_counts_and_the_newest_unread_first_then_read(
    server: Server, teamtalk: TeamTalk
) -> None:
    alice, _ = await teamtalk.user("a")
    bob_uid, bob_name = server.add_user("b")
    for n in range(1, 4):
        await alice.say(str(bob_uid), f"m{n}", seq_no=n)
    bob = await teamtalk.login(bob_name)
    assert parse(await bob.request(3, 7, b"", (3, 8)), "pairs") == [[(alice.uid, 3)]]
    f = await bob.request(3, 9, Body().s(alice.uid).done(), (3, 14))
    r = f.fields()
    assert (r.s(), r.u32()) == (alice.uid, 3)
    texts = []
    for _ in range(3):
        sender, _name, _nick, _avatar, _t, kind, data = r.s(), r.s(), r.s(), r.s(), r.u32(), r.u8(), r.b()
        assert (sender, kind) == (alice.uid, 0x01)
        texts.append(data.decode())
    assert texts == ["m3", "m2", "m1"]
    bob.send(3, 3, Body().s(alice.uid).done())
    assert parse(await bob.request(3, 7, b"", (3, 8)), "pairs") == [[]]


async def test_a_second_pc_login_kicks_the_first_with_1_7_and_a_mobile_one_stays(
    server: Server, teamtalk: TeamTalk
) -> None:
    uid, name = server.add_user("k")
    first = await teamtalk.login(name)
    phone = await teamtalk.login(name, client_type=ANDROID)
    second = await teamtalk.login(name)
    kick = await first.wait_for((1, 7))
    assert kick.reserved == 0 and parse(kick, "u32", "u32") == [uid, 1]
    assert await first.wait_closed(3)
    assert not phone.closed and not second.closed
    await second.heartbeat()


async def test_a_forged_from_id_closes_the_connection_and_nothing_is_delivered(teamtalk: TeamTalk) -> None:
    alice, _ = await teamtalk.user("a")
    bob, _ = await teamtalk.user("b")
    mallory, _ = await teamtalk.user("m")
    mallory.send_text(bob.uid, "i am alice", seq_no=1, sender=alice.uid)
    assert await mallory.wait_closed()
    await bob.none_of((3, 1))


async def test_frames_before_login_are_ignored_and_unknown_commands_too(teamtalk: TeamTalk) -> None:
    client = await teamtalk.connect()
    client.send(7, 1)
    client.send(3, 7)
    await asyncio.sleep(0.2)
    assert client.frames == [] and not client.closed
    _, name = teamtalk.server.add_user("t")
    assert (await client.login(name))[0] == 0
    client.send(3, 10, b"history")  # a later Android build's history command (§2.6 step 4)
    client.send(9, 9)
    beat = await client.heartbeat()
    assert beat.body == b"" and not client.closed


async def test_the_heartbeat_is_echoed_with_its_reserved(teamtalk: TeamTalk) -> None:
    client, _ = await teamtalk.user("h")
    client.send(7, 1, reserved=4242)
    f = await client.wait_for((7, 1))
    assert f.reserved == 4242 and f.body == b""


async def test_bad_lengths_and_short_bodies_close_only_their_connection(teamtalk: TeamTalk) -> None:
    bystander, _ = await teamtalk.user("b")
    for bad in (struct.pack(">IHHHH", 8, 7, 1, 1, 0), struct.pack(">IHHHH", 300_000, 3, 1, 1, 0)):
        client, _ = await teamtalk.user("x")
        client.raw(bad)
        assert await client.wait_closed()
    client, _ = await teamtalk.user("x")
    client.send(3, 1, Body().u32(1).s(client.uid).done())  # 3/1 cut short
    assert await client.wait_closed()
    await bystander.heartbeat()


async def test_users_status_tells_online_from_offline_and_unknown(teamtalk: TeamTalk) -> None:
    pc, _ = await teamtalk.user("p")
    phone, _ = await teamtalk.user("m", client_type=ANDROID)
    await pc.say(phone.uid, "hello", seq_no=1)
    await phone.message()
    status = await pc.request(2, 16, Body().ids([phone.uid, "999999999"]).done(), (2, 17))
    assert parse(status, "pairs") == [[(phone.uid, 1), ("999999999", 2)]]
    await pc.close()  # phone watches pc (a 1:1 peer) but 2/5 goes to PC sessions only (§3.2)
    await phone.none_of((2, 5))


async def test_user_info_and_directory(server: Server, teamtalk: TeamTalk) -> None:
    client, name = await teamtalk.user("d", nickname="Dee")
    f = await client.request(2, 11, Body().ids([client.uid, "not-a-number", "99999999"]).done(), (2, 10))
    r = f.fields()
    assert r.u32() == 1
    assert [r.s(), r.s(), r.s()] == [client.uid, name, "Dee"]
    everyone = (await client.request(2, 14, b"", (2, 15))).fields()
    assert everyone.u32() >= 1
    assert parse(await client.request(2, 18, b"", (2, 19)), "u32") == [0]
    t = parse(await client.request(3, 5, b"", (3, 6)), "u32")[0]
    assert t > 1_700_000_000


TUNED = "idle_timeout = 1\nlogin_timeout = 1\nunread_fetch_limit = 2\ngroup_unread_fetch_limit = 2\n"


def _server_with(
    factory: pytest.TempPathFactory, name: str, teamtalk: str, server: str = ""
) -> Iterator[Server]:
    """A server of the module's own, its ``[teamtalk]`` and ``[server]`` sections given these lines."""
    tmp = factory.mktemp(name)
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8").replace("[teamtalk]\n", "[teamtalk]\n" + teamtalk, 1)
    cfg.write_text(text.replace("[server]\n", "[server]\n" + server, 1), encoding="utf-8")
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with short TeamTalk timeouts (1 s for PC connections and logins; mobile ones keep the
    300 s), fetch limits of 2, and an advertised host."""
    yield from _server_with(tmp_path_factory, "tuned-teamtalk", TUNED, 'advertise = "tt.example"\n')


async def test_the_message_idle_timeout_closes_a_silent_pc_connection_and_logins_have_a_deadline(
    tuned: Server,
) -> None:
    _, name = tuned.add_user("i")
    pc = await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_msg)
    assert (await pc.login(name))[0] == 0
    phone = await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_msg)
    assert (await phone.login(name, client_type=ANDROID))[0] == 0
    idle = await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_msg)
    idle.send(7, 1)  # before login a heartbeat keeps nobody: the login deadline still runs
    silent = await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_login)  # no 1/1
    for client in (pc, idle, silent):
        assert await client.wait_closed(4)
    assert not phone.closed  # mobile: 300 s
    await phone.close()


async def test_the_advertised_host_is_handed_out_for_the_msg_and_file_servers(tuned: Server) -> None:
    assert await msg_server("127.0.0.1", tuned.teamtalk_login) == ("tt.example", tuned.teamtalk_msg)
    alice, bob = [await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_msg) for _ in range(2)]
    for client, prefix in ((alice, "fa"), (bob, "fb")):
        assert (await client.login(tuned.add_user(prefix)[1], client_type=ANDROID))[0] == 0
    body = Body().s(alice.uid).s(bob.uid).s("a.txt").u32(5).u32(2).done()
    r = (await alice.request(6, 10, body, (6, 11))).fields()
    assert [r.u32(), r.s(), r.s(), r.s()] == [0, alice.uid, bob.uid, "a.txt"]
    r.s()
    assert [(r.s(), r.u16()) for _ in range(r.u32())] == [("tt.example", tuned.teamtalk_file)]
    await alice.close()
    await bob.close()


async def test_unread_fetches_stop_at_their_limits_newest_first(tuned: Server) -> None:
    """3/8 and 5/6 count all 3 unread; 3/14 and 5/8 give the newest 2, newest first (§4.5)."""
    _, a_name = tuned.add_user("la")
    _, b_name = tuned.add_user("lb")
    alice, bob = [await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_msg) for _ in range(2)]
    for client, name in ((alice, a_name), (bob, b_name)):
        assert (await client.login(name, client_type=ANDROID))[0] == 0
    f = await alice.request(5, 12, Body().s(f"lim{alice.uid}").s("").ids([bob.uid]).done(), (5, 13))
    gid = parse(f, "u32", "s")[1]
    await bob.close()
    for n in range(1, 4):
        await alice.say(bob.uid, f"m{n}", seq_no=n)
        await alice.say(gid, f"g{n}", seq_no=10 + n, group=True)
    bob = await TeamTalkClient.connect("127.0.0.1", tuned.teamtalk_msg)
    assert (await bob.login(b_name, client_type=ANDROID))[0] == 0
    assert parse(await bob.request(3, 7, b"", (3, 8)), "pairs") == [[(alice.uid, 3)]]
    assert parse(await bob.request(5, 5, b"", (5, 6)), "pairs") == [[(gid, 3)]]
    r = (await bob.request(3, 9, Body().s(alice.uid).done(), (3, 14))).fields()
    assert (r.s(), r.u32()) == (alice.uid, 2)
    texts = []
    for _ in range(2):
        _sender, _name, _nick, _avatar, _t, _kind, text = r.s(), r.s(), r.s(), r.s(), r.u32(), r.u8(), r.b()
        texts.append(text.decode())
    r = (await bob.request(5, 7, Body().s(gid).done(), (5, 8))).fields()
    assert (r.s(), r.u32()) == (gid, 2)
    texts += [[r.s(), r.u32(), r.u8(), r.b().decode()][3] for _ in range(2)]
    assert texts == ["m3", "m2", "g3", "g2"]
    await alice.close()
    await bob.close()


async def test_failed_logins_lock_the_account_and_a_right_password_then_gets_6_too(
    server: Server, teamtalk: TeamTalk
) -> None:
    _, name = server.add_user("th")
    for _ in range(5):
        client = await teamtalk.connect()
        assert (await client.login(name, "wrong"))[0] == 6
    client = await teamtalk.connect()
    assert (await client.login(name))[0] == 6  # locked out: the same answer, nothing revealed
    assert await client.wait_closed()


async def test_4_1_is_relayed_to_the_peer_and_the_senders_other_sessions_only(
    server: Server, teamtalk: TeamTalk, imlc: Imlc
) -> None:
    alice, a_name = await teamtalk.user("p2")
    phone = await teamtalk.login(a_name, client_type=ANDROID)
    bob, b_name = await teamtalk.user("p3")
    bob_imlc = await imlc.login(b_name)
    alice.send(4, 1, Body().u32(9).s(alice.uid).s(bob.uid).b(b"shake").done())
    for client in (bob, phone):
        f = await client.wait_for((4, 1))
        assert f.reserved == 0 and parse(f, "u32", "s", "s", "b") == [9, alice.uid, bob.uid, b"shake"]
    await alice.none_of((4, 1))
    await bob_imlc.ping()
    assert bob_imlc.notifies.empty()  # another protocol's session does not understand it


async def test_7_61_tells_every_teamtalk_session_of_the_user_with_its_reserved(teamtalk: TeamTalk) -> None:
    """The phone stays online, so the user's presence does not change: the user's own sessions are
    told all the same (§3.7), and a repeat of the status in force tells nobody."""
    pc, name = await teamtalk.user("s")
    phone = await teamtalk.login(name, client_type=ANDROID)
    rsv = pc.send(7, 61, Body().u32(2).u32(3).done())
    for client in (pc, phone):
        notice = await client.wait_for((2, 5))
        assert notice.reserved == rsv and parse(notice, "s", "u32") == [pc.uid, 3]
    pc.send(7, 61, Body().u32(2).u32(3).done())
    pc.send(7, 61, Body().u32(1).u32(5).done())  # key 1: ignored
    for client in (pc, phone):
        await client.none_of((2, 5))


async def test_past_20_messages_in_a_second_the_rest_get_no_ack_and_nothing_else_is_harmed(
    teamtalk: TeamTalk,
) -> None:
    """25 3/1 in one write reach the server in one read, so in one second: 20 are acked and delivered,
    5 dropped without ack and not stored (§1.4); the connection stays, another sender in the same
    second is not counted against it, and a dropped message sent again a second later is stored."""
    alice, _ = await teamtalk.user("r")
    bob, _ = await teamtalk.user("r")
    carol, _ = await teamtalk.user("r")
    burst = b"".join(
        frame(3, 1, 1000 + n, Body().u32(n).s(alice.uid).s(bob.uid).u32(0).u8(1).b(b"m%d" % n).b(b"").done())
        for n in range(25)
    )
    alice.raw(burst)
    for n in range(20):
        ack = await alice.wait_for((3, 2), lambda f, rsv=1000 + n: f.reserved == rsv)
        assert parse(ack, "u32", "s") == [n, alice.uid]
    assert await carol.say(bob.uid, "not counted against alice", seq_no=1)
    await alice.none_of((3, 2))
    got = [(await bob.message(lambda m: m.from_id == alice.uid)).text for _ in range(20)]
    assert got == [f"m{n}" for n in range(20)]
    assert (await bob.message(lambda m: m.from_id == carol.uid)).text == "not counted against alice"
    await bob.none_of((3, 1))
    assert not alice.closed
    await asyncio.sleep(1.1)  # the next second
    ack = await alice.say(bob.uid, "m24", seq_no=24)
    assert parse(ack, "u32", "s") == [24, alice.uid]
    assert (await bob.message(lambda m: m.from_id == alice.uid)).text == "m24"
    counts = dict(parse(await bob.request(3, 7, b"", (3, 8)), "pairs")[0])
    assert (counts[alice.uid], counts[carol.uid]) == (21, 1)


async def test_recent_contacts_newest_first_and_a_hidden_one_back_at_its_next_message(
    teamtalk: TeamTalk,
) -> None:
    alice, _ = await teamtalk.user("rc")
    bob, _ = await teamtalk.user("rc")
    carol, _ = await teamtalk.user("rc")

    async def recent() -> list[str]:
        pairs = parse(await alice.request(2, 1, Body().u32(0).done(), (2, 3)), "pairs")[0]
        assert all(when > 1_700_000_000 for _, when in pairs)
        return [uid for uid, _ in pairs]

    await alice.say(bob.uid, "first", seq_no=1)
    await alice.say(carol.uid, "second", seq_no=2)
    assert await recent() == [carol.uid, bob.uid]
    hide = await alice.request(2, 12, Body().u32(1).s(bob.uid).done(), (2, 13))
    assert parse(hide, "u32", "u32", "s") == [0, 1, bob.uid]
    assert await recent() == [carol.uid]
    for bad in (Body().u32(9).s(bob.uid), Body().u32(1).s("99999999999"), Body().u32(2).s("x")):
        assert parse(await alice.request(2, 12, bad.done(), (2, 13)), "u32")[0] == 1
    await bob.say(alice.uid, "back", seq_no=1)
    assert await recent() == [bob.uid, carol.uid]
    alice.send(7, 53, Body().u32(1).b(b"select * from users").done())  # never executed (§9 #7)
    await alice.none_of((7, 53))
    assert not alice.closed


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that takes at most 4 3/1 per connection and second."""
    yield from _server_with(tmp_path_factory, "limited-teamtalk", "max_msgs_per_second = 4\n")


async def test_the_rate_limit_drops_3_1s_beyond_it_without_an_ack_and_counts_each_once(
    limited: Server,
) -> None:
    """At most 4 3/1 per connection in a second (§1.4): of 5 in one write, 4 are acked and delivered,
    the fifth dropped without an ack. The first burst goes to a peer whose facts the server must first
    load, the second (a second later) to one it has cached: a send counted twice on its way would
    leave 3."""
    alice, bob = [await TeamTalkClient.connect("127.0.0.1", limited.teamtalk_msg) for _ in range(2)]
    for client, prefix in ((alice, "ra"), (bob, "rb")):
        assert (await client.login(limited.add_user(prefix)[1], client_type=ANDROID))[0] == 0
    for burst in (0, 1):
        await asyncio.sleep(1.05 - time.time() % 1)  # a fresh second: the five land in one window
        texts = [f"b{burst}m{n}" for n in range(5)]
        first = 10 * burst
        sent = [alice.send_text(bob.uid, text, seq_no=first + n) for n, text in enumerate(texts)]
        acks = [await alice.wait_for((3, 2), lambda f, r=rsv: f.reserved == r) for rsv in sent[:4]]
        assert [parse(a, "u32", "s")[0] for a in acks] == [first, first + 1, first + 2, first + 3]
        got = [await bob.message(lambda m, b=burst: m.text.startswith(f"b{b}")) for _ in range(4)]
        assert [m.text for m in got] == texts[:4]
        await alice.none_of((3, 2))
        assert not [f for f in bob.frames if f.key == (3, 1)]
    await alice.close()
    await bob.close()
