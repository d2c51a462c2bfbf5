"""beehive's HTTP API over real sockets (beehive.md §6.1–§6.5, §6.7): /im/register, /im/iplist (and a
login with the token it hands out, over TCP and WebSocket), /im/query, /im/config, /im/push and
/im/group/config — parameters, authentication, JSON keys and their order."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients import beehive as b
from tests.clients.beehive import BeehiveClient
from tests.clients.omtp import PT
from tests.conftest import Server, start_server
from tests.e2e.beehive_pool import Beehive, beehive, http
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]

ADMIN = "test-admin-token"
TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,127}$")
IPLIST_KEYS = ["uid", "sid", "type", "token", "expire", "len", "list", "code", "errmsg"]


def register(server: Server, uid: int, **extra: object) -> dict[str, object]:
    status, body = http(server, "/im/register", {"uid": uid, **extra})
    assert status == 200 and body["code"] == 0, body
    return dict(body)


def iplist(server: Server, uid: int, sid: int, kind: int = 1, **extra: object) -> dict[str, object]:
    status, body = http(server, "/im/iplist", form={"type": kind, "uid": uid, "sid": sid, **extra})
    assert status == 200, body
    return dict(body)


# == /im/register ===========================================================================================
def test_register_issues_a_sid_per_device(server: Server) -> None:
    uid, _ = server.add_user("bh")
    first = register(server, uid, nation=86, city=7)
    assert list(first) == ["uid", "sid", "nation", "city", "town", "code", "errmsg"]
    assert (first["uid"], first["nation"], first["city"], first["town"], first["errmsg"]) == (
        uid,
        86,
        7,
        0,
        "OK",
    )
    second = register(server, uid)
    assert isinstance(first["sid"], int) and first["sid"] > 0 and second["sid"] != first["sid"]
    status, body = http(server, "/im/register", form={"uid": uid})  # the GET parameters as a form body
    assert status == 200 and body["code"] == 0 and body["sid"] not in (first["sid"], second["sid"])


def test_register_parameter_errors(server: Server) -> None:
    assert http(server, "/im/register")[1] == {"code": 20006, "errmsg": "Param is missing!"}
    assert http(server, "/im/register", {"uid": 0})[1]["code"] == 20007
    assert http(server, "/im/register", {"uid": "ten"})[1]["code"] == 20005
    assert http(server, "/im/register", {"uid": 999_999_999})[1] == {
        "code": 10013,
        "errmsg": "User isn't exist!",
    }
    status, body = http(server, "/im/register", {"uid": 1}, method="DELETE")
    assert (status, body) == (405, {"code": 10021, "errmsg": "Method not supported!"})


def test_register_limits_sids_per_user(server: Server) -> None:
    uid, _ = server.add_user("bh")
    for _ in range(20):
        register(server, uid)
    assert http(server, "/im/register", {"uid": uid})[1]["code"] == 10022


# == /im/iplist → ONLINE ====================================================================================
async def test_iplist_with_password_then_online_over_tcp(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh", password="s3cret")
    sid = int(register(server, uid)["sid"])
    got = iplist(server, uid, sid, 1, password="s3cret", clientip="10.0.0.9")
    assert list(got) == IPLIST_KEYS
    assert (got["uid"], got["sid"], got["type"], got["expire"], got["len"]) == (uid, sid, 1, 86400, 1)
    assert (got["code"], got["errmsg"]) == (0, "OK")
    assert got["list"] == [f"127.0.0.1:{server.beehive_tcp}"]
    token = str(got["token"])
    assert TOKEN.match(token)

    host, port = str(got["list"][0]).split(":")  # type: ignore[index]
    client = await BeehiveClient.tcp(host, int(port), sid)
    beehive.clients.append(client)
    ack = await client.online(uid, token)
    assert (ack.code, ack.uid, ack.sid) == (0, uid, sid)
    assert (await client.ping()).type == b.PONG


async def test_iplist_websocket_gateway_then_online(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh", password="pw")
    sid = int(register(server, uid)["sid"])
    got = iplist(server, uid, sid, 2, password="pw")
    assert got["code"] == 0 and got["list"] == [f"127.0.0.1:{server.beehive_ws}"]
    client = await BeehiveClient.websocket(f"http://{got['list'][0]}/im", sid)  # type: ignore[index]
    beehive.clients.append(client)
    ack = await client.online(uid, str(got["token"]))
    assert ack.code == 0
    frames, sync = await client.sync()
    assert sync.code == 0 and frames == []


async def test_iplist_token_is_bound_to_uid_and_sid(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh", password="pw")
    other_uid, _ = server.add_user("bh")
    sid = int(register(server, uid)["sid"])
    token = str(iplist(server, uid, sid, password="pw")["token"])
    wrong_sid = await beehive.connect()
    assert (await wrong_sid.online(uid, token)).errmsg == "Token is invalid!!"
    wrong_uid = await beehive.connect(sid)
    assert (await wrong_uid.online(other_uid, token)).errmsg == "Token is invalid!!"


def test_iplist_authentication(server: Server) -> None:
    uid, _ = server.add_user("bh", password="right")
    other, _ = server.add_user("bh", password="pw")
    sid = int(register(server, uid)["sid"])
    assert iplist(server, uid, sid, password="wrong") == {"code": 20008, "errmsg": "Auth failed!"}
    assert iplist(server, uid, sid) == {"code": 20008, "errmsg": "Auth failed!"}  # no credential at all
    status, body = http(server, "/im/iplist", {"type": 1, "uid": uid, "sid": sid}, token=ADMIN)
    assert status == 200 and body["code"] == 0 and list(body) == IPLIST_KEYS  # a trusted app server
    status, body = http(server, "/im/iplist", {"type": 1, "uid": uid, "sid": sid}, token="not-the-token")
    assert body["code"] == 20008
    assert iplist(server, other, sid, password="pw") == {"code": 20009, "errmsg": "Sid is collision!"}
    fresh = 7_000_000_000 + uid  # never registered: bound to the caller now (the original SDK invents sids)
    assert iplist(server, other, fresh, password="pw")["code"] == 0
    assert iplist(server, uid, fresh, password="right")["code"] == 20009
    assert iplist(server, uid, sid, 3, password="right")["code"] == 20007
    assert http(server, "/im/iplist", {"type": 1, "uid": uid})[1]["code"] == 20006
    status, body = http(server, "/im/iplist", {"type": 1, "uid": 999_999_999, "sid": 5}, token=ADMIN)
    assert body["code"] == 10013


def test_iplist_throttles_wrong_passwords(server: Server) -> None:
    uid, _ = server.add_user("bh", password="right")
    sid = int(register(server, uid)["sid"])
    codes = [iplist(server, uid, sid, password="wrong")["code"] for _ in range(5)]
    assert codes == [20008] * 5
    assert iplist(server, uid, sid, password="right")["code"] == 10023  # locked, right or wrong


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the compatibility switch ``iplist_without_auth = true`` (off by default), and
    ``[accounts] allow_register = false``."""
    extra = "iplist_without_auth = true\n[accounts]\nallow_register = false\n"
    srv = start_server(Path(tmp_path_factory.mktemp("iplist-open")), extra)
    yield srv
    srv.stop()


