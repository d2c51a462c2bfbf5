"""beehive connection life over real sockets: ONLINE (TCP and WebSocket), refusals, the seq rule,
frames before ONLINE, PING, OFFLINE and the duplicate-login KICK (beehive.md §1.2, §2.4, §2.8, §4.1)."""

from __future__ import annotations

from tests.clients import beehive as b
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive

__all__ = ["beehive"]


async def test_online_over_tcp(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.connect()
    ack = await client.online(uid, beehive.token(uid, client.sid), app="app", version="2.0", terminal=1)
    assert (ack.code, ack.errmsg, ack.uid, ack.sid, ack.app, ack.version) == (
        0,
        "Ok",
        uid,
        client.sid,
        "app",
        "2.0",
    )
    assert ack.seq >= 100
    pong = await client.ping()
    assert pong.type == b.PONG and pong.header.seq == client.seq and pong.header.sid == client.sid
    assert pong.header.cid > 0 and pong.header.nid == 1


async def test_online_over_websocket(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.login(uid, ws=True)
    assert (await client.ping()).type == b.PONG
    frames, ack = await client.sync()
    assert ack.code == 0 and frames == []


async def test_password_in_token_field_refused(server: Server, beehive: Beehive) -> None:
    """ONLINE takes only a token (§4.1 check 4, §10 #16): a password there is an undecodable token."""
    uid, _ = server.add_user("bh", password="secret")
    client = await beehive.connect()
    ack = await client.online(uid, "secret")
    assert (ack.code, ack.errmsg, ack.seq) == (20012, "Decode token failed!", 0)
    assert await client.wait_closed(8)


async def test_expired_token_refused(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.connect()
    stale = beehive.token(uid, client.sid, ttl=-5)
    ack = await client.online(uid, stale)
    assert (ack.code, ack.errmsg) == (20012, "Token is timeout!")


async def test_sid_of_another_user_refused(server: Server, beehive: Beehive) -> None:
    """A sid belongs to one uid for good (§6.1, §9.3): the first login binds it."""
    owner_uid, _ = server.add_user("bh")
    other_uid, _ = server.add_user("bh")
    first = await beehive.login(owner_uid)
    await first.request(b.OFFLINE)
    thief = await beehive.connect(first.sid)
    ack = await thief.online(other_uid, beehive.token(other_uid, first.sid))  # a valid token, wrong sid
    assert (ack.code, ack.errmsg) == (20009, "Sid is collision!")
    again = await beehive.connect(first.sid)
    assert (await again.online(owner_uid, beehive.token(owner_uid, first.sid))).code == 0


async def test_wrong_password_and_bad_token_refused(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh", password="secret")
    client = await beehive.connect()
    ack = await client.online(uid, "wrong")
    assert ack.code == 20012 and ack.seq == 0
    assert await client.wait_closed(8)

    other = await beehive.connect()
    ack = await other.online(uid, beehive.token(uid, other.sid + 1))  # token for another sid
    assert (ack.code, ack.errmsg) == (20012, "Token is invalid!!")

    forged = await beehive.connect()
    ack = await forged.online(uid, beehive.token(uid, forged.sid)[:-4] + "AAAA")
    assert (ack.code, ack.errmsg) == (20012, "Decode token failed!")


async def test_body_sid_must_match_header(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.connect()
    token = beehive.token(uid, client.sid)
    reply = await client.request(
        b.ONLINE, b.body(b.ONLINE, uid=uid, sid=client.sid + 1, token=token, app="a", version="1")
    )
    assert reply.msg.code == 20010


async def test_frame_before_online_gets_error_and_close(beehive: Beehive) -> None:
    client = await beehive.connect()
    reply = await client.request(b.SYNC, b.body(b.SYNC, uid=1))
    assert reply.type == b.ERROR and reply.msg.code == 20001
    assert reply.header.seq == client.seq
    assert await client.wait_closed()


async def test_frame_before_online_websocket(beehive: Beehive) -> None:
    client = await beehive.connect(ws=True)
    reply = await client.request(b.PING)
    assert reply.type == b.ERROR and reply.msg.code == 20001
    assert await client.wait_closed()


async def test_seq_violation_closes(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.login(uid)
    await client.ping()
    client.send(b.PING, seq=client.seq)  # not above the floor
    assert await client.wait_closed()


async def test_unknown_and_server_only_commands(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.login(uid)
    unknown = await client.request(0x0777)
    assert unknown.type == b.ERROR and unknown.msg.code == 10020
    illegal = await client.request(b.KICK, b.body(b.KICK, code=0, errmsg=""))
    assert illegal.type == b.ERROR and illegal.msg.code == 10012
    for internal_cmd in (0x0601, 0x0603, 0x0412):  # LSND-INFO, FRWD-INFO, ROOM-LSN-STAT: node records
        internal = await client.request(internal_cmd)
        assert internal.type == b.ERROR and internal.msg.code == 10005
    for pushed in (b.BC, b.P2P):  # produced only by the HTTP API
        assert (await client.request(pushed, b"x")).msg.code == 10012
    report = await client.request(b.ERROR, b.body(b.ERROR, code=1, errmsg="client trouble"))
    assert report.type == b.ERROR_ACK and report.raw == b""  # logged, answered with ERROR-ACK
    assert (await client.ping()).type == b.PONG  # the connection stays


async def test_wrong_header_sid_after_login_closes(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.login(uid)
    client.send(b.PING, sid=client.sid + 7)
    assert await client.wait_closed()


async def test_offline_acks_then_closes(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    client = await beehive.login(uid)
    reply = await client.request(b.OFFLINE)
    assert reply.type == b.OFFLINE_ACK
    assert await client.wait_closed()


async def test_duplicate_login_kicks_older(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    first = await beehive.login(uid, terminal=1)
    second = await beehive.login(uid, terminal=1)  # same device class (TCP desktop), another sid
    kick = await first.expect(b.KICK)
    assert (kick.msg.code, kick.msg.errmsg) == (20009, "Kicked by another login!")
    assert kick.header.seq == 0
    assert not first.closed
    assert await first.wait_closed(8)
    assert (await second.ping()).type == b.PONG


async def test_other_device_class_is_not_kicked(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    desktop = await beehive.login(uid, terminal=1)
    await beehive.login(uid, terminal=3)  # phone
    await beehive.login(uid, ws=True, terminal=1)  # web
    assert await desktop.no_push(b.KICK)
    assert (await desktop.ping()).type == b.PONG


async def test_suid_forgery_refused(server: Server, beehive: Beehive) -> None:
    a_uid, _ = server.add_user("bh")
    b_uid, _ = server.add_user("bh")
    c_uid, _ = server.add_user("bh")
    a = await beehive.login(a_uid)
    bob = await beehive.login(b_uid)
    ack = await a.chat(b_uid, "forged", suid=c_uid)
    assert (ack.code, ack.errmsg, ack.suid, ack.duid) == (20009, "Uid is collision!", c_uid, b_uid)
    sync = await a.request(b.SYNC, b.body(b.SYNC, uid=c_uid))
    assert sync.type == b.SYNC_ACK and sync.msg.code == 20009
    friend = await a.pair(b.FRIEND_ADD, b_uid, suid=c_uid, mark="x")
    assert friend.code == 20009
    assert await bob.no_push(b.CHAT)
    assert (await a.ping()).type == b.PONG


async def test_websocket_bad_message_closes_1002(beehive: Beehive) -> None:
    client = await beehive.connect(ws=True)
    client.send_raw(b"\x00" * 10)
    assert await client.wait_closed()
    assert client.ws_close_code == 1002


async def test_tcp_oversized_length_closes(beehive: Beehive) -> None:
    client = await beehive.connect()
    client.send_raw(b.HEADER.pack(b.ONLINE, 70000, client.sid, 0, 0, 1, 0, 0))
    assert await client.wait_closed()


async def test_garbage_closes_only_its_own_connection(beehive: Beehive) -> None:
    tcp_bystander = await beehive.user("bys")
    ws_bystander = await beehive.user("byw", ws=True)
    victims = [await beehive.connect(), await beehive.connect(ws=True), await beehive.connect()]
    victims[0].send_raw(b"\xff" * 200)  # a header whose length field is absurd
    victims[1].send_raw(b"\x01\x02\x03")  # a WebSocket message shorter than a header
    victims[2].send_raw(b.HEADER.pack(b.ONLINE, 0, 0, 0, 0, 1, 0, 0))  # sid 0
    for victim in victims:
        assert await victim.wait_closed()
    for bystander in (tcp_bystander, ws_bystander):
        assert (await bystander.ping()).type == b.PONG
