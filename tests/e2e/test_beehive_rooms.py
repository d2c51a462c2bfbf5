"""beehive chat rooms over real sockets (beehive.md §4.4, §6.6): join, chat to everyone inside (sender
included), kick = ban, member counts to subscribers only, HTTP broadcasts, gag, capacity, closed rooms,
dismiss, a closed connection counting as a quit, and bans and gags that outlive a server restart."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.clients import beehive as b
from tests.clients.beehive import BeehiveClient, Frame
from tests.clients.beehive_spec_pb2 import MESSAGES
from tests.conftest import Server, start_server, write_config
from tests.e2e.beehive_pool import Beehive, beehive

__all__ = ["beehive"]

COUNT_INTERVAL = 0.5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose ROOM-USR-NUM interval is short enough to watch (``room_count_interval``)."""
    srv = start_server(tmp_path_factory.mktemp("rooms"), extra=f"room_count_interval = {COUNT_INTERVAL}")
    yield srv
    srv.stop()


def room_http(
    server: Server, path: str, params: dict[str, Any], *, data: bytes | None = None, token: str | None = None
) -> tuple[int, Any]:
    """Call an operator room endpoint (GET, or POST with a raw body); returns (HTTP status, JSON)."""
    url = f"http://127.0.0.1:{server.http}{path}?{urllib.parse.urlencode(params)}"
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    req.add_header("Authorization", f"Bearer {server.admin_token if token is None else token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def config(server: Server, **params: Any) -> None:
    status, reply = room_http(server, "/room/config", params)
    assert (status, reply) == (200, {"code": 0, "errmsg": "Ok"}), reply


async def create(owner: BeehiveClient, name: str = "lobby") -> int:
    reply = await owner.request(b.ROOM_CREAT, b.body(b.ROOM_CREAT, uid=owner.uid, name=name, desc="d"))
    ack = reply.msg
    assert reply.type == b.ROOM_CREAT_ACK and ack.code == 0 and ack.uid == owner.uid and ack.rid > 0, ack
    return int(ack.rid)


async def join(client: BeehiveClient, rid: int) -> Frame:
    return await client.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=client.uid, rid=rid))


async def joined(client: BeehiveClient, rid: int) -> int:
    """ROOM-JOIN that must succeed; checks the joiner's own JOIN-NTF (header seq = the request's)."""
    reply = await join(client, rid)
    assert reply.type == b.ROOM_JOIN_ACK and reply.msg.code == 0, reply.msg
    ntf = await client.expect(b.ROOM_JOIN_NTF)
    assert (ntf.msg.uid, ntf.msg.rid, ntf.header.seq) == (client.uid, rid, reply.header.seq)
    return int(reply.msg.gid)


async def chat(client: BeehiveClient, rid: int, text: str, gid: int = 0) -> Any:
    req = b.body(b.ROOM_CHAT, uid=client.uid, rid=rid, gid=gid, level=2, time=1700000000, text=text)
    reply = await client.request(b.ROOM_CHAT, req)
    assert reply.type == b.ROOM_CHAT_ACK, reply
    return reply.msg


async def subscribe(client: BeehiveClient, cmd: int = b.ROOM_USR_NUM) -> None:
    reply = await client.request(b.SUB, MESSAGES["mesg_sub"](cmd=cmd))
    assert reply.type == b.SUB_ACK and reply.msg.code == 0


