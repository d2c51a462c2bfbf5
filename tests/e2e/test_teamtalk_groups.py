"""TeamTalk groups through real sockets (teamtalk.md §3.5, §4.6, §4.11): temporary groups made and
changed from TeamTalk, group chat with the group bit, unread group messages after being offline, and
normal groups made by an operator arriving as 5/18, 5/19."""

from __future__ import annotations

from tests.clients.teamtalk import Body, Frame, TeamTalkClient, parse
from tests.conftest import Server
from tests.e2e.conftest import TeamTalk


async def _temporary(owner: TeamTalkClient, name: str, members: list[str]) -> str:
    f = await owner.request(5, 12, Body().s(name).s("").ids(members).done(), (5, 13))
    result, gid, got_name, all_members = parse(f, "u32", "s", "s", "ids")
    assert (result, got_name) == (0, name) and sorted(all_members) == sorted({owner.uid, *members})
    return str(gid)


async def test_a_temporary_group_is_made_pushed_and_chatted_in(teamtalk: TeamTalk) -> None:
    a, _ = await teamtalk.user("a")
    b, _ = await teamtalk.user("b")
    c, _ = await teamtalk.user("c")
    bad = await a.request(5, 12, Body().s("nobody").s("").ids([b.uid, "99999999999"]).done(), (5, 13))
    assert parse(bad, "u32", "s", "s", "ids") == [1, "", "nobody", []]  # an unknown member: result 1
    gid = await _temporary(a, "trio", [b.uid, c.uid])
    for member in (b, c):
        push = await member.wait_for((5, 13))
        assert push.reserved == 0 and parse(push, "u32", "s")[1] == gid
    ack = await a.say(gid, "hello group", seq_no=3, group=True)
    assert parse(ack, "u32", "s") == [3, a.uid]
    for member in (b, c):
        got = await member.message()
        assert (got.from_id, got.to_id, got.msg_type, got.text, got.reserved) == (
            a.uid,
            gid,
            0x11,
            "hello group",
            0,
        )
    await a.none_of((3, 1))
    recent = await b.request(5, 16, b"", (5, 17))
    r = recent.fields()
    assert r.u32() == 1
    assert [r.s(), r.s(), r.s(), r.s(), r.u32()] == [gid, "trio", "", a.uid, 2]
    assert r.u32() > 0 and sorted(r.ids()) == sorted([a.uid, b.uid, c.uid])
    online = await b.wait_for((2, 4))  # the online members after the list, the requester excluded
    list_type, statuses = parse(online, "u16", "pairs")
    assert (list_type, sorted(statuses)) == (2, sorted([(a.uid, 1), (c.uid, 1)]))


async def test_unread_group_messages_newest_first_after_being_offline(
    server: Server, teamtalk: TeamTalk
) -> None:
    a, _ = await teamtalk.user("a")
    b_uid, b_name = server.add_user("b")
    gid = await _temporary(a, "later", [str(b_uid)])
    for n in range(1, 4):
        await a.say(gid, f"g{n}", seq_no=n, group=True)
    b = await teamtalk.login(b_name)
    assert parse(await b.request(5, 5, b"", (5, 6)), "pairs") == [[(gid, 3)]]
    f = await b.request(5, 7, Body().s(gid).done(), (5, 8))
    r = f.fields()
    assert (r.s(), r.u32()) == (gid, 3)
    got = [(r.s(), r.u32(), r.u8(), r.b().decode()) for _ in range(3)]
    assert [(sender, kind, text) for sender, _, kind, text in got] == [
        (a.uid, 0x11, "g3"),
        (a.uid, 0x11, "g2"),
        (a.uid, 0x11, "g1"),
    ]
    b.send(5, 11, Body().s(gid).done())
    assert parse(await b.request(5, 5, b"", (5, 6)), "pairs") == [[]]
    stranger, _ = await teamtalk.user("s")
    none = await stranger.request(5, 7, Body().s(gid).done(), (5, 8))
    assert parse(none, "s", "u32") == [gid, 0]
    refused = await stranger.request(5, 3, Body().s(gid).done(), (5, 4))
    assert parse(refused, "s", "u32") == [gid, 1] and len(refused.body) == 4 + len(gid) + 4


