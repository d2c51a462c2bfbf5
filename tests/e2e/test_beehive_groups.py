"""beehive groups over real sockets: GROUP-CREAT (gid via GROUP-JOIN-NTF), JOIN, INVITE, USR-LIST,
GROUP-CHAT between beehive and OMTP members, QUIT (beehive.md §4.3)."""

from __future__ import annotations

import json
import time

from tests.clients import beehive as b
from tests.clients.omtp import PT
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]


async def test_group_life_across_protocols(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    owner = await beehive.user()
    joiner = await beehive.user(ws=True)
    o = await omtp.user("om")

    creat = await owner.request(
        b.GROUP_CREAT, b.body(b.GROUP_CREAT, uid=owner.uid, gid=0, name=f"g{time.time_ns()}", desc="d")
    )
    assert creat.type == b.GROUP_CREAT_ACK and creat.msg.code == 0
    ntf = await owner.expect(b.GROUP_JOIN_NTF)
    assert ntf.header.seq == creat.header.seq and ntf.msg.uid == owner.uid
    gid = ntf.msg.gid
    assert gid > 0

    join = await joiner.request(b.GROUP_JOIN, b.body(b.GROUP_JOIN, uid=joiner.uid, gid=gid))
    assert join.msg.code == 0
    seen = await owner.expect(b.GROUP_JOIN_NTF)
    assert (seen.msg.uid, seen.msg.gid) == (joiner.uid, gid)

    invite = await owner.request(
        b.GROUP_INVITE, b.body(b.GROUP_INVITE, uid=owner.uid, gid=gid, to=int(o.uid))
    )
    assert invite.msg.code == 0

    listing = await joiner.request(b.GROUP_USR_LIST, b.body(b.GROUP_USR_LIST, gid=gid, num=0))
    assert listing.type == b.GROUP_USR_LIST_ACK
    members = json.loads(listing.msg.list)
    assert members["len"] == 3 and members["list"][0] == {"idx": 0, "uid": owner.uid, "role": 1}

    chat = await owner.request(
        b.GROUP_CHAT, b.body(b.GROUP_CHAT, uid=owner.uid, gid=gid, level=0, time=1, text="hi all")
    )
    assert chat.type == b.GROUP_CHAT_ACK and chat.msg.code == 0
    got = await joiner.expect(b.GROUP_CHAT)
    assert (got.msg.uid, got.msg.gid, got.msg.text) == (owner.uid, gid, "hi all") and got.header.seq >= 1
    _, msg = await o.expect_msg(PT.MSG_GROUP_CHAT)
    assert msg.content == "hi all"

    ack = await o.send_group(f"GC_{gid}", "from omtp")
    assert ack.ok
    for client in (owner, joiner):
        frame = await client.expect(b.GROUP_CHAT)
        assert (frame.msg.uid, frame.msg.text) == (int(o.uid), "from omtp")

    outsider = await beehive.user()
    refused = await outsider.request(
        b.GROUP_CHAT, b.body(b.GROUP_CHAT, uid=outsider.uid, gid=gid, level=0, time=1, text="x")
    )
    assert refused.msg.code == 10005
    unknown = await outsider.request(b.GROUP_USR_LIST, b.body(b.GROUP_USR_LIST, gid=gid, num=0))
    assert unknown.type == b.ERROR and unknown.msg.code == 10005

    quit_ = await joiner.request(b.GROUP_QUIT, b.body(b.GROUP_QUIT, uid=joiner.uid, gid=gid))
    assert quit_.msg.code == 0
    left = await owner.expect(b.GROUP_QUIT_NTF)
    assert left.msg.uid == joiner.uid


async def test_group_messages_replayed_by_sync(server: Server, beehive: Beehive) -> None:
    owner = await beehive.user()
    m_uid, _ = server.add_user("bh")
    creat = await owner.request(
        b.GROUP_CREAT, b.body(b.GROUP_CREAT, uid=owner.uid, gid=0, name=f"s{time.time_ns()}", desc="")
    )
    assert creat.msg.code == 0
    gid = (await owner.expect(b.GROUP_JOIN_NTF)).msg.gid
    invite = await owner.request(b.GROUP_INVITE, b.body(b.GROUP_INVITE, uid=owner.uid, gid=gid, to=m_uid))
    assert invite.msg.code == 0
    for text in ("one", "two"):
        body = b.body(b.GROUP_CHAT, uid=owner.uid, gid=gid, level=0, time=1, text=text)
        assert (await owner.request(b.GROUP_CHAT, body)).msg.code == 0
    member = await beehive.login(m_uid)
    frames, _ = await member.sync()
    assert [f.msg.text for f in frames if f.type == b.GROUP_CHAT] == ["one", "two"]
    frames, _ = await member.sync()
    assert [f for f in frames if f.type == b.GROUP_CHAT] == []


async def test_manager_and_gag_notifications_reach_members(
    server: Server, beehive: Beehive, omtp: Omtp
) -> None:
    owner = await beehive.user()
    mgr = await beehive.user()
    member = await beehive.user(ws=True)
    o = await omtp.user("om")
    gid = await owner.create_group(f"m{time.time_ns()}")
    for client in (mgr, member):
        assert (await client.group(b.GROUP_JOIN, gid)).msg.code == 0
    assert (await owner.group(b.GROUP_INVITE, gid, to=int(o.uid))).msg.code == 0

    add = await owner.group(b.GROUP_MGR_ADD, gid, uid=mgr.uid)
    assert (add.type, add.msg.code) == (b.GROUP_MGR_ADD_ACK, 0)
    own = await owner.expect(b.GROUP_MGR_ADD_NTF)  # the actor's copy carries the request's seq
    assert (own.msg.uid, own.msg.gid, own.header.seq) == (mgr.uid, gid, add.header.seq)
    for client in (mgr, member):
        ntf = await client.expect(b.GROUP_MGR_ADD_NTF)
        assert (ntf.msg.uid, ntf.msg.gid, ntf.header.seq) == (mgr.uid, gid, 0)
    _, sync = await o.expect_sync()  # OMTP members hear of it in their own words
    assert sync.content == f"GC_{gid}"
    refused = await mgr.group(b.GROUP_MGR_ADD, gid, uid=member.uid)
    assert (refused.msg.code, refused.msg.errmsg) == (10005, "You're not group owner!")

    gag = await mgr.group(b.GROUP_GAG_ADD, gid, uid=member.uid)  # a manager may gag a member
    assert gag.msg.code == 0
    for client in (owner, member):
        assert (await client.expect(b.GROUP_GAG_ADD_NTF)).msg.uid == member.uid
    chat = b.body(b.GROUP_CHAT, uid=member.uid, gid=gid, level=0, time=1, text="hm")
    assert (await member.request(b.GROUP_CHAT, chat)).msg.errmsg == "You're gagged!"
    assert (await mgr.group(b.GROUP_GAG_ADD, gid, uid=owner.uid)).msg.code == 10005  # not the owner
    assert (await mgr.group(b.GROUP_GAG_DEL, gid, uid=member.uid)).msg.code == 0
    assert (await member.expect(b.GROUP_GAG_DEL_NTF)).msg.uid == member.uid
    assert (await member.request(b.GROUP_CHAT, chat)).msg.code == 0

    assert (await owner.group(b.GROUP_GAG_ADD, gid, uid=0)).msg.code == 0  # mute-all
    assert (await member.expect(b.GROUP_GAG_ADD_NTF)).msg.uid == 0
    assert (await member.request(b.GROUP_CHAT, chat)).msg.code == 10005
    mgr_chat = b.body(b.GROUP_CHAT, uid=mgr.uid, gid=gid, level=0, time=1, text="managers speak")
    assert (await mgr.request(b.GROUP_CHAT, mgr_chat)).msg.code == 0

    delete = await owner.group(b.GROUP_MGR_DEL, gid, uid=mgr.uid)
    assert delete.msg.code == 0
    assert (await member.expect(b.GROUP_MGR_DEL_NTF)).msg.uid == mgr.uid
    assert (await mgr.request(b.GROUP_CHAT, mgr_chat)).msg.code == 10005  # a member again, under mute-all


async def test_group_blacklist_enforced(server: Server, beehive: Beehive, omtp: Omtp) -> None:
    owner = await beehive.user()
    member = await beehive.user()
    watcher = await beehive.user()
    o = await omtp.user("om")
    gid = await owner.create_group(f"bl{time.time_ns()}")
    for client in (member, watcher):
        assert (await client.group(b.GROUP_JOIN, gid)).msg.code == 0

    ban = await owner.group(b.GROUP_BL_ADD, gid, uid=member.uid)
    assert (ban.type, ban.msg.code, ban.msg.errmsg) == (b.GROUP_BL_ADD_ACK, 0, "Ok")
    own = await owner.expect(b.GROUP_BL_ADD_NTF)
    assert own.header.seq == ban.header.seq and own.msg.uid == member.uid
    for client in (member, watcher):  # the banned user included; no separate KICK-NTF
        assert (await client.expect(b.GROUP_BL_ADD_NTF)).msg.uid == member.uid
    assert await watcher.no_push(b.GROUP_KICK_NTF, 0.3)
    listing = await owner.request(b.GROUP_USR_LIST, b.body(b.GROUP_USR_LIST, gid=gid, num=0))
    assert member.uid not in [m["uid"] for m in json.loads(listing.msg.list)["list"]]

    rejoin = await member.group(b.GROUP_JOIN, gid)
    assert (rejoin.msg.code, rejoin.msg.errmsg) == (10005, "User is in blacklist!")
    invite = await watcher.group(b.GROUP_INVITE, gid, to=member.uid)
    assert invite.msg.code == 10005
    chat = b.body(b.GROUP_CHAT, uid=member.uid, gid=gid, level=0, time=1, text="let me in")
    assert (await member.request(b.GROUP_CHAT, chat)).msg.code == 10005
    omtp_join = await o.group_join(f"GC_{gid}", [o.uid])  # OMTP obeys the same ban
    assert omtp_join.ok  # o is not banned
    assert (await owner.group(b.GROUP_BL_ADD, gid, uid=int(o.uid))).msg.code == 0
    assert not (await o.group_join(f"GC_{gid}", [o.uid])).ok

    assert (await watcher.group(b.GROUP_BL_ADD, gid, uid=owner.uid)).msg.code == 10005  # not a manager
    assert (await owner.group(b.GROUP_BL_ADD, gid, uid=999_999_999)).msg.code == 10013
    assert (await owner.group(b.GROUP_BL_ADD, 999_999_999, uid=member.uid)).msg.code == 20007

    lift = await owner.group(b.GROUP_BL_DEL, gid, uid=member.uid)
    assert lift.msg.code == 0
    assert (await member.expect(b.GROUP_BL_DEL_NTF)).msg.uid == member.uid
    assert (await member.group(b.GROUP_JOIN, gid)).msg.code == 0
