"""OMTP groups end to end (omtp.md §5.3, §5.9): create, chat, membership changes, owner, info,
dismiss, with the 25 SYNC_DATA_CMD notifications and the error codes a client sees."""

from __future__ import annotations

import pytest

from tests.clients.omtp import (
    HIGHPRJ,
    PT,
    REVOKE,
    DeviceType,
    GroupChatInfo,
    MsgControl,
    MsgCtlCmd,
    OmtpClient,
    SyncCmd,
    typed,
)
from tests.conftest import Server
from tests.e2e.conftest import Omtp, nothing


@pytest.fixture(scope="module")
def server(shared_server: Server) -> Server:
    return shared_server


async def expect_sync(client: OmtpClient, command: int, content: str) -> None:
    _, sync = await client.expect_sync()
    assert (sync.command, sync.content) == (command, content)


async def make_group(owner: OmtpClient, *members: OmtpClient, name: str = "", limit: int = 0) -> str:
    resp = await owner.group_create(name, members=[m.uid for m in members], member_limit=limit)
    assert resp.ok, resp
    for m in members:
        await expect_sync(m, SyncCmd.GROUP, resp.group_id)
    return resp.group_id


async def test_create_sync_and_chat(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    alice_phone = await omtp.login(omtp.name_of(alice), device_id="ph-1", device_type=DeviceType.IOS)
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    dave = await omtp.user("dave")

    created = await alice.group_create(
        f"team-{alice.uid}", members=[bob.uid, carol.uid], avatar="http://a/x.png", desc="the team"
    )
    assert created.ok and created.group_id.startswith("GC_")
    gid = created.group_id
    for m in (bob, carol, alice_phone):
        await expect_sync(m, SyncCmd.GROUP, gid)
    await nothing(alice)
    await nothing(dave)

    for member in (alice, bob, carol):
        sync = await member.group_sync(0)
        assert sync.ok and gid in sync.group_ids and sync.timestamp > 0
        info = next(g for g in sync.group_chats if g.group_id == gid)
        assert (info.name, info.creator_id, info.avatar, info.desc) == (
            f"team-{alice.uid}",
            alice.uid,
            "http://a/x.png",
            "the team",
        )
        assert info.member_limit == 1000 and info.create_time > 0
    later = await alice.group_sync(sync.timestamp + 1)
    assert later.group_chats == [] and gid in later.group_ids
    assert gid not in (await dave.group_sync(0)).group_ids

    members = await bob.group_members(gid)
    assert members.ok and members.group_id == gid
    assert members.member_ids == [alice.uid, *sorted((bob.uid, carol.uid), key=int)]

    ack = await alice.send_group(gid, "hi all", pack_id="g-1")
    assert ack.ok and ack.seq_id == 1 and ack.session_id == gid
    for m in (bob, carol, alice_phone):
        header, msg = await m.expect_msg(PT.MSG_GROUP_CHAT)
        assert header.pack_id == "g-1"
        assert (msg.session_id, msg.from_, msg.to, msg.content, msg.seq_id) == (
            gid,
            alice.uid,
            gid,
            "hi all",
            1,
        )
    await nothing(alice)
    await nothing(dave)

    reply = await bob.send_group(gid, "hello", pack_id="g-2")
    assert reply.ok and reply.seq_id == 2
    for m in (alice, carol):
        _, msg = await m.expect_msg(PT.MSG_GROUP_CHAT)
        assert (msg.from_, msg.seq_id) == (bob.uid, 2)

    # unread counts and read state per member
    item = (await carol.hot_sessions()).session(gid)
    assert item is not None and (item.unread_count, item.read_seq_id) == (2, 0)
    assert item.last_msgs[0].msg.content == "hello"
    assert (await carol.read(gid, 1)).ok
    item = (await carol.hot_sessions()).session(gid)
    assert item is not None and item.unread_count == 1
    item = (await bob.hot_sessions()).session(gid)
    assert item is not None and item.unread_count == 0  # sending moved bob's read cursor to 2

    history = await carol.history(gid)
    assert [(p.header.type, p.msg.seq_id) for p in history.msgs] == [(15, 2), (15, 1)]


async def test_outsiders_and_unknown_groups(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    dave = await omtp.user("dave")
    gid = await make_group(alice, bob)

    refused = await dave.send_group(gid, "let me in")
    assert refused.code == 30 and refused.session_id == gid
    await nothing(bob)
    assert (await dave.send_group("GC_987654321", "anyone?")).code == 35
    assert (await dave.send_group("", "anyone?", session_id="x")).code == 31
    assert (await dave.send_group("general", "anyone?")).code == 35
    assert (await alice.send_group(gid, "")).code == 40

    denied = await dave.history(gid)
    assert denied.code == 28 and denied.session_id == gid
    assert (await dave.read(gid, 1)).code == 28
    assert (await dave.monitor_start(gid)).code == 23
    assert (await dave.group_members(gid)).code == 30
    assert (await dave.group_members("")).code == 31
    assert (await dave.group_members("GC_987654321")).code == 35
    assert (await bob.history(gid)).ok


async def test_join_and_quit(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    dave = await omtp.user("dave")
    dave_phone = await omtp.login(omtp.name_of(dave), device_id="ph-1", device_type=DeviceType.IOS)
    erin = await omtp.user("erin")
    frank = await omtp.user("frank")
    gid = await make_group(alice, bob, carol)

    # a non-member may add only itself (the group is open)
    assert (await dave.group_join(gid, [frank.uid])).code == 33
    assert (await dave.group_join(gid, [dave.uid])).ok
    for m in (alice, bob, carol):
        await expect_sync(m, SyncCmd.GROUPMEMBER, gid)
    await expect_sync(dave_phone, SyncCmd.GROUP, gid)
    await nothing(dave)
    assert dave.uid in (await alice.group_members(gid)).member_ids

    # a member may invite; the invited user learns it through 25 GROUP
    assert (await bob.group_join(gid, [erin.uid])).ok
    await expect_sync(erin, SyncCmd.GROUP, gid)
    for m in (alice, carol, dave, dave_phone):
        await expect_sync(m, SyncCmd.GROUPMEMBER, gid)
    await nothing(bob)
    assert (await bob.group_join(gid, [erin.uid])).ok  # already a member: ignored
    assert (await bob.group_join(gid, [])).code == 2
    assert (await bob.group_join("", [frank.uid])).code == 31
    assert (await bob.group_join("GC_987654321", [frank.uid])).code == 35
    assert (await bob.group_join(gid, ["999999999"])).code == 30
    await nothing(alice)

    # quitting: oneself yes, others only by owner/manager, the owner never
    assert (await bob.group_quit(gid, [carol.uid])).code == 33
    assert (await alice.group_quit(gid, [alice.uid])).code == 36
    assert (await alice.group_quit(gid, [frank.uid])).code == 30
    assert (await alice.group_quit(gid, [])).code == 2
    assert (await carol.group_quit(gid, [carol.uid])).ok
    for m in (alice, bob, dave, dave_phone, erin):
        await expect_sync(m, SyncCmd.GROUPMEMBER, gid)
    assert (await carol.send_group(gid, "still here?")).code == 30
    assert gid not in (await carol.group_sync(0)).group_ids

    assert (await alice.group_quit(gid, [erin.uid])).ok
    await expect_sync(erin, SyncCmd.GROUP, gid)
    for m in (bob, dave, dave_phone):
        await expect_sync(m, SyncCmd.GROUPMEMBER, gid)
    assert (await erin.send_group(gid, "hello?")).code == 30

    # seed layout of 43 with operatorId; a forged operatorId is refused
    assert (await bob.group_quit_seed(gid, [bob.uid], operator_id=dave.uid)).code == 23
    assert (await bob.group_quit_seed(gid, [bob.uid])).ok
    for m in (alice, dave, dave_phone):
        await expect_sync(m, SyncCmd.GROUPMEMBER, gid)
    members = (await alice.group_members(gid)).member_ids
    assert members == [alice.uid, dave.uid]


async def test_member_limit(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    too_many = await alice.group_create("", members=[bob.uid, carol.uid], member_limit=2)
    assert too_many.code == 34
    await nothing(bob)

    gid = await make_group(alice, bob, limit=2)
    assert (await alice.group_join(gid, [carol.uid])).code == 34
    info = GroupChatInfo(group_id=gid, member_limit=1)
    assert (await alice.group_info_update(info)).code == 34
    assert (await alice.group_info_update(GroupChatInfo(group_id=gid, member_limit=3))).ok
    await expect_sync(bob, SyncCmd.GROUPINFO, gid)
    assert (await alice.group_join(gid, [carol.uid])).ok
    sync = await carol.group_sync(0)
    assert next(g for g in sync.group_chats if g.group_id == gid).member_limit == 3


async def test_owner_change_info_update_and_dismiss(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    dave = await omtp.user("dave")
    gid = await make_group(alice, bob, carol, name=f"club-{alice.uid}")

    # info update: owner or manager only; the name is unique
    assert (await bob.group_info_update(GroupChatInfo(group_id=gid, name="mine"))).code == 36
    assert (
        await alice.group_info_update(GroupChatInfo(group_id=gid, name="x"), operator_id=bob.uid)
    ).code == 23
    assert (await alice.group_info_update(GroupChatInfo(group_id="", name="x"))).code == 31
    assert (await alice.group_info_update(GroupChatInfo(group_id="GC_987654321", name="x"))).code == 35
    new = GroupChatInfo(group_id=gid, name=f"club2-{alice.uid}", desc="new desc")
    assert (await alice.group_info_update(new)).ok
    for m in (bob, carol):
        await expect_sync(m, SyncCmd.GROUPINFO, gid)
    info = next(g for g in (await bob.group_sync(0)).group_chats if g.group_id == gid)
    assert (info.name, info.desc) == (f"club2-{alice.uid}", "new desc")
    assert info.update_time >= info.create_time
    other = await alice.group_create(f"other-{alice.uid}")
    assert other.ok
    clash = GroupChatInfo(group_id=gid, name=f"other-{alice.uid}")
    assert (await alice.group_info_update(clash)).code == 2

    # owner change: owner only, new owner must be a member, old owner stays a member
    assert (await bob.group_update_creator(gid, carol.uid)).code == 36
    assert (await alice.group_update_creator(gid, dave.uid)).code == 30
    assert (await alice.group_update_creator(gid, bob.uid, operator_id=carol.uid)).code == 23
    assert (await alice.group_update_creator(gid, bob.uid)).ok
    for m in (bob, carol):
        await expect_sync(m, SyncCmd.GROUPINFO, gid)
    members = (await carol.group_members(gid)).member_ids
    assert members[0] == bob.uid and alice.uid in members
    info = next(g for g in (await carol.group_sync(0)).group_chats if g.group_id == gid)
    assert info.creator_id == bob.uid
    assert (await alice.group_quit(gid, [alice.uid])).ok  # no longer the owner: may leave
    await expect_sync(bob, SyncCmd.GROUPMEMBER, gid)
    await expect_sync(carol, SyncCmd.GROUPMEMBER, gid)

    # dismiss: owner only
    assert (await carol.group_dismiss(gid)).code == 36
    assert (await bob.group_dismiss(gid, operator_id=carol.uid)).code == 23
    assert (await bob.group_dismiss("")).code == 31
    assert (await bob.group_dismiss(gid)).ok
    await expect_sync(carol, SyncCmd.GROUP, gid)
    await nothing(alice)  # no longer a member
    assert gid not in (await carol.group_sync(0)).group_ids
    assert (await carol.send_group(gid, "anyone?")).code == 35
    assert (await bob.group_members(gid)).code == 35
    assert (await bob.group_dismiss(gid)).code == 35


async def test_group_recall_by_owner_and_priority(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    carol = await omtp.user("carol")
    gid = await make_group(alice, bob, carol)

    ack = await bob.send_group(gid, "oops", pack_id="gp-1", flags=HIGHPRJ)
    assert ack.ok
    for m in (alice, carol):
        header, _ = await m.expect_msg(PT.MSG_GROUP_CHAT)
        assert header.flags & HIGHPRJ
    # HIGHPRJ group messages are queued per member (not for the sender)
    for m in (alice, carol):
        sync = await m.priority_sync(0)
        assert [(p.header.pack_id, p.msg.session_id) for p in sync.msgs] == [("gp-1", gid)]
    assert (await bob.priority_sync(0)).msgs == []

    # a plain member cannot recall someone else's message; the owner can
    assert (await carol.control(MsgCtlCmd.REVOKE, gid, "gp-1", ack.seq_id)).code == 43
    assert (await alice.control(MsgCtlCmd.OVERRIDE, gid, "gp-1", ack.seq_id, "nope")).code == 43
    assert (await alice.control(MsgCtlCmd.REVOKE, gid, "gp-1", ack.seq_id)).ok
    for m in (bob, carol):
        _, payload = await m.expect_push(PT.MSG_CTRL)
        ctl = typed(MsgControl, payload)
        assert (ctl.command, ctl.session_id, ctl.pack_id, ctl.seq_id) == (1, gid, "gp-1", ack.seq_id)
    pack = (await carol.history(gid)).msgs[0]
    assert pack.header.flags & REVOKE and pack.msg.content == ""


async def test_create_refusals_and_operator_view(omtp: Omtp) -> None:
    alice = await omtp.user("alice")
    bob = await omtp.user("bob")
    op = await omtp.user("op", operator=True)
    assert (await alice.group_create("", creator=bob.uid, members=[bob.uid])).code == 23
    assert (await alice.group_create("", members=[bob.uid, "999999999"])).code == 30
    await nothing(bob)
    # the creator is added even when not listed; an empty name becomes the groupId
    created = await alice.group_create("", creator="", members=[bob.uid, bob.uid])
    assert created.ok
    gid = created.group_id
    await expect_sync(bob, SyncCmd.GROUP, gid)
    info = next(g for g in (await bob.group_sync(0)).group_chats if g.group_id == gid)
    assert (info.name, info.creator_id) == (gid, alice.uid)
    assert (await alice.group_members(gid)).member_ids == [alice.uid, bob.uid]

    # an operator may list members, read history and listen in, without being a member
    assert (await op.group_members(gid)).member_ids == [alice.uid, bob.uid]
    assert (await op.monitor_start(gid)).ok
    ack = await bob.send_group(gid, "psst")
    _, msg = await op.expect_msg(PT.MSG_GROUP_CHAT)
    assert (msg.session_id, msg.content, msg.seq_id) == (gid, "psst", ack.seq_id)
    assert [p.msg.content for p in (await op.history(gid)).msgs] == ["psst"]
    assert (await op.send_group(gid, "hello")).code == 30  # listening is not membership
    item = (await op.monitor_sync()).session(gid)
    assert item is not None and (item.read_seq_id, item.unread_count) == (ack.seq_id, 0)
