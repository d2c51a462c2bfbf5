"""OMTP's HTTP endpoints end to end (omtp.md §7): admin token, business notifications, sync commands,
friends — checked both in the JSON answers and in what OMTP clients receive."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest

from tests.clients.omtp import COUNTER, PT, DeviceType, MsgReaded, SyncCmd, typed
from tests.conftest import Server
from tests.e2e.conftest import Omtp, nothing


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


ENDPOINTS = ["/msg/sendsimplemsg", "/msg/sendsyncmsg", "/friend/add", "/friend/del", "/friend/get"]


def trace() -> str:
    return str(uuid.uuid4())


def post_without_auth(server: Server, path: str) -> int:
    req = urllib.request.Request(
        f"http://127.0.0.1:{server.http}{path}",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("path", ENDPOINTS)
def test_admin_token_required(server: Server, path: str) -> None:
    status, body = server.api("POST", path, {"traceId": "t"}, token="wrong-token")
    assert status == 401
    assert body == {"code": 23, "success": False, "message": "unauthorized"}
    assert post_without_auth(server, path) == 401


def test_method_path_and_parameters(server: Server) -> None:
    status, _ = server.api("GET", "/msg/sendsimplemsg")
    assert status == 405
    status, _ = server.api("POST", "/msg/nothing", {"traceId": "t"})
    assert status == 404
    status, body = server.api("POST", "/friend/get", {"userId": "10001"})  # no traceId
    assert status == 200 and body["code"] == 2 and body["success"] is False
    status, body = server.api("POST", "/friend/get", None)  # no body at all
    assert status == 200 and body["code"] == 2 and body["message"] == "param is empty!"


async def test_sendsimplemsg_stores_pushes_and_dedups(omtp: Omtp, server: Server) -> None:
    bob = await omtp.user("bob")
    bob_phone = await omtp.login(omtp.name_of(bob), device_id="ph-1", device_type=DeviceType.IOS)
    tid = trace()
    body = {
        "traceId": tid,
        "appId": "shop",
        "from": "Shop Bot",
        "to": bob.uid,
        "contentType": 1,
        "content": "your parcel is on its way",
        "pushTitle": "Shop",
        "pushSummary": "parcel",
    }
    # a contentType wider than Tars' int is a parameter error, not a server error; nothing is stored
    status, resp = server.api("POST", "/msg/sendsimplemsg", {**body, "contentType": 2**63})
    assert status == 200 and resp["code"] == 2 and resp["success"] is False
    status, resp = server.api("POST", "/msg/sendsimplemsg", body)
    assert status == 200 and resp["code"] == 0 and resp["success"] is True and resp["message"] == "success"
    topic = f"BM_shop_{bob.uid}"
    data = resp["data"]
    assert data["sessionId"] == topic and data["seqId"] >= 1 and data["timestamp"] > 0

    for device in (bob, bob_phone):
        header, msg = await device.expect_msg(PT.MSG_BIZ_NOTIFY)
        assert (header.version, header.flags, header.pack_id) == (1, COUNTER, tid)
        assert (msg.session_id, msg.seq_id, msg.timestamp) == (topic, data["seqId"], data["timestamp"])
        assert (msg.from_, msg.to, msg.content_type, msg.content) == (
            "Shop Bot",
            bob.uid,
            1,
            "your parcel is on its way",
        )
        assert (msg.push_info.title, msg.push_info.summary) == ("Shop", "parcel")

    # the same traceId again: same answer, nothing stored or pushed twice
    status, again = server.api("POST", "/msg/sendsimplemsg", body)
    assert status == 200 and again == resp
    await nothing(bob)

    # it is a conversation of its own: hot sessions with unread count, history, read
    item = (await bob.hot_sessions()).session(topic)
    assert item is not None and item.unread_count == 1
    assert item.last_msgs[0].header.pack_id == tid and item.last_msgs[0].header.flags & COUNTER
    history = await bob.history(topic)
    assert history.ok and [p.msg.content for p in history.msgs] == ["your parcel is on its way"]
    assert (await bob.read(topic, data["seqId"])).ok
    _, payload = await bob_phone.expect_push(PT.MSG_READ)
    assert typed(MsgReaded, payload).session_id == topic
    item = (await bob.hot_sessions()).session(topic)
    assert item is not None and item.unread_count == 0

    # a second stream with an explicit sessionId
    second = dict(body, traceId=trace(), sessionId="orders", content="invoice")
    status, resp2 = server.api("POST", "/msg/sendsimplemsg", second)
    assert resp2["code"] == 0 and resp2["data"]["sessionId"] == "orders"
    _, msg = await bob.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert (msg.session_id, msg.content) == ("orders", "invoice")
    sessions = {s.session_id: s for s in (await bob.hot_sessions()).sessions}
    assert sessions["orders"].unread_count == 1 and sessions[topic].unread_count == 0

    # refusals
    for bad in (
        dict(body, traceId=trace(), sessionId=f"LP_G1_{bob.uid}_{bob.uid}"),
        dict(body, traceId=trace(), sessionId="GC_7"),
        dict(body, traceId=trace(), to="999999999"),
        dict(body, traceId=trace(), to="bob"),
        {k: v for k, v in body.items() if k != "content"} | {"traceId": trace()},
        {k: v for k, v in body.items() if k != "appId"} | {"traceId": trace()},
    ):
        status, refused = server.api("POST", "/msg/sendsimplemsg", bad)
        assert status == 200 and refused["code"] == 2 and refused["success"] is False, (bad, refused)
    # content over 65 536 bytes: 41 by §7.1, but such a body is already over the 64 KiB body bound (→ 2)
    too_long = dict(body, traceId=trace(), content="x" * 65537)
    status, refused = server.api("POST", "/msg/sendsimplemsg", too_long)
    assert status == 200 and refused["code"] in (2, 41) and refused["success"] is False
    await nothing(bob)


async def test_sendsyncmsg_counts_connections(omtp: Omtp, server: Server) -> None:
    bob = await omtp.user("bob")
    bob_phone = await omtp.login(omtp.name_of(bob), device_id="ph-1", device_type=DeviceType.IOS)
    carol = await omtp.user("carol")
    offline_uid, _ = server.add_user("dave")
    tid = trace()
    body = {
        "traceId": tid,
        "appId": "crm",
        "command": 3,
        "content": "GC_1",
        "users": [bob.uid, int(carol.uid), str(offline_uid), "999999999", "junk"],
    }
    status, resp = server.api("POST", "/msg/sendsyncmsg", body)
    assert status == 200 and resp == {
        "code": 0,
        "success": True,
        "message": "success",
        "data": {"delivered": 3},
    }
    for device in (bob, bob_phone, carol):
        header, sync = await device.expect_sync()
        assert (header.version, header.flags, header.pack_id) == (1, 0, tid)
        assert (sync.command, sync.content) == (3, "GC_1")

    # the same traceId again: same answer, nothing pushed twice
    status, again = server.api("POST", "/msg/sendsyncmsg", body)
    assert status == 200 and again == resp
    await nothing(bob)
    await nothing(carol)

    lone_surrogate = {"users": [bob.uid], "content": "\ud800"}  # was a 500
    for bad in (
        {"users": []},
        {"users": "10001"},
        {"users": [bob.uid], "content": "x" * 4097},
        lone_surrogate,
    ):
        status, refused = server.api("POST", "/msg/sendsyncmsg", {"traceId": trace(), "appId": "crm", **bad})
        assert refused["code"] == 2 and refused["success"] is False
    await nothing(bob)


async def test_friend_endpoints(omtp: Omtp, server: Server) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")

    status, resp = server.api(
        "POST", "/friend/add", {"traceId": trace(), "userId": alice.uid, "friendId": bob.uid}
    )
    assert status == 200 and resp == {"success": True, "code": 0, "message": ""}
    _, sync = await alice.expect_sync()
    assert (sync.command, sync.content) == (SyncCmd.FRIEND, bob.uid)
    _, sync = await bob.expect_sync()
    assert (sync.command, sync.content) == (SyncCmd.FRIEND, alice.uid)
    assert [f.friend_id for f in (await bob.friend_sync()).friends] == [alice.uid]

    status, resp = server.api("POST", "/friend/get", {"traceId": trace(), "userId": alice.uid})
    assert resp == {
        "success": True,
        "code": 0,
        "message": "",
        "data": [{"userId": alice.uid, "friendId": bob.uid, "remark": ""}],
    }

    for path, body in (
        ("/friend/add", {"userId": alice.uid, "friendId": "999999999"}),
        ("/friend/add", {"userId": "999999999", "friendId": alice.uid}),
        ("/friend/add", {"userId": alice.uid}),
        ("/friend/del", {"userId": alice.uid, "friendId": "999999999"}),
        ("/friend/get", {"userId": "999999999"}),
    ):
        status, refused = server.api("POST", path, {"traceId": trace(), **body})
        assert status == 200 and refused["code"] == 2 and refused["success"] is False, (path, refused)

    status, resp = server.api(
        "POST", "/friend/del", {"traceId": trace(), "userId": bob.uid, "friendId": alice.uid}
    )
    assert resp == {"success": True, "code": 0, "message": ""}
    for client, other in ((alice, bob), (bob, alice)):
        _, sync = await client.expect_sync()
        assert (sync.command, sync.content) == (SyncCmd.FRIEND, other.uid)
    status, resp = server.api("POST", "/friend/get", {"traceId": trace(), "userId": alice.uid})
    assert resp["code"] == 0 and resp["data"] == []