async def test_iplist_without_auth_switch(open_server: Server) -> None:
    uid, _ = open_server.add_user("bh")
    got = iplist(open_server, uid, 424242)
    assert got["code"] == 0 and got["list"] == [f"127.0.0.1:{open_server.beehive_tcp}"]
    client = await BeehiveClient.tcp("127.0.0.1", open_server.beehive_tcp, 424242)
    try:
        assert (await client.online(uid, str(got["token"]))).code == 0
    finally:
        await client.close()
    assert iplist(open_server, 999_999_999, 5)["code"] == 10013
    refused = http(open_server, "/im/register", {"uid": uid})[1]
    assert refused == {"code": 10005, "errmsg": "Permission denied!"}  # sids come from /im/iplist only
    assert "iplist_without_auth is on" in (open_server.log.read_text() if open_server.log else "")


# == operator endpoints: authentication ======================================================================
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/im/query", {"option": "sid-list", "uid": 1}),
        ("/im/config", {"option": "listend", "action": "list"}),
        ("/im/group/config", {"option": "blacklist", "action": "get", "gid": 1}),
    ],
)
def test_operator_endpoints_need_the_admin_token(
    server: Server, path: str, params: dict[str, object]
) -> None:
    assert http(server, path, params) == (200, {"code": 20008, "errmsg": "Auth failed!"})
    assert http(server, path, params, token="wrong")[1]["code"] == 20008
    assert http(server, path, params, token=ADMIN)[1]["code"] != 20008


