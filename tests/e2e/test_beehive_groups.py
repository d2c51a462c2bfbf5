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