async def count(client: BeehiveClient, rid: int, num: int, timeout: float = 3.0) -> None:
    """Wait for ROOM-USR-NUM {rid, num} (older counts are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = await client.expect(b.ROOM_USR_NUM, max(0.05, deadline - time.monotonic()))
        if (frame.msg.rid, frame.msg.num) == (rid, num):
            assert frame.header.seq == 0
            return


async def test_room_scenario(server: Server, beehive: Beehive) -> None:
    owner = await beehive.user()
    a = await beehive.user(ws=True)
    bob = await beehive.user()
    c = await beehive.user()
    rid = await create(owner)

    for client in (a, bob, c):
        assert await joined(client, rid) == 0
    assert [(await a.expect(b.ROOM_JOIN_NTF)).msg.uid for _ in range(2)] == [bob.uid, c.uid]

    await subscribe(a)
    await count(a, rid, 3)
    assert await bob.no_push(b.ROOM_USR_NUM, 3 * COUNT_INTERVAL)  # not subscribed: never told

    ack = await chat(bob, rid, "hello room")
    assert (ack.uid, ack.rid, ack.gid, ack.code) == (bob.uid, rid, 0, 0)
    for client in (a, bob, c):  # everyone inside, the sender included
        got = await client.expect(b.ROOM_CHAT)
        m = got.msg
        assert (m.uid, m.rid, m.text, m.level, m.time, got.header.seq) == (
            bob.uid,
            rid,
            "hello room",
            2,
            1700000000,
            1,
        )

    kick = await owner.request(b.ROOM_KICK, b.body(b.ROOM_KICK, uid=c.uid, rid=rid))
    assert kick.type == b.ROOM_KICK_ACK and (kick.msg.uid, kick.msg.rid, kick.msg.code) == (c.uid, rid, 0)
    victim = await c.expect(b.ROOM_KICK)
    assert (victim.msg.uid, victim.msg.rid, victim.header.seq) == (c.uid, rid, 0)
    for client in (a, bob):
        assert (await client.expect(b.ROOM_KICK_NTF)).msg.uid == c.uid
    assert (await c.ping()).type == b.PONG  # a room kick keeps the connection
    again = await join(c, rid)
    assert (again.msg.code, again.msg.errmsg, again.msg.gid) == (10005, "User is in blacklist!", 0)
    await count(a, rid, 2)

    status, pushed = room_http(
        server, "/room/push", {"dim": "room", "rid": rid, "expire": 0}, data=b"\x00news"
    )
    assert status == 200 and list(pushed) == ["rid", "msgid", "code", "errmsg"]
    assert (pushed["rid"], pushed["msgid"], pushed["code"], pushed["errmsg"]) == (rid, 1, 0, "OK")
    for client in (a, bob):
        bc = await client.expect(b.ROOM_BC)
        assert (bc.msg.rid, bc.msg.msgid, bc.msg.data, bc.msg.expire, bc.header.seq) == (
            rid,
            1,
            b"\x00news",
            0,
            1,
        )
    assert await c.no_push(b.ROOM_BC, 0.3)
    bob.send(b.ROOM_BC_ACK, b.body(b.ROOM_BC_ACK, rid=rid, msgid=1, code=0, errmsg="Ok"), seq=1)
    a.send(b.ROOM_USR_NUM_ACK, seq=1)
    for client in (a, bob):  # client ACKs are accepted without a reply
        await client.ping()
        assert await client.no_push(b.ERROR, 0.1)

    config(server, option="gag", action="add", rid=rid, uid=bob.uid)
    gagged = await chat(bob, rid, "muted?")
    assert (gagged.code, gagged.errmsg) == (10005, "You're gagged!")
    config(server, option="gag", action="del", rid=rid, uid=bob.uid)
    assert (await chat(bob, rid, "back")).code == 0

    await a.close()  # a closed connection is a quit
    left = await bob.expect(b.ROOM_QUIT_NTF)
    assert (left.msg.uid, left.msg.rid) == (a.uid, rid)


async def test_usr_num_stops_after_unsub_and_offline_is_a_quit(beehive: Beehive) -> None:
    owner = await beehive.user()
    x = await beehive.user()
    y = await beehive.user(ws=True)
    rid = await create(owner)
    await joined(x, rid)
    await joined(y, rid)
    await subscribe(y)
    await count(y, rid, 2)
    off = await x.request(b.OFFLINE)
    assert off.type == b.OFFLINE_ACK
    assert (await y.expect(b.ROOM_QUIT_NTF)).msg.uid == x.uid
    await count(y, rid, 1)
    unsub = await y.request(b.UNSUB, MESSAGES["mesg_unsub"](cmd=b.ROOM_USR_NUM))
    assert unsub.type == b.UNSUB_ACK and unsub.msg.code == 0
    await y.ping()
    while not y.pushes.empty():
        y.pushes.get_nowait()
    assert await y.no_push(b.ROOM_USR_NUM, 3 * COUNT_INTERVAL)


async def test_capacity_limit_closed_and_subgroups(server: Server, beehive: Beehive) -> None:
    owner = await beehive.user()
    rid = await create(owner)
    config(server, option="capacity", action="set", rid=rid, cap=1)
    _, cap = room_http(server, "/im/room/config", {"option": "capacity", "action": "get", "rid": rid})
    assert cap == {"rid": rid, "cap": 1, "code": 0, "errmsg": "Ok"}
    x, y, z = [await beehive.user() for _ in range(3)]
    assert [await joined(x, rid), await joined(y, rid)] == [0, 1]
    _, groups = room_http(server, "/room/query", {"option": "group-list", "rid": rid})
    assert groups == {
        "rid": rid,
        "len": 2,
        "list": [{"idx": 0, "gid": 0, "total": 1}, {"idx": 1, "gid": 1, "total": 1}],
        "code": 0,
        "errmsg": "Ok",
    }
    _, top = room_http(server, "/room/query", {"option": "top-list", "num": 100})
    assert {"rid": rid, "total": 2} in [{k: e[k] for k in ("rid", "total")} for e in top["list"]]

    ack = await chat(y, rid, "to sub-group 1 only", gid=1)
    assert (ack.gid, ack.code) == (1, 0)
    assert (await y.expect(b.ROOM_CHAT)).msg.gid == 1
    assert await x.no_push(b.ROOM_CHAT, 0.3)

    config(server, option="limit", action="set", rid=rid, num=2)
    full = await join(z, rid)
    assert (full.msg.code, full.msg.errmsg) == (10005, "Room is full!")
    config(server, option="limit", action="set", rid=rid, num=0)
    config(server, option="room", action="close", rid=rid)
    closed = await join(z, rid)
    assert (closed.msg.code, closed.msg.errmsg) == (10005, "Room is closed!")
    assert (await chat(x, rid, "closed?")).code == 10005
    config(server, option="room", action="open", rid=rid)
    assert await joined(z, rid) == 2


async def test_broadcasts_reach_later_joiners_until_they_expire(server: Server, beehive: Beehive) -> None:
    rid = 1_000_000_000 + int(time.time()) % 1_000_000  # never created: joining creates it (autocreate)
    first = await beehive.user()
    await joined(first, rid)
    _, kept = room_http(server, "/room/push", {"dim": "room", "rid": rid, "expire": 60}, data=b"kept")
    _, flash = room_http(server, "/im/room/push", {"dim": "room", "rid": rid, "expire": 0}, data=b"flash")
    assert (kept["msgid"], flash["msgid"]) == (1, 2)
    late = await beehive.user(ws=True)
    reply = await join(late, rid)
    assert reply.msg.code == 0
    frames = [await late.pushes.get() for _ in range(2)]
    assert [f.type for f in frames] == [b.ROOM_JOIN_NTF, b.ROOM_BC]
    assert (frames[1].msg.msgid, frames[1].msg.data, frames[1].msg.expire) == (1, b"kept", 60)
    assert await late.no_push(b.ROOM_BC, 0.3)  # the expire-0 broadcast was for those inside then


async def test_dismiss_acting_user_and_resend(beehive: Beehive) -> None:
    owner = await beehive.user()
    member = await beehive.user()
    rid = await create(owner)
    await joined(owner, rid)
    await joined(member, rid)

    wrong = await member.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=owner.uid, rid=rid))
    assert (wrong.msg.code, wrong.msg.errmsg) == (20009, "Uid is collision!")

    req = b.body(b.ROOM_CHAT, uid=member.uid, rid=rid, gid=0, level=0, time=1, text="once")
    seq = member.next_seq()
    first = await member.request(b.ROOM_CHAT, req, seq=seq)
    resent = await member.request(b.ROOM_CHAT, req, seq=seq)  # same (sid, seq): the first ACK again
    assert (first.msg.code, resent.msg.code) == (0, 0)
    assert (await owner.expect(b.ROOM_CHAT)).msg.text == "once"
    assert await owner.no_push(b.ROOM_CHAT, 0.3)

    refused = await member.request(b.ROOM_DISMISS, b.body(b.ROOM_DISMISS, uid=member.uid, rid=rid))
    assert (refused.msg.code, refused.msg.errmsg) == (10005, "You're not room owner!")
    done = await owner.request(b.ROOM_DISMISS, b.body(b.ROOM_DISMISS, uid=owner.uid, rid=rid))
    assert done.type == b.ROOM_DISMISS_ACK and done.msg.code == 0
    for client in (owner, member):
        gone = await client.expect(b.ROOM_QUIT_NTF)
        assert (gone.msg.uid, gone.msg.rid) == (0, rid)
    dead = await join(member, rid)
    assert (dead.msg.code, dead.msg.errmsg) == (20007, "Room isn't exist!")


async def test_node_report_and_http_errors(server: Server, beehive: Beehive) -> None:
    client = await beehive.user()
    stat = await client.request(b.ROOM_LSN_STAT, b"")
    assert stat.type == b.ERROR and stat.msg.code == 10005  # a node record, not a client command

    assert room_http(server, "/room/query", {"option": "top-list"}, token="wrong") == (
        200,
        {"code": 20008, "errmsg": "Auth failed!"},
    )
    assert room_http(server, "/room/push", {"dim": "room", "rid": 1}) == (
        405,
        {"code": 10021, "errmsg": "Method not supported!"},
    )
    cases = [
        ("/room/push", {"dim": "room", "rid": 424242}, b"x", 20007),
        ("/room/push", {"dim": "user", "rid": 1}, b"x", 20007),
        ("/room/push", {"dim": "room"}, b"x", 20006),
        ("/room/push", {"dim": "room", "rid": "abc"}, b"x", 20005),
        ("/room/push", {"dim": "room", "rid": 0}, b"x", 20007),
        ("/room/config", {"option": "nope", "action": "add"}, None, 10020),
        ("/room/config", {"option": "gag", "action": "add", "rid": 424242, "uid": 1}, None, 20007),
        ("/im/room/query", {"option": "group-list"}, None, 20006),
    ]
    for path, params, data, code in cases:
        status, reply = room_http(server, path, params, data=data)
        assert (status, reply["code"]) == (200, code), (path, params, reply)
    too_big = room_http(server, "/room/push", {"dim": "room", "rid": 1}, data=b"x" * 60001)
    assert too_big == (200, {"code": 10018, "errmsg": "Body over limit!"})


async def test_a_room_ban_and_gag_outlive_a_server_restart(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    srv = start_server(tmp_path, config=cfg)
    try:
        owner, _ = srv.add_user("keep")
        bob, _ = srv.add_user("keep")
        carol, _ = srv.add_user("keep")
        status, room = srv.api("POST", "/api/v1/rooms", {"owner": owner, "name": "kept"})
        assert status == 201, room
        rid = room["rid"]
        assert srv.api("POST", f"/api/v1/rooms/{rid}/kick", {"uid": bob})[1]["banned"] == [bob]
        config(srv, option="gag", action="add", rid=rid, uid=carol)
    finally:
        assert srv.stop() == 0

    srv = start_server(tmp_path, config=cfg)
    pool = Beehive(srv)
    try:
        status, after = srv.api("GET", f"/api/v1/rooms/{rid}")
        assert status == 200 and (after["owner"], after["name"], after["banned"]) == (owner, "kept", [bob])
        banned = await pool.login(bob)
        assert (await join(banned, rid)).msg.code != 0  # a kick is a ban, restart or not
        gagged = await pool.login(carol)
        await joined(gagged, rid)
        assert (await chat(gagged, rid, "still gagged?")).code == 10005
    finally:
        await pool.close()
        srv.stop()