def test_push_needs_post_and_the_admin_token(server: Server) -> None:
    assert http(server, "/im/push", {"dim": "broadcast"}, method="POST", data=b"x")[1]["code"] == 20008
    status, body = http(server, "/im/push", {"dim": "broadcast"}, token=ADMIN)
    assert (status, body["code"]) == (405, 10021)


# == /im/query ===============================================================================================
async def test_query_sid_list(server: Server, beehive: Beehive) -> None:
    uid, _ = server.add_user("bh")
    tcp = await beehive.login(uid, terminal=1)
    ws = await beehive.login(uid, ws=True, terminal=1)
    _, body = http(server, "/im/query", {"option": "sid-list", "uid": uid}, token=ADMIN)
    assert list(body) == ["uid", "len", "list", "code", "errmsg"]
    assert (body["uid"], body["len"], body["code"], body["errmsg"]) == (uid, 2, 0, "Ok")
    assert sorted(item["sid"] for item in body["list"]) == sorted([tcp.sid, ws.sid])
    assert [item["idx"] for item in body["list"]] == [0, 1]
    assert http(server, "/im/query", {"option": "nope", "uid": uid}, token=ADMIN)[1]["code"] == 10020


# == /im/config ==============================================================================================
def test_config_user_statistics(server: Server) -> None:
    def config(**params: object) -> dict[str, object]:
        status, body = http(server, "/im/config", {"option": "user-statis", **params}, token=ADMIN)
        assert status == 200
        return dict(body)

    assert config(action="add", prec=1, num=3) == {"code": 0, "errmsg": "Ok"}
    listed = config(action="list")
    assert listed["len"] == 1 and listed["list"] == [{"idx": 0, "prec": 1, "num": 3}]
    time.sleep(2.2)
    got = config(action="get", prec=1, num=2)
    assert list(got) == ["prec", "num", "list", "code", "errmsg"] and got["num"] == 2
    first = got["list"][0]  # type: ignore[index]
    assert list(first) == ["idx", "time", "time-str", "num"]
    assert first["time-str"] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(first["time"]))
    times = [item["time"] for item in got["list"]]  # type: ignore[union-attr]
    assert times == sorted(times, reverse=True)  # newest first
    assert config(action="del", prec=1) == {"code": 0, "errmsg": "Ok"}
    assert config(action="get", prec=1)["code"] == 20007
    assert config(action="explode")["code"] == 10020


async def test_config_listend_and_frwder(server: Server, beehive: Beehive) -> None:
    await beehive.user()
    await asyncio.sleep(5.5)  # the node report is refreshed every 5 s
    _, body = http(server, "/im/config", {"option": "listend", "action": "list"}, token=ADMIN)
    assert body["len"] == 2 and body["code"] == 0
    by_type = {item["type"]: item for item in body["list"]}
    assert list(by_type[1]) == ["idx", "nid", "type", "ipaddr", "status", "total"]
    assert by_type[1]["ipaddr"] == f"127.0.0.1:{server.beehive_tcp}"
    assert by_type[2]["ipaddr"] == f"127.0.0.1:{server.beehive_ws}"
    assert by_type[1]["status"] == 1 and by_type[1]["nid"] == 1 and by_type[1]["total"] >= 1
    _, body = http(server, "/im/config", {"option": "frwder", "action": "list"}, token=ADMIN)
    assert body["len"] == 1
    assert body["list"] == [
        {
            "idx": 0,
            "nid": 1,
            "ipaddr": "127.0.0.1",
            "fwd-port": server.beehive_tcp,
            "bc-port": server.http,
            "status": 1,
        }
    ]


