"""TeamTalk with every landed protocol over real sockets (teamtalk.md §4.11): 1:1 with OMTP, imlc and
beehive both ways, online and offline; a group of TeamTalk, OMTP, beehive and imlc members; presence
of a beehive friend as 2/5 and of a TeamTalk user as beehive ONLINE-NTF; kicks across protocols in
each one's words; images from another protocol in the old clients' inline marker."""

from __future__ import annotations

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients import beehive as b
from tests.clients.imlc import Command, Status
from tests.clients.omtp import PT, DeviceType
from tests.clients.teamtalk import ANDROID, Body, parse
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Imlc, Omtp, TeamTalk

__all__ = ["beehive"]


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def test_one_to_one_with_omtp_both_ways(teamtalk: TeamTalk, omtp: Omtp) -> None:
    tt, _ = await teamtalk.user("to")
    o = await omtp.user("ot")
    await tt.say(o.uid, "to omtp", seq_no=1)
    _, msg = await o.expect_msg(PT.MSG_SINGLE_CHAT)
    assert (msg.from_, msg.content) == (tt.uid, "to omtp")
    assert (await o.send_single(tt.uid, "from omtp")).ok
    got = await tt.message()
    assert (got.from_id, got.to_id, got.msg_type, got.text, got.reserved) == (
        o.uid,
        tt.uid,
        0x01,
        "from omtp",
        0,
    )
    assert got.seq_no == 2  # another protocol's message carries the conversation seq (§4.4)


async def test_one_to_one_with_imlc_both_ways_and_offline(
    server: Server, teamtalk: TeamTalk, imlc: Imlc
) -> None:
    tt, _ = await teamtalk.user("ti")
    me, _ = await imlc.user("it")
    await tt.say(me.uid, "to imlc", seq_no=1)
    mn = await me.expect(Command.MN)
    assert (getattr(mn, "from"), mn.message_content.searchable_content) == (tt.uid, "to imlc")
    assert (await me.send(tt.uid, "from imlc", 5)).status == Status.OK
    assert (await tt.message()).text == "from imlc"
    # offline both ways: imlc → an offline TeamTalk user, fetched as unread after login
    off_uid, off_name = server.add_user("tio")
    assert (await me.send(str(off_uid), "while you were away", 6)).status == Status.OK
    later = await teamtalk.login(off_name)
    assert parse(await later.request(3, 7, b"", (3, 8)), "pairs") == [[(me.uid, 1)]]
    f = await later.request(3, 9, Body().s(me.uid).done(), (3, 14))
    r = f.fields()
    assert (r.s(), r.u32(), r.s()) == (me.uid, 1, me.uid)
    r.s(), r.s(), r.s(), r.u32(), r.u8()
    assert r.b() == b"while you were away"
    # TeamTalk → an offline imlc user, pulled with MP after its login
    i_uid, i_name = server.add_user("ito")
    await later.say(str(i_uid), "catch up", seq_no=1)
    back = await imlc.login(i_name)
    pulled = await back.pull(later.uid)
    assert [m.message_content.searchable_content for m in pulled.body.messages] == ["catch up"]


async def test_one_to_one_with_beehive_both_ways(teamtalk: TeamTalk, beehive: Beehive) -> None:
    tt, _ = await teamtalk.user("tb")
    bee = await beehive.user()
    await tt.say(str(bee.uid), "to beehive", seq_no=1)
    got = await bee.expect(b.CHAT)
    assert (got.msg.suid, got.msg.duid, got.msg.text) == (int(tt.uid), bee.uid, "to beehive")
    assert (await bee.chat(int(tt.uid), "from beehive")).code == 0
    m = await tt.message()
    assert (m.from_id, m.text) == (str(bee.uid), "from beehive")


async def test_a_group_of_four_protocols(
    server: Server, teamtalk: TeamTalk, omtp: Omtp, beehive: Beehive, imlc: Imlc
) -> None:
    tt, _ = await teamtalk.user("g4")
    o = await omtp.user("g4o")
    bee = await beehive.user()
    me, _ = await imlc.user("g4i")
    status, group = server.api(
        "POST",
        "/api/v1/groups",
        {"name": f"four{tt.uid}", "owner": int(tt.uid), "members": [int(o.uid), bee.uid, int(me.uid)]},
    )
    assert status == 201, group
    gid = str(group["gid"])
    await tt.wait_for((5, 18))
    await tt.say(gid, "hello all", seq_no=9, group=True)
    _, msg = await o.expect_msg(PT.MSG_GROUP_CHAT)
    assert (msg.content, msg.from_) == ("hello all", tt.uid)
    frame = await bee.expect(b.GROUP_CHAT)
    assert (frame.msg.uid, frame.msg.gid, frame.msg.text) == (int(tt.uid), int(gid), "hello all")
    mn = await me.expect(Command.MN)
    assert (mn.conversation.target, mn.message_content.searchable_content) == (gid, "hello all")
    assert (await o.send_group(f"GC_{gid}", "from omtp")).ok
    body = b.body(b.GROUP_CHAT, uid=bee.uid, gid=int(gid), level=0, time=1, text="from beehive")
    assert (await bee.request(b.GROUP_CHAT, body)).msg.code == 0
    assert (await me.send(gid, "from imlc", 1, conv_type=pb.CONVERSATION_TYPE_GROUP)).status == Status.OK
    got = sorted([(m.from_id, m.text) for m in [await tt.message() for _ in range(3)]])
    assert got == sorted([(o.uid, "from omtp"), (str(bee.uid), "from beehive"), (me.uid, "from imlc")])


