"""TeamTalk with every landed protocol over real sockets (teamtalk.md §4.11): 1:1 with OMTP, imlc and
beehive both ways, online and offline; a group of TeamTalk, OMTP, beehive and imlc members; presence
of a beehive friend as 2/5 and of a TeamTalk user as beehive ONLINE-NTF; kicks across protocols in
each one's words; images from another protocol in the old clients' inline marker."""

from __future__ import annotations

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients import beehive as b
from tests.clients.imlc import Command, Status
from tests.clients.omtp import PT, DeviceType, single_session_id
from tests.clients.teamtalk import ANDROID, Body, parse
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Imlc, Omtp, TeamTalk, Xmmep
from tests.e2e.test_xmmep_chat import buddies

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


async def test_a_group_of_five_protocols(
    server: Server, teamtalk: TeamTalk, omtp: Omtp, beehive: Beehive, imlc: Imlc, xmmep: Xmmep
) -> None:
    tt, _ = await teamtalk.user("g5")
    o = await omtp.user("g5o")
    bee = await beehive.user()
    me, _ = await imlc.user("g5i")
    x = await xmmep.user("g5x")
    name = f"five{tt.uid}"
    members = [int(o.uid), bee.uid, int(me.uid), x.uid]
    status, group = server.api(
        "POST", "/api/v1/groups", {"name": name, "owner": int(tt.uid), "members": members}
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
    room = await x.expect(170)  # XMMEP names the group by its name and the sender by username
    assert (room.field(1), room.field(3)) == (name, "hello all")
    assert (await o.send_group(f"GC_{gid}", "from omtp")).ok
    body = b.body(b.GROUP_CHAT, uid=bee.uid, gid=int(gid), level=0, time=1, text="from beehive")
    assert (await bee.request(b.GROUP_CHAT, body)).msg.code == 0
    assert (await me.send(gid, "from imlc", 1, conv_type=pb.CONVERSATION_TYPE_GROUP)).status == Status.OK
    x.send(170, x.user, name, 1, "from xmmep", 1)
    got = sorted([(m.from_id, m.to_id, m.msg_type, m.text) for m in [await tt.message() for _ in range(4)]])
    assert got == sorted(
        (sender, gid, 0x11, text)
        for sender, text in (
            (o.uid, "from omtp"),
            (str(bee.uid), "from beehive"),
            (me.uid, "from imlc"),
            (str(x.uid), "from xmmep"),
        )
    )


async def test_one_to_one_with_xmmep_and_offline_both_ways_with_every_protocol(
    server: Server, teamtalk: TeamTalk, omtp: Omtp, beehive: Beehive, imlc: Imlc, xmmep: Xmmep
) -> None:
    tt, tt_name = await teamtalk.user("tx")
    x = await xmmep.user("xt")
    await tt.say(str(x.uid), "to xmmep", seq_no=1)
    got = await x.expect(170)
    assert (got.field(0), got.field(3)) == (tt_name, "to xmmep")
    x.send(170, x.user, tt_name, 1, "from xmmep", 0)
    assert ((m := await tt.message()).from_id, m.text) == (str(x.uid), "from xmmep")
    # TeamTalk to users of every other protocol while they are offline, read after their login
    away = {p: server.add_user(f"o{p[0]}") for p in ("omtp", "beehive", "imlc", "xmmep")}
    for n, (uid, _) in enumerate(away.values(), start=2):
        await tt.say(str(uid), "while you were out", seq_no=n)
    o = await omtp.login(away["omtp"][1])
    page = await o.history(single_session_id(tt.uid, str(away["omtp"][0])), 0, 10)
    assert [p.msg.content for p in page.msgs] == ["while you were out"]
    bee = await beehive.login(away["beehive"][0])
    frames, _ = await bee.sync()
    assert [f.msg.text for f in frames if f.type == b.CHAT] == ["while you were out"]
    me = await imlc.login(away["imlc"][1])
    pulled = await me.pull(tt.uid)
    assert [m.message_content.searchable_content for m in pulled.body.messages] == ["while you were out"]
    xa = await xmmep.login(away["xmmep"][1])
    assert (await xa.expect(170)).field(3) == "while you were out"
    # and from each of them to a TeamTalk user who is offline, fetched as unread after the login
    off_uid, off_name = server.add_user("toff")
    assert (await o.send_single(str(off_uid), "from omtp")).ok
    assert (await bee.chat(off_uid, "from beehive")).code == 0
    assert (await me.send(str(off_uid), "from imlc", 9)).status == Status.OK
    xa.send(170, xa.user, off_name, 1, "from xmmep", 0)
    xa.send(200, xa.user)  # a round trip: the 170 before it is stored
    await xa.expect(200)
    later = await teamtalk.login(off_name)
    senders = {
        o.uid: "from omtp",
        str(bee.uid): "from beehive",
        me.uid: "from imlc",
        str(away["xmmep"][0]): "from xmmep",
    }
    assert sorted(parse(await later.request(3, 7, b"", (3, 8)), "pairs")[0]) == sorted(
        (u, 1) for u in senders
    )
    for uid, text in senders.items():
        r = (await later.request(3, 9, Body().s(uid).done(), (3, 14))).fields()
        assert (r.s(), r.u32(), r.s()) == (uid, 1, uid)
        _name, _nick, _avatar, _time, kind = r.s(), r.s(), r.s(), r.u32(), r.u8()
        assert (kind, r.b().decode()) == (0x01, text)


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


async def test_one_to_one_peers_and_small_group_members_watch_presence_in_teamtalk_only(
    server: Server, teamtalk: TeamTalk, imlc: Imlc, beehive: Beehive
) -> None:
    """§4.7: watchers are friends, 1:1 peers and members of groups of at most presence_group_max; a
    protocol that shows friends' presence only (beehive) hears nothing of a mere peer."""
    tt, _ = await teamtalk.user("wa")
    peer_uid, peer_name = server.add_user("wb")
    member_uid, member_name = server.add_user("wc")
    bee = await beehive.user()
    chatter = await teamtalk.login(peer_name, client_type=ANDROID)  # a 1:1 with tt: the peer writes first
    await chatter.say(tt.uid, "hello", seq_no=1)
    await chatter.close()
    assert parse(await tt.wait_for((2, 5)), "s", "u32") == [str(peer_uid), 2]  # the peer left
    status, _ = server.api(
        "POST",
        "/api/v1/groups",
        {"name": f"w{tt.uid}", "owner": int(tt.uid), "members": [member_uid, bee.uid]},
    )
    assert status == 201
    peer = await imlc.login(peer_name)  # a peer comes online in another protocol
    assert parse(await tt.wait_for((2, 5)), "s", "u32") == [str(peer_uid), 1]
    await imlc.login(member_name)  # and a member of a small group
    assert parse(await tt.wait_for((2, 5)), "s", "u32") == [str(member_uid), 1]
    await peer.close()
    assert parse(await tt.wait_for((2, 5)), "s", "u32") == [str(peer_uid), 2]
    assert await bee.no_push(b.ONLINE_NTF) and await bee.no_push(b.OFFLINE_NTF)  # not bee's friends


async def test_presence_of_a_teamtalk_user_in_xmmeps_words(
    server: Server, teamtalk: TeamTalk, xmmep: Xmmep
) -> None:
    """An XMMEP buddy hears a TeamTalk user log in (130), go away with 7/61 (136, XMMEP's 2 = away) and
    log out (136, 3 = offline), as xmmep.md §3.6 words them."""
    x = await xmmep.user("xw")
    _, t_name = server.add_user("tw")
    t_as_x = await xmmep.login(t_name)  # the buddy dance needs an XMMEP session of the TeamTalk user
    await buddies(x, t_as_x)
    await t_as_x.close()
    assert (await x.expect(136)).fields[1:] == [t_name.encode(), b"3"]
    tt = await teamtalk.login(t_name)
    login = await x.expect(130)
    assert login.field(0) == x.user and login.items(1)[0][0] == t_name
    tt.send(7, 61, Body().u32(2).u32(3).done())
    assert (await x.expect(136)).fields == [x.user.encode(), t_name.encode(), b"2"]
    await tt.close()
    assert (await x.expect(136)).fields == [x.user.encode(), t_name.encode(), b"3"]