# == /im/push ================================================================================================
def push(server: Server, dim: str, data: bytes, **params: object) -> dict[str, object]:
    status, body = http(server, "/im/push", {"dim": dim, **params}, method="POST", data=data, token=ADMIN)
    assert status == 200, body
    return dict(body)


async def test_push_dims(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    alice = await beehive.user()
    bob_uid, _ = server.add_user("bh")
    bob = await beehive.login(bob_uid, terminal=1)
    bob_app = await beehive.connect()
    assert (
        await bob_app.online(bob_uid, beehive.token(bob_uid, bob_app.sid), app="shop", terminal=3)
    ).code == 0
    o = await omtp.user("om")

    got = push(server, "uid", b"\x01p2p", uid=bob_uid)
    assert list(got) == ["uid", "msgid", "code", "errmsg"] and got["errmsg"] == "OK"
    for client in (bob, bob_app):
        frame = await client.expect(b.P2P)
        assert (frame.raw, frame.header.seq) == (b"\x01p2p", got["msgid"])
    assert await alice.no_push(b.P2P, 0.2)

    got = push(server, "sid", b"one", sid=bob_app.sid)
    assert list(got) == ["msgid", "code", "errmsg"]
    assert (await bob_app.expect(b.P2P)).raw == b"one"
    assert await bob.no_push(b.P2P, 0.2)

    got = push(server, "appid", b"app only", appid="shop")
    assert (await bob_app.expect(b.BC)).header.seq == got["msgid"]
    assert await bob.no_push(b.BC, 0.2) and await alice.no_push(b.BC, 0.2)

    got = push(server, "broadcast", b"everyone")
    for client in (alice, bob, bob_app):
        frame = await client.expect(b.BC)
        assert (frame.raw, frame.header.seq) == (b"everyone", got["msgid"])
    _, note = await o.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert (note.content, note.to) == ("everyone", o.uid)

    gid = await alice.create_group(f"push{time.time_ns()}")
    await alice.group(b.GROUP_INVITE, gid, to=bob_uid)
    got = push(server, "group", b"to the group", gid=gid)
    assert list(got) == ["gid", "msgid", "code", "errmsg"] and got["gid"] == gid
    assert (await alice.expect(b.P2P)).raw == b"to the group"
    assert (await bob.expect(b.P2P)).raw == b"to the group"

    assert push(server, "teleport", b"x")["code"] == 20007
    assert push(server, "uid", b"x", uid=999_999_999)["code"] == 10013
    assert push(server, "uid", b"x" * 60_001, uid=bob_uid)["code"] == 10018
    assert push(server, "sid", b"x", sid=1)["code"] == 20007
    assert push(server, "group", b"x", gid=999_999_999)["code"] == 20007


async def test_push_dim_room(server: Server, beehive: Beehive) -> None:
    client = await beehive.user()
    rid = 990_000_000 + client.uid
    join = await client.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=client.uid, rid=rid))
    assert join.msg.code == 0
    got = push(server, "room", b"room news", rid=rid, expire=0)
    assert list(got) == ["rid", "msgid", "code", "errmsg"] and got["rid"] == rid
    frame = await client.expect(b.ROOM_BC)
    assert (frame.msg.data, frame.msg.msgid) == (b"room news", got["msgid"])


# == /im/group/config ========================================================================================
def group_config(server: Server, **params: object) -> dict[str, object]:
    status, body = http(server, "/im/group/config", params, token=ADMIN)
    assert status == 200
    return dict(body)