async def test_presence_of_a_beehive_friend_and_of_a_teamtalk_user(
    server: Server, teamtalk: TeamTalk, beehive: Beehive
) -> None:
    bee = await beehive.user()
    t_uid, t_name = server.add_user("tp")
    await _befriend(beehive, bee, t_uid)
    tt = await teamtalk.login(t_name)
    on = await bee.expect(b.ONLINE_NTF)
    assert on.msg.uid == t_uid
    await bee.request(b.OFFLINE)
    off = await tt.wait_for((2, 5))
    assert off.reserved == 0 and parse(off, "s", "u32") == [str(bee.uid), 2]
    await beehive.login(bee.uid)
    assert parse(await tt.wait_for((2, 5)), "s", "u32") == [str(bee.uid), 1]


async def _befriend(beehive: Beehive, bee: b.BeehiveClient, t_uid: int) -> None:
    """The TeamTalk user (``t_uid``) and ``bee`` become friends through a beehive session of the
    former, which then goes offline (friends are the watchers of presence)."""
    b_other = await beehive.login(t_uid)
    assert (await bee.pair(b.FRIEND_ADD, t_uid, mark="tt")).code == 0
    await b_other.expect(b.FRIEND_ADD)
    assert (await b_other.pair(b.FRIEND_ADD, bee.uid, mark="bee")).code == 0
    await bee.expect(b.FRIEND_ADD)
    await bee.expect(b.ONLINE_NTF)
    await b_other.request(b.OFFLINE)
    await bee.expect(b.OFFLINE_NTF)


async def test_away_set_with_7_61_reaches_a_beehive_friend_and_status_queries(
    server: Server, teamtalk: TeamTalk, beehive: Beehive
) -> None:
    bee = await beehive.user()
    t_uid, t_name = server.add_user("ta")
    await _befriend(beehive, bee, t_uid)
    tt = await teamtalk.login(t_name)
    await bee.expect(b.ONLINE_NTF)
    rsv = tt.send(7, 61, Body().u32(2).u32(3).done())
    echo = await tt.wait_for((2, 5))
    assert echo.reserved == rsv and parse(echo, "s", "u32") == [str(t_uid), 3]
    away = await bee.expect(b.ONLINE_NTF)
    assert (away.msg.uid, away.msg.status) == (t_uid, 3)
    other, _ = await teamtalk.user("tq")
    asked = await other.request(2, 8, Body().s(str(t_uid)).done(), (2, 9))
    assert parse(asked, "s", "u32") == [str(t_uid), 3]
    tt.send(7, 61, Body().u32(2).u32(2).done())  # invisible: the friend sees the user go offline
    await bee.expect(b.OFFLINE_NTF)
    asked = await other.request(2, 8, Body().s(str(t_uid)).done(), (2, 9))
    assert parse(asked, "s", "u32") == [str(t_uid), 2]


async def test_kicks_across_protocols_in_each_ones_words(teamtalk: TeamTalk, omtp: Omtp, imlc: Imlc) -> None:
    o = await omtp.user("kx", device_id="pc-1", device_type=DeviceType.WINDOWS)
    name = omtp.name_of(o)
    tt = await teamtalk.login(name)  # a TeamTalk PC login ends the OMTP desktop session
    await o.expect_push(PT.KICKOUT)
    assert await o.wait_closed(3)
    await omtp.login(name, device_id="pc-2", device_type=DeviceType.WINDOWS)
    kick = await tt.wait_for((1, 7))  # and the other way: TeamTalk hears 1/7
    assert parse(kick, "u32", "u32") == [int(o.uid), 1] and await tt.wait_closed(3)
    phone = await teamtalk.login(name, client_type=ANDROID)
    mobile = await imlc.login(name, device_id="mob", device_class=pb.DEVICE_CLASS_MOBILE)
    await phone.wait_for((1, 7))
    assert await phone.wait_closed(3) and not mobile.closed
    await teamtalk.login(name, client_type=ANDROID)
    logout = await mobile.expect(Command.LOGOUT)
    assert logout.reason == pb.LOGOUT_REASON_REPLACED


async def test_a_disabled_account_is_kicked_with_1_7(server: Server, teamtalk: TeamTalk) -> None:
    tt, name = await teamtalk.user("dis")
    status, _ = server.api("POST", f"/api/v1/users/{tt.uid}/disable")
    assert status == 200
    await tt.wait_for((1, 7))
    assert await tt.wait_closed(3)
    again = await teamtalk.connect()
    assert (await again.login(name))[0] == 6