async def test_members_are_added_and_removed_with_5_14_and_told_with_5_15(teamtalk: TeamTalk) -> None:
    a, _ = await teamtalk.user("a")
    b, _ = await teamtalk.user("b")
    c, _ = await teamtalk.user("c")
    gid = await _temporary(a, "grow", [b.uid])
    await b.wait_for((5, 13))
    added = await a.request(5, 14, Body().s(gid).u32(0).ids([c.uid, b.uid]).done(), (5, 15))
    assert parse(added, "u32", "s", "u32", "ids") == [0, gid, 0, [c.uid]]  # b already in: skipped
    for member in (b, c):
        push = await member.wait_for((5, 15))
        assert push.reserved == 0 and parse(push, "u32", "s", "u32", "ids") == [0, gid, 0, [c.uid]]
    left = await c.request(5, 14, Body().s(gid).u32(1).ids([c.uid]).done(), (5, 15))
    assert parse(left, "u32", "s", "u32", "ids") == [0, gid, 1, [c.uid]]
    removal = await b.request(5, 14, Body().s(gid).u32(1).ids([a.uid]).done(), (5, 15))
    assert parse(removal, "u32", "s", "u32", "ids") == [1, gid, 1, []]  # not the creator: refused
    members = await a.request(5, 3, Body().s(gid).done(), (5, 4))
    assert sorted(_members_of(members)) == sorted([a.uid, b.uid])


def _members_of(f: Frame) -> list[str]:
    r = f.fields()
    r.s()
    assert r.u32() == 0
    r.s()
    r.s()
    r.s()
    assert r.u32() == 2
    return r.ids()


async def test_normal_groups_from_the_admin_api_arrive_as_5_18_and_5_19(
    server: Server, teamtalk: TeamTalk
) -> None:
    a, _ = await teamtalk.user("a")
    b, _ = await teamtalk.user("b")
    status, body = server.api("POST", "/api/v1/groups", {"name": f"ops-{a.uid}", "owner": int(a.uid)})
    assert status in (200, 201), body
    gid = str(body["gid"])
    created = await a.wait_for((5, 18))
    assert parse(created, "s", "s", "s", "ids") == [gid, f"ops-{a.uid}", "", [a.uid]]
    status, body = server.api("POST", f"/api/v1/groups/{gid}/members", {"uids": [int(b.uid)]})
    assert status in (200, 201, 204), body
    for member in (a, b):
        notice = await member.wait_for((5, 19))
        assert parse(notice, "s", "ids")[0] == gid and sorted(parse(notice, "s", "ids")[1]) == sorted(
            [a.uid, b.uid]
        )
    listed = await b.request(5, 1, b"", (5, 2))
    r = listed.fields()
    assert r.u32() == 1 and r.s() == gid
    status, _ = server.api("DELETE", f"/api/v1/groups/{gid}")
    assert status in (200, 204)
    gone = await b.wait_for((5, 19))
    assert parse(gone, "s", "ids") == [gid, []]


async def test_only_the_owner_changes_a_normal_groups_members_with_5_14(
    server: Server, teamtalk: TeamTalk
) -> None:
    a, _ = await teamtalk.user("a")
    b, _ = await teamtalk.user("b")
    c, _ = await teamtalk.user("c")
    status, body = server.api(
        "POST", "/api/v1/groups", {"name": f"norm-{a.uid}", "owner": int(a.uid), "members": [int(b.uid)]}
    )
    assert status in (200, 201), body
    gid = str(body["gid"])
    refused = await b.request(5, 14, Body().s(gid).u32(0).ids([c.uid]).done(), (5, 15))
    assert parse(refused, "u32", "s", "u32", "ids") == [1, gid, 0, []]  # a plain member may not add
    self_join = await c.request(5, 14, Body().s(gid).u32(0).ids([c.uid]).done(), (5, 15))
    assert parse(self_join, "u32", "s", "u32", "ids") == [1, gid, 0, []]  # nor a stranger himself
    await c.none_of((5, 15))
    added = await a.request(5, 14, Body().s(gid).u32(0).ids([c.uid]).done(), (5, 15))
    assert parse(added, "u32", "s", "u32", "ids") == [0, gid, 0, [c.uid]]
    for member in (b, c):  # a 5/14's change is told as 5/15, not as the 5/19 of outside changes
        push = await member.wait_for((5, 15))
        assert push.reserved == 0 and parse(push, "u32", "s", "u32", "ids") == [0, gid, 0, [c.uid]]
    await b.none_of((5, 19))
    kick = await b.request(5, 14, Body().s(gid).u32(1).ids([c.uid]).done(), (5, 15))
    assert parse(kick, "u32", "s", "u32", "ids") == [1, gid, 1, []]
    members = await a.request(5, 3, Body().s(gid).done(), (5, 4))
    r = members.fields()
    assert (r.s(), r.u32(), r.s(), r.s(), r.s(), r.u32()) == (gid, 0, f"norm-{a.uid}", "", a.uid, 1)
    assert sorted(r.ids()) == sorted([a.uid, b.uid, c.uid])