async def test_group_config_blacklist_and_gag(server: Server, beehive: Beehive) -> None:
    owner = await beehive.user()
    member = await beehive.user()
    gid = await owner.create_group(f"cfg{time.time_ns()}")
    assert (await member.group(b.GROUP_JOIN, gid)).msg.code == 0
    await owner.expect(b.GROUP_JOIN_NTF)

    assert group_config(server, option="blacklist", action="add", gid=gid, uid=member.uid) == {
        "code": 0,
        "errmsg": "Ok",
    }
    for client in (owner, member):
        ntf = await client.expect(b.GROUP_BL_ADD_NTF)
        assert (ntf.msg.uid, ntf.msg.gid) == (member.uid, gid)
    listed = group_config(server, option="blacklist", action="get", gid=gid)
    assert listed == {"len": 1, "list": [{"idx": 0, "uid": member.uid}], "code": 0, "errmsg": "Ok"}
    refused = await member.group(b.GROUP_JOIN, gid)
    assert (refused.msg.code, refused.msg.errmsg) == (10005, "User is in blacklist!")
    assert group_config(server, option="blacklist", action="del", gid=gid, uid=member.uid)["code"] == 0
    assert (await member.expect(b.GROUP_BL_DEL_NTF)).msg.uid == member.uid
    assert (await member.group(b.GROUP_JOIN, gid)).msg.code == 0
    assert group_config(server, option="blacklist", action="add", gid=gid, uid=owner.uid)["code"] == 10005

    assert group_config(server, option="gag", action="add", gid=gid, uid=0)["code"] == 0  # mute-all
    assert (await member.expect(b.GROUP_GAG_ADD_NTF)).msg.uid == 0
    assert group_config(server, option="gag", action="add", gid=gid, uid=member.uid)["code"] == 0
    gags = group_config(server, option="gag", action="get", gid=gid)
    assert gags["list"] == [{"idx": 0, "uid": 0}, {"idx": 1, "uid": member.uid}]
    chat = b.body(b.GROUP_CHAT, uid=member.uid, gid=gid, level=0, time=1, text="hm")
    assert (await member.request(b.GROUP_CHAT, chat)).msg.errmsg == "You're gagged!"
    assert group_config(server, option="gag", action="del", gid=gid, uid=0)["code"] == 0
    assert group_config(server, option="gag", action="del", gid=gid, uid=member.uid)["code"] == 0
    assert (await member.request(b.GROUP_CHAT, chat)).msg.code == 0
    assert group_config(server, option="gag", action="add", gid=gid, uid=999_999_999)["code"] == 20007


async def test_group_config_switch_and_capacity(server: Server, beehive: Beehive) -> None:
    owner = await beehive.user()
    member = await beehive.user()
    late = await beehive.user()
    gid = await owner.create_group(f"sw{time.time_ns()}")
    assert (await member.group(b.GROUP_JOIN, gid)).msg.code == 0

    cap = group_config(server, option="capacity", action="get", gid=gid)
    assert cap == {"gid": gid, "cap": 500, "code": 0, "errmsg": "Ok"}
    assert group_config(server, option="cap", action="set", gid=gid, cap=2)["code"] == 0
    assert group_config(server, option="cap", action="get", gid=gid)["cap"] == 2
    full = await late.group(b.GROUP_JOIN, gid)
    assert (full.msg.code, full.msg.errmsg) == (10005, "Group is full!")
    assert group_config(server, option="capacity", action="set", gid=gid, cap=10)["code"] == 0

    assert group_config(server, option="switch", action="off", gid=gid)["code"] == 0
    closed = await late.group(b.GROUP_JOIN, gid)
    assert (closed.msg.code, closed.msg.errmsg) == (10005, "Group is closed!")
    invite = await owner.group(b.GROUP_INVITE, gid, to=late.uid)
    assert invite.msg.errmsg == "Group is closed!"
    chat = b.body(b.GROUP_CHAT, uid=owner.uid, gid=gid, level=0, time=1, text="anyone?")
    assert (await owner.request(b.GROUP_CHAT, chat)).msg.errmsg == "Group is closed!"
    assert group_config(server, option="switch", action="on", gid=gid)["code"] == 0
    assert (await late.group(b.GROUP_JOIN, gid)).msg.code == 0
    assert (await owner.request(b.GROUP_CHAT, chat)).msg.code == 0


def test_group_config_errors(server: Server) -> None:
    assert group_config(server, option="switch", action="off", gid=999_999_999) == {
        "code": 20007,
        "errmsg": "Group isn't exist!",
    }
    assert group_config(server, option="colour", action="get", gid=1)["code"] == 10020
    assert group_config(server, option="switch", action="sideways", gid=1)["code"] == 10020
    assert group_config(server, option="switch", action="on")["code"] == 20006
    assert group_config(server, option="switch", action="on", gid="x")["code"] == 20005
