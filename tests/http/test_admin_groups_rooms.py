"""The admin API's groups and rooms (``/api/v1/groups``, ``/api/v1/rooms``): an operator acts with the
owner's authority, and the clients concerned hear of it in their own protocols, over real sockets."""

from __future__ import annotations

from tests.clients import beehive as b
from tests.clients.omtp import SyncCmd, group_id
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]


async def test_a_group_made_filled_thinned_and_dismissed_through_the_api(server: Server, omtp: Omtp) -> None:
    alice, bob, carol = await omtp.user("alice"), await omtp.user("bob"), await omtp.user("carol")
    a, bo, c = int(alice.uid), int(bob.uid), int(carol.uid)
    status, made = server.api("POST", "/api/v1/groups", {"name": f"ops-{a}", "owner": a, "members": [bo]})
    assert status == 201, made
    gid = made["gid"]
    assert [(m["uid"], m["role"]) for m in made["members"]] == [(a, "owner"), (bo, "member")]
    for member in (alice, bob):  # the owner's own create would tell them the same
        _, sync = await member.expect_sync()
        assert (sync.command, sync.content) == (SyncCmd.GROUP, group_id(gid))

    status, grown = server.api("POST", f"/api/v1/groups/{gid}/members", {"uids": [c]})
    assert status == 200 and [m["uid"] for m in grown["members"]] == [a, bo, c]
    _, sync = await carol.expect_sync()
    assert (sync.command, sync.content) == (SyncCmd.GROUP, group_id(gid))
    assert server.api("GET", f"/api/v1/groups?uid={c}")[1]["groups"][0]["gid"] == gid

    status, thinned = server.api("POST", f"/api/v1/groups/{gid}/members/remove", {"uids": [bo]})
    assert status == 200 and [m["uid"] for m in thinned["members"]] == [a, c]
    status, body = server.api("POST", f"/api/v1/groups/{gid}/members/remove", {"uids": [a]})
    assert (status, body["message"]) == (400, "the owner must transfer or dismiss first")

    assert server.api("DELETE", f"/api/v1/groups/{gid}") == (200, {"gid": gid, "dismissed": True})
    assert server.api("GET", f"/api/v1/groups/{gid}")[0] == 404
    assert server.api("GET", f"/api/v1/groups?uid={c}") == (200, {"total": 0, "offset": 0, "groups": []})


def test_group_requests_are_checked(server: Server) -> None:
    uid, _ = server.add_user("g")
    body = {"name": f"g-{uid}", "owner": uid}
    assert server.api("POST", "/api/v1/groups", body, token="wrong")[0] == 401
    assert server.api("POST", "/api/v1/groups", {"name": "x", "owner": "me"})[0] == 400
    assert (
        server.api("POST", "/api/v1/groups", {"name": "x", "owner": uid, "members": [99_999_999]})[0] == 404
    )
    assert server.api("POST", "/api/v1/groups", body)[0] == 201
    assert server.api("POST", "/api/v1/groups", body)[0] == 409  # names are unique
    assert server.api("GET", "/api/v1/groups/nope")[0] == 400
    assert server.api("GET", f"/api/v1/groups/{2**64}")[0] == 400  # beyond any id the store can hold
    assert server.api("POST", "/api/v1/groups", {"name": "y", "owner": 2**64})[0] == 400
    assert server.api("GET", "/api/v1/rooms/%C2%B2")[0] == 400  # "²" is a digit to str.isdigit
    assert server.api("GET", f"/api/v1/groups?uid={2**64}")[0] == 400
    assert server.api("GET", "/api/v1/groups?uid=")[0] == 400
    assert server.api("GET", "/api/v1/groups?limit=0")[0] == 400
    assert server.api("GET", "/api/v1/groups?limit=1001")[0] == 400
    assert server.api("GET", "/api/v1/groups?offset=-1")[0] == 400
    assert server.api("GET", "/api/v1/groups")[0] == 200  # every group, a page at a time
    assert server.api("POST", "/api/v1/groups/123456789/members", {"uids": [uid]})[0] == 404


async def test_a_room_made_kicked_from_and_dismissed_through_the_api(
    server: Server, beehive: Beehive
) -> None:
    owner_uid, _ = server.add_user("ro")
    alice, bob = await beehive.user(), await beehive.user()
    status, room = server.api("POST", "/api/v1/rooms", {"owner": owner_uid, "name": "hall"})
    assert status == 201 and (room["owner"], room["sessions"], room["closed"]) == (owner_uid, 0, False)
    rid = room["rid"]
    for client in (alice, bob):
        reply = await client.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=client.uid, rid=rid))
        assert reply.msg.code == 0
    shown = server.api("GET", f"/api/v1/rooms/{rid}")[1]
    assert shown["sessions"] == 2
    assert sorted(m["uid"] for m in shown["members"]) == sorted([alice.uid, bob.uid])
    assert {m["protocol"] for m in shown["members"]} == {"beehive"}
    listed = {"rid": rid, "sessions": 2, "members": sorted([alice.uid, bob.uid])}
    assert listed in server.api("GET", "/api/v1/rooms?top=1000")[1]["rooms"]

    status, after = server.api("POST", f"/api/v1/rooms/{rid}/kick", {"uid": bob.uid})
    assert status == 200 and (after["sessions"], after["banned"]) == (1, [bob.uid])
    kicked = await bob.expect(b.ROOM_KICK)
    assert (kicked.msg.uid, kicked.msg.rid) == (bob.uid, rid)
    again = await bob.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=bob.uid, rid=rid))
    assert again.msg.code != 0  # a kick is a ban

    assert server.api("DELETE", f"/api/v1/rooms/{rid}") == (200, {"rid": rid, "dismissed": True})
    gone = await alice.expect(b.ROOM_QUIT_NTF)  # uid 0: the room was dismissed (beehive.md §10 #7)
    assert (gone.msg.uid, gone.msg.rid) == (0, rid)
    assert server.api("GET", f"/api/v1/rooms/{rid}")[0] == 404
    assert server.api("POST", "/api/v1/rooms", {"owner": owner_uid, "rid": rid})[0] == 400  # rid stays dead
    assert server.api("POST", "/api/v1/rooms", {"owner": 99_999_999})[0] == 404
