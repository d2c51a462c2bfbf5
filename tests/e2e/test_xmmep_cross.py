"""XMMEP with the other protocols through real sockets (xmmep.md §8.6): 1:1 both ways online and
offline, groups, long text split with ``part=i/n``, and kicks in each protocol's own words."""

from __future__ import annotations

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients import beehive as b
from tests.clients.imlc import Command
from tests.clients.omtp import PT
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Imlc, Omtp, Xmmep

__all__ = ["beehive"]


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def test_xmmep_and_omtp_one_to_one_both_ways(xmmep: Xmmep, omtp: Omtp) -> None:
    alice = await xmmep.user("xo")
    bob = await omtp.user("ox")
    alice.send(170, alice.user, omtp.name_of(bob), 1, "to omtp", 0)
    _, msg = await bob.expect_msg()
    assert (msg.from_, msg.to, msg.content) == (str(alice.uid), bob.uid, "to omtp")
    assert (await bob.send_single(str(alice.uid), "from omtp")).ok
    got = await alice.expect(170)
    assert got.fields[:2] == [omtp.name_of(bob).encode(), alice.user.encode()]
    assert got.fields[3:] == [b"from omtp", b"0"]


async def test_omtp_to_offline_xmmep_arrives_after_ready(xmmep: Xmmep, omtp: Omtp, server: Server) -> None:
    uid, name = server.add_user("xoff")
    bob = await omtp.user("oof")
    assert (await bob.send_single(str(uid), "while you were out")).ok
    alice = await xmmep.login(name, ready=False)
    assert await alice.poll() is None
    await alice.ready()
    got = await alice.expect(170)
    assert got.field(0) == omtp.name_of(bob) and got.field(3) == "while you were out"


async def test_xmmep_to_offline_imlc_and_back(xmmep: Xmmep, imlc: Imlc, server: Server) -> None:
    alice = await xmmep.user("xi", ext="ack")
    _, name = server.add_user("ix")
    alice.send(170, alice.user, name, 1, "for imlc", 0)
    assert (await alice.expect(171)).field(1) == "0"  # stored (a keep-alive's answer would not say so)
    bob = await imlc.login(name)
    pulled = await bob.pull(str(alice.uid))
    assert [m.message_content.searchable_content for m in pulled.body.messages] == ["for imlc"]
    assert (await bob.send(str(alice.uid), "from imlc", message_id=1)).status == 0
    got = await alice.expect(170)
    assert (got.field(0), got.field(3)) == (name, "from imlc")


async def test_long_text_from_imlc_is_split_into_parts(xmmep: Xmmep, imlc: Imlc) -> None:
    alice = await xmmep.user("xl")
    bob, _ = await imlc.user("il")
    text = "长" * 1000  # 3000 bytes
    assert (await bob.send(str(alice.uid), text, message_id=7)).status == 0
    parts = [await alice.expect(170) for _ in range(3)]
    assert [p.ext("part") for p in parts] == ["1/3", "2/3", "3/3"]
    assert "".join(p.field(3) for p in parts) == text
    assert all(len(p.body) + 8 <= 1450 for p in parts)


async def test_beehive_and_xmmep_one_to_one(xmmep: Xmmep, beehive: Beehive, server: Server) -> None:
    alice = await xmmep.user("xb")
    b_uid, b_name = server.add_user("bx")
    bob = await beehive.login(b_uid)
    alice.send(170, alice.user, b_name, 1, "to beehive", 0)
    got = await bob.expect(b.CHAT)
    assert (got.msg.suid, got.msg.text) == (alice.uid, "to beehive")
    assert (await bob.chat(alice.uid, "from beehive")).code == 0
    assert (await alice.expect(170)).field(3) == "from beehive"


async def test_group_messages_across_protocols(xmmep: Xmmep, omtp: Omtp, imlc: Imlc, server: Server) -> None:
    alice = await xmmep.user("xg")
    bob = await omtp.user("og")
    carol, _ = await imlc.user("ig")
    carol_uid = int(carol.uid)
    name = f"cross-{alice.uid}"
    members = [int(bob.uid), carol_uid]
    status, body = server.api(
        "POST", "/api/v1/groups", {"owner": alice.uid, "name": name, "members": members}
    )
    assert status == 201, body
    gid = body["gid"]
    alice.send(170, alice.user, name, 1, "hello group", 1)
    _, msg = await bob.expect_msg(PT.MSG_GROUP_CHAT)
    assert msg.content == "hello group"
    mn = await carol.expect(Command.MN)
    assert (
        mn.conversation.type == pb.CONVERSATION_TYPE_GROUP
        and mn.message_content.searchable_content == "hello group"
    )
    assert (await bob.send_group(f"GC_{gid}", "omtp says hi")).ok
    got = await alice.expect(170)
    assert got.fields[:2] == [omtp.name_of(bob).encode(), name.encode()] and got.field(4) == "1"


async def test_kicks_in_each_protocols_words(
    xmmep: Xmmep, omtp: Omtp, imlc: Imlc, beehive: Beehive, server: Server
) -> None:
    on_omtp = await omtp.user("ko")
    await xmmep.login(omtp.name_of(on_omtp))  # an XMMEP login is desktop class: OMTP hears KICKOUT
    await on_omtp.expect_push(PT.KICKOUT)
    uid, name = server.add_user("kb")
    on_beehive = await beehive.login(uid, terminal=1)
    await xmmep.login(name)
    assert (await on_beehive.expect(b.KICK)).msg.code == 20009
    _, other = server.add_user("ki")
    first = await xmmep.login(other)
    await imlc.login(other, device_id="desk", device_class=pb.DEVICE_CLASS_DESKTOP)
    assert (await first.expect(133)).body == b"16"  # and XMMEP hears 133 16
    assert await first.wait_closed()
