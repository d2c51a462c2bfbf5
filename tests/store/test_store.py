"""The store contract, run against every backend of :data:`tests.store.support.BACKENDS`: accounts,
messages and their seqs, dedup, cursors, relations, groups, update records, idempotency, durability of
acknowledged writes, and a failing write in a batch failing alone."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from polyim.model import (
    AccountUpdate,
    Control,
    ControlCmd,
    ConvId,
    Group,
    GroupKind,
    GroupRole,
    GroupUpdate,
    MsgStatus,
    OfflineFile,
    Role,
    RoomList,
    RoomRecord,
    RoomUser,
    changed_fields,
)
from polyim.store.base import Conflict, Store
from tests.store.support import P_AB, P_AC, A, B, Backend, C, append, new_msg


async def test_accounts_uid_sequence_explicit_uids_and_conflicts(store: Store) -> None:
    a = await store.create_account("alice", "hash-a", nickname="Al", email="a@x", role=Role.OPERATOR)
    b = await store.create_account("bob", "hash-b")
    assert (a.uid, b.uid) == (10000, 10001)
    assert a.nickname == "Al" and a.email == "a@x" and a.role is Role.OPERATOR and a.activated
    assert await store.get_password_hash(a.uid) == "hash-a"
    assert await store.get_account(a.uid) == a
    assert await store.get_account_by_name("bob") == b
    assert await store.get_account(99) is None

    big = await store.create_account("sdk", "h", uid=18600522324)  # beyond 32 bits: allowed
    assert big.uid == 18600522324
    assert (await store.create_account("carol", "h")).uid == 10002  # sequence untouched by it
    assert (await store.create_account("dave", "h", uid=20000)).uid == 20000
    assert (await store.create_account("erin", "h")).uid == 20001  # never collides with 20000

    with pytest.raises(Conflict):
        await store.create_account("alice", "other")
    with pytest.raises(Conflict):
        await store.create_account("zed", "h", uid=18600522324)
    assert [x.username for x in await store.get_accounts([b.uid, 18600522324, 5])] == ["bob", "sdk"]
    assert len(await store.list_accounts()) == 6

    updated = await store.update_account(b.uid, AccountUpdate(disabled=True, nickname="B"))
    assert updated is not None and updated.disabled and updated.nickname == "B"
    assert await store.update_account(12345, AccountUpdate(nickname="x")) is None


async def test_update_records_write_every_field_they_set_and_nothing_else(store: Store) -> None:
    a = await store.create_account("alice", "h", nickname="Al", email="a@x")
    everything = AccountUpdate(
        password_hash="h2",
        nickname="N",
        email="e@x",
        avatar="av",
        mobile="123",
        birthday=20000101,
        role=Role.OPERATOR,
        disabled=True,
        activated=False,
        signature="sig",
        location="Kunshan",
        gender=1,
        last_login_ms=1700000000000,
    )
    got = await store.update_account(a.uid, everything)
    visible = {k: v for k, v in changed_fields(everything).items() if k != "password_hash"}
    assert got == dataclasses.replace(a, **visible)  # every field but the hash is an Account field
    assert await store.get_password_hash(a.uid) == "h2"
    assert await store.update_account(a.uid, AccountUpdate()) == got

    g = await store.create_group(Group(0, "team", owner=A), [A, B])
    change = GroupUpdate(
        name="t2", owner=B, avatar="g.png", desc="d", member_limit=9, mute_all=True, closed=True
    )
    gu = await store.update_group(g.gid, change)
    assert (gu.name, gu.owner, gu.avatar, gu.desc, gu.member_limit, gu.mute_all, gu.closed) == (
        "t2",
        B,
        "g.png",
        "d",
        9,
        True,
        True,
    )
    assert {m.uid: m.role for m in await store.group_members(g.gid)} == {
        A: GroupRole.MEMBER,
        B: GroupRole.OWNER,
    }
    unchanged = await store.update_group(g.gid, GroupUpdate())
    assert dataclasses.replace(unchanged, updated_ms=0) == dataclasses.replace(gu, updated_ms=0)


async def test_concurrent_appends_get_gapless_per_conversation_seqs(store: Store) -> None:
    convs = [P_AB, P_AC, ConvId.group(7)]
    results = await asyncio.gather(
        *(append(store, new_msg(convs[i % 3], A, f"m{i}", f"c{i}")) for i in range(200))
    )
    by_conv: dict[ConvId, list[int]] = {c: [] for c in convs}
    for msg, dup in results:
        assert not dup
        by_conv[msg.conv].append(msg.seq)
    for conv, seqs in by_conv.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), conv
        assert await store.last_seq(conv) == len(seqs)
    assert sum(len(s) for s in by_conv.values()) == 200
    # what was acknowledged is what is stored, under the seq it was acknowledged with
    for msg, _ in results[:10]:
        assert await store.get_message(msg.conv, msg.seq) == msg


async def test_binary_data_and_empty_data_are_stored_as_sent(store: Store) -> None:
    """A voice clip's bytes (imlc, TeamTalk) and the empty data of a text, in one batch and alone, read
    back as the bytes they were (the writers bind them as ``bytearray``s)."""
    texts = [dataclasses.replace(new_msg(P_AB, A, f"t{i}", f"t{i}"), data=b"") for i in range(3)]
    voice = dataclasses.replace(new_msg(P_AB, B, "[voice]", "v1"), data=b"\x00\x01voice\xff")
    batch = await asyncio.gather(*(append(store, m) for m in [*texts, voice]))
    alone = await append(store, dataclasses.replace(new_msg(P_AC, A, "alone", "a1"), data=b"\x02"))
    stored = [msg for msg, dup in [*batch, alone] if not dup]
    assert len(stored) == 5
    for msg in stored:
        assert await store.get_message(msg.conv, msg.seq) == msg
    assert [m.data for m in await store.history(P_AB, 0, 10)] == [b"\x00\x01voice\xff", b"", b"", b""]
    assert (await store.history(P_AC, 0, 1))[0].data == b"\x02"


async def test_dedup_returns_first_message_and_stores_nothing_twice(store: Store, backend: Backend) -> None:
    first, dup = await append(store, new_msg(P_AB, A, "hello", "cid-1"))
    assert not dup and first.seq == 1
    again, dup = await append(store, new_msg(P_AB, A, "changed", "cid-1"))
    assert dup and again == first and again.content == "hello"
    # another device or another sender with the same client id is a different message
    other_dev, dup1 = await append(store, new_msg(P_AB, A, "x", "cid-1", device="phone"))
    other_snd, dup2 = await append(store, new_msg(P_AB, B, "x", "cid-1"))
    assert not dup1 and not dup2 and (other_dev.seq, other_snd.seq) == (2, 3)
    # messages without a client id are never deduplicated
    n1, d1 = await append(store, new_msg(P_AB, A, "a"))
    n2, d2 = await append(store, new_msg(P_AB, A, "a"))
    assert not d1 and not d2 and n2.seq == n1.seq + 1
    assert await store.last_seq(P_AB) == 5
    assert backend.count("SELECT COUNT(*) FROM messages") == 5
    assert await store.find_message(A, "dev", "cid-1") == first
    assert await store.find_message(A, "dev", "") is None


async def test_dedup_within_one_batch(store: Store, backend: Backend) -> None:
    with backend.held(store):
        futs = [asyncio.ensure_future(append(store, new_msg(P_AB, A, f"v{i}", "same"))) for i in range(5)]
        await asyncio.sleep(0)
    results = await asyncio.gather(*futs)
    firsts = [m for m, dup in results if not dup]
    assert len(firsts) == 1
    assert all(m == firsts[0] for m, _ in results)
    assert await store.last_seq(P_AB) == 1
    assert backend.count("SELECT COUNT(*) FROM messages") == 1


async def test_a_resend_undoes_only_its_own_batch_in_a_shared_transaction(
    store: Store, backend: Backend
) -> None:
    """Two loop turns' appends share one transaction; the second turn holds a resend of the first's
    message. Undoing the second batch (to store it row by row) must leave the first's rows alone."""
    with backend.held(store):
        first = [asyncio.ensure_future(append(store, new_msg(P_AB, A, f"m{i}", f"c{i}"))) for i in range(3)]
        await asyncio.sleep(0)
        second = [
            asyncio.ensure_future(append(store, new_msg(P_AC, C, "new", "c-other"))),
            asyncio.ensure_future(append(store, new_msg(P_AB, A, "resent", "c1"))),
            asyncio.ensure_future(append(store, new_msg(P_AB, A, "m3", "c3"))),
        ]
        await asyncio.sleep(0)
    stored = [m for m, _ in await asyncio.gather(*first)]
    (new_other, d1), (resent, d2), (m3, d3) = await asyncio.gather(*second)
    assert [m.seq for m in stored] == [1, 2, 3]
    assert (d1, d2, d3) == (False, True, False)
    assert resent == stored[1] and resent.content == "m1"
    assert (new_other.seq, m3.seq) == (1, 4)
    assert backend.count("SELECT COUNT(*) FROM messages") == 5
    for msg in [*stored, new_other, m3]:
        assert await store.get_message(msg.conv, msg.seq) == msg


async def test_a_resend_inside_a_large_batch_leaves_no_gap(store: Store, backend: Backend) -> None:
    """A batch of 300 appends to three conversations (several multi-row statements) with a resend of an
    earlier message in its middle: the resend is known as one, and every other message gets the next
    seq of its conversation, read back as acknowledged."""
    first, _ = await append(store, new_msg(P_AB, A, "first", "c-first"))
    convs = [P_AB, P_AC, ConvId.group(7)]
    news = [new_msg(convs[i % 3], A, f"m{i}", f"c{i}") for i in range(300)]
    news[150] = new_msg(P_AB, A, "resent", "c-first")
    with backend.held(store):
        futs = [asyncio.ensure_future(append(store, n)) for n in news]
        await asyncio.sleep(0)
    results = await asyncio.gather(*futs)
    assert results[150] == (first, True)
    by_conv: dict[ConvId, list[int]] = {c: [] for c in convs}
    for msg, dup in results[:150] + results[151:]:
        assert not dup
        by_conv[msg.conv].append(msg.seq)
        assert await store.get_message(msg.conv, msg.seq) == msg
    assert by_conv[P_AB] == list(range(2, 101))  # after "first", 99 of the batch's 100
    assert by_conv[P_AC] == by_conv[ConvId.group(7)] == list(range(1, 101))
    assert backend.count("SELECT COUNT(*) FROM messages") == 300


async def test_append_advances_senders_read_cursor(store: Store) -> None:
    await append(store, new_msg(P_AB, A))
    await append(store, new_msg(P_AB, B))
    await append(store, new_msg(P_AB, A))
    sa, sb = await store.conv_state(A, P_AB), await store.conv_state(B, P_AB)
    assert (sa.last_seq, sa.read_seq, sa.unread) == (3, 3, 0)
    assert (sb.last_seq, sb.read_seq, sb.unread) == (3, 2, 1)
    g = ConvId.group(1)
    await append(store, new_msg(g, C))
    assert (await store.conv_state(C, g)).read_seq == 1


async def test_history_newest_first_with_before_seq_skipping_deleted(store: Store) -> None:
    for i in range(1, 11):
        await append(store, new_msg(P_AB, A, f"m{i}"))
    await store.apply_control(
        Control(P_AB, 5, ControlCmd.DELETE, "del", "", A, 1), "dev", MsgStatus.DELETED, None, [], 2
    )
    assert [m.seq for m in await store.history(P_AB, 0, 3)] == [10, 9, 8]
    assert [m.seq for m in await store.history(P_AB, 6, 3)] == [6, 4, 3]
    assert [m.seq for m in await store.history(P_AB, 2, 10)] == [2, 1]
    assert await store.history(ConvId.peer(1, 2), 0, 10) == []
    # a client paging by seq (imlc MP) asks for the deleted ones too, to keep the seqs gapless
    kept = await store.history(P_AB, 6, 3, deleted=True)
    assert [(m.seq, m.status) for m in kept] == [
        (6, MsgStatus.NORMAL),
        (5, MsgStatus.DELETED),
        (4, MsgStatus.NORMAL),
    ]
    last = await store.last_message(P_AB)
    assert last is not None and last.content == "m10"


async def test_messages_after_oldest_first_including_deleted(store: Store) -> None:
    for i in range(1, 6):
        await append(store, new_msg(P_AB, A, f"m{i}"))
    await store.apply_control(
        Control(P_AB, 3, ControlCmd.DELETE, "", "", A, 1), "dev", MsgStatus.DELETED, None, [], 2
    )
    got = await store.messages_after(P_AB, 1, 10)
    assert [m.seq for m in got] == [2, 3, 4, 5]
    assert got[1].status is MsgStatus.DELETED
    assert [m.seq for m in await store.messages_after(P_AB, 0, 2)] == [1, 2]
    assert await store.messages_after(P_AB, 5, 10) == []


async def test_advance_read_clamps_and_never_goes_back(store: Store) -> None:
    for _ in range(5):
        await append(store, new_msg(P_AB, A))
    assert await store.advance_read(B, P_AB, 3, 10) == 3
    assert await store.advance_read(B, P_AB, 1, 11) == 3  # never back
    assert await store.advance_read(B, P_AB, 99, 12) == 5  # clamped to last_seq
    state = await store.conv_state(B, P_AB)
    assert (state.read_seq, state.unread) == (5, 0)
    assert state.delivered_seq == 5
    assert await store.advance_read(C, ConvId.peer(C, 77), 4, 13) == 0  # nothing there yet


async def test_apply_control_statuses_and_dedup(store: Store, backend: Backend) -> None:
    for i in range(3):
        await append(store, new_msg(P_AB, A, f"m{i + 1}", f"c{i + 1}"))
    recall = Control(P_AB, 1, ControlCmd.RECALL, "ctl-1", "", A, 5, target_client_id="c1")
    stored, dup = await store.apply_control(recall, "dev", MsgStatus.RECALLED, "", [A, B], 100)
    assert not dup and stored == recall
    m1 = await store.get_message(P_AB, 1)
    assert m1 is not None and m1.status is MsgStatus.RECALLED and m1.content == ""

    edit = Control(P_AB, 2, ControlCmd.EDIT, "ctl-2", "new text", A, 6)
    await store.apply_control(edit, "dev", MsgStatus.EDITED, "new text", [A, B], 101)
    m2 = await store.get_message(P_AB, 2)
    assert m2 is not None and m2.status is MsgStatus.EDITED and m2.content == "new text"

    delete = Control(P_AB, 3, ControlCmd.DELETE, "ctl-3", "", A, 7)
    await store.apply_control(delete, "dev", MsgStatus.DELETED, None, [A, B], 102)
    m3 = await store.get_message(P_AB, 3)
    assert m3 is not None and m3.status is MsgStatus.DELETED and m3.content == "m3"

    # a resent control returns the first one and changes nothing
    again = Control(P_AB, 2, ControlCmd.EDIT, "ctl-2", "other", A, 8)
    first, dup = await store.apply_control(again, "dev", MsgStatus.EDITED, "other", [A, B], 103)
    assert dup and first.content == "new text" and first.cmd is ControlCmd.EDIT
    m2b = await store.get_message(P_AB, 2)
    assert m2b is not None and m2b.content == "new text"
    assert backend.count("SELECT COUNT(*) FROM controls") == 3
    found = await store.find_control(A, "dev", "ctl-1")
    assert found is not None and found.cmd is ControlCmd.RECALL and found.target_client_id == "c1"
    assert await store.find_control(A, "other-dev", "ctl-1") is None


async def test_priority_queue_order_retention_and_deletion(store: Store) -> None:
    await append(store, new_msg(P_AB, A, "p1", priority=(B,), activity_us=1_000))
    await append(store, new_msg(P_AB, A, "normal", activity_us=1_001))
    await append(store, new_msg(P_AB, A, "p2", priority=(B,), activity_us=2_000))
    await append(store, new_msg(P_AB, A, "p3", priority=(B,), activity_us=500))  # clock behind
    entries = await store.priority_entries(B, 0, 10, 0)
    keys = [e.key for e in entries]
    assert keys == sorted(keys) and len(set(keys)) == 3
    assert [e.message.content for e in entries if e.message] == ["p1", "p2", "p3"]
    assert all(e.control is None for e in entries)
    assert await store.priority_entries(A, 0, 10, 0) == []
    # paging and the retention floor
    assert [e.key for e in await store.priority_entries(B, keys[0], 10, 0)] == keys[1:]
    assert [e.key for e in await store.priority_entries(B, 0, 1, 0)] == keys[:1]
    assert [e.key for e in await store.priority_entries(B, 0, 10, keys[1])] == keys[1:]
    # deleting a queued message drops its entry; the delete notice itself is queued
    delete = Control(P_AB, 1, ControlCmd.DELETE, "d1", "", A, 9)
    await store.apply_control(delete, "dev", MsgStatus.DELETED, None, [B], 3_000)
    after = await store.priority_entries(B, 0, 10, 0)
    assert [e.message.content for e in after if e.control is None and e.message] == ["p2", "p3"]
    notices = [e for e in after if e.control is not None]
    assert len(notices) == 1 and notices[0].control == delete and notices[0].key > keys[-1]


async def test_one_way_edges_and_buddy_groups(store: Store) -> None:
    await store.add_friends(A, B, "", both=True)
    await store.add_friends(A, C, "", both=False)
    assert await store.set_buddy_group(A, B, "Work") and await store.set_buddy_group(A, C, "Work")
    assert not await store.set_buddy_group(C, A, "Work")  # no edge C→A
    await store.rename_buddy_group(A, "Work", "Office")
    assert [(f.peer, f.buddy_group) for f in await store.friends(A)] == [(B, "Office"), (C, "Office")]
    assert [f.buddy_group for f in await store.friends(B)] == [""]
    assert await store.remove_friends(A, B, both=False)  # only A→B
    assert not await store.is_friend(A, B) and await store.is_friend(B, A)


async def test_friends_both_edges_remove_and_attrs_survive(store: Store) -> None:
    await store.add_friends(A, B, "bobby", both=True)
    fa, fb = await store.friends(A), await store.friends(B)
    assert [(f.peer, f.remark) for f in fa] == [(B, "bobby")]
    assert [(f.peer, f.remark) for f in fb] == [(A, "")]
    assert await store.is_friend(A, B) and await store.is_friend(B, A)
    await store.set_friend_attr(A, B, "COLOR", "blue")
    assert await store.friend_attrs(A, B, "") == [(B, "COLOR", "blue"), (B, "REMARK", "bobby")]
    # one-way add
    await store.add_friends(A, C, "", both=False)
    assert await store.is_friend(A, C) and not await store.is_friend(C, A)

    assert await store.remove_friends(B, A)  # either side removes both edges
    assert not await store.is_friend(A, B) and not await store.is_friend(B, A)
    assert not await store.remove_friends(A, B)
    assert await store.friend_attrs(A, B, "REMARK") == [(B, "REMARK", "bobby")]
    assert await store.friend_attrs(A, B, "COLOR") == []

    await store.set_friend_attr(A, C, "REMARK", "cee")  # a REMARK attribute is the friend remark
    assert [(f.peer, f.remark) for f in await store.friends(A)] == [(C, "cee")]

    await store.set_blocked(A, B, True)
    await store.set_blocked(A, B, True)
    assert await store.blocked_by(A) == {B} and await store.blocked_by(B) == set()
    await store.set_blocked(A, B, False)
    assert await store.blocked_by(A) == set()


async def test_groups_members_roles_removal_and_deletion(store: Store) -> None:
    g = await store.create_group(Group(0, "team", owner=A, desc="d", member_limit=50), [A, B, C])
    assert g.gid == 1 and g.name == "team" and g.owner == A and g.member_limit == 50 and g.desc == "d"
    members = await store.group_members(g.gid)
    assert [(m.uid, m.role) for m in members] == [
        (A, GroupRole.OWNER),
        (B, GroupRole.MEMBER),
        (C, GroupRole.MEMBER),
    ]
    unnamed = await store.create_group(Group(0, "", owner=B, kind=GroupKind.TEMPORARY), [B])
    assert unnamed.name == f"GC_{unnamed.gid}" and unnamed.kind is GroupKind.TEMPORARY

    with pytest.raises(Conflict):
        await store.create_group(Group(0, "team", owner=B), [B])
    with pytest.raises(Conflict):
        await store.update_group(unnamed.gid, GroupUpdate(name="team"))
    assert (await store.get_group_by_name("team")) == g
    assert [x.gid for x in await store.list_groups()] == sorted([g.gid, unnamed.gid])
    assert len(await store.list_groups(1)) == 1

    await store.set_member_role(g.gid, C, GroupRole.MANAGER)
    await store.set_member_muted(g.gid, B, True)
    members = await store.group_members(g.gid)
    assert [(m.uid, m.role, m.muted) for m in members] == [
        (A, GroupRole.OWNER, False),
        (C, GroupRole.MANAGER, False),
        (B, GroupRole.MEMBER, True),
    ]
    updated = await store.update_group(g.gid, GroupUpdate(mute_all=True, desc="new", name="team2"))
    assert updated.mute_all and updated.desc == "new" and updated.name == "team2"
    assert [x.gid for x in await store.groups_of(B)] == [g.gid, unnamed.gid]

    await store.remove_group_members(g.gid, [B])
    await store.add_group_members(g.gid, [10004, C])  # C already a member: ignored, role kept
    assert {m.uid: m.role for m in await store.group_members(g.gid)} == {
        A: GroupRole.OWNER,
        C: GroupRole.MANAGER,
        10004: GroupRole.MEMBER,
    }
    await store.set_group_blacklisted(g.gid, B, True)
    assert await store.group_blacklist(g.gid) == {B}

    former = await store.delete_group(g.gid)
    assert sorted(former) == [A, C, 10004]
    assert await store.get_group(g.gid) is None
    assert await store.group_members(g.gid) == []
    assert await store.group_blacklist(g.gid) == set()
    # the name is free again
    again = await store.create_group(Group(0, "team2", owner=A), [A])
    assert again.gid == unnamed.gid + 1


async def test_unnamed_group_skips_a_gid_whose_default_name_is_taken(store: Store) -> None:
    squatter = await store.create_group(Group(0, "GC_2", owner=A), [A])
    assert squatter.gid == 1
    unnamed = await store.create_group(Group(0, "", owner=B), [B])
    assert (unnamed.gid, unnamed.name) == (3, "GC_3")
    assert (await store.create_group(Group(0, "", owner=B), [B])).name == "GC_4"


async def test_peer_cursors_give_the_other_users_read_cursor_of_each_one_to_one(store: Store) -> None:
    for _ in range(3):
        await append(store, new_msg(P_AB, A, "hi"))
    await append(store, new_msg(ConvId.peer(A, A), A, "note to self"))
    assert await store.peer_cursors(A) == {P_AB.key: (0, 0)}  # B read nothing; a note to self has no peer
    assert await store.peers(A) == [B] and await store.peers(B) == [A]
    await store.advance_read(B, P_AB, 2, 7_000)
    assert await store.peer_cursors(A) == {P_AB.key: (2, 7_000)}
    assert (await store.peer_cursors(B))[P_AB.key][0] == 3  # the sender's own messages are read


async def test_user_conversations_lists_peers_groups_and_topics(store: Store) -> None:
    await append(store, new_msg(P_AB, A, "hi"))
    await append(store, new_msg(P_AB, A, "there"))
    g = await store.create_group(Group(0, "g", owner=C), [A, B, C])
    quiet = await store.create_group(Group(0, "quiet", owner=C), [B, C])
    await append(store, new_msg(ConvId.group(g.gid), C, "hello group"))
    n = ConvId.notify(B)
    for topic in ("news", "news", "bills"):
        await append(store, new_msg(n, 0, topic, device="notify", topic=topic))

    def view(uid_states: list[Any]) -> dict[tuple[ConvId, str], tuple[int, int]]:
        return {(s.conv, s.topic): (s.last_seq, s.unread) for s in uid_states}

    a = view(await store.user_conversations(A))
    assert a == {(P_AB, ""): (2, 0), (ConvId.group(g.gid), ""): (1, 1)}
    b = view(await store.user_conversations(B))
    assert b[(P_AB, "")] == (2, 2)  # the recipient sees the 1:1 too
    assert b[(ConvId.group(g.gid), "")] == (1, 1)
    assert b[(ConvId.group(quiet.gid), "")] == (0, 0)  # a group without messages is listed
    assert b[(n, "news")][1] == 2 and b[(n, "bills")][1] == 1
    assert len(b) == 5
    assert view(await store.user_conversations(C))[(ConvId.group(g.gid), "")] == (1, 0)

    await store.advance_read(B, n, 2, 5, topic="news")
    b = view(await store.user_conversations(B))
    assert b[(n, "news")][1] == 0 and b[(n, "bills")][1] == 1
    assert (await store.conv_state(B, n, "bills")).read_seq == 0

    # a group the user has left (or that was dismissed) is no longer listed, cursor row or not
    await store.advance_read(A, ConvId.group(g.gid), 1, 6)
    await store.remove_group_members(g.gid, [A])
    assert {s.conv for s in await store.user_conversations(A)} == {P_AB}
    await store.delete_group(g.gid)
    assert ConvId.group(g.gid) not in {s.conv for s in await store.user_conversations(C)}


async def test_conv_attrs(store: Store) -> None:
    await store.set_conv_attr(A, P_AB, "pinned", "1", 10)
    await store.set_conv_attr(A, P_AB, "dnd", "1", 11)
    await store.set_conv_attr(A, P_AB, "dnd", "", 12)
    assert (await store.conv_state(A, P_AB)).attrs == {"pinned": "1"}
    assert (await store.conv_state(B, P_AB)).attrs == {}


async def test_idempotency_remember_and_recall(store: Store) -> None:
    assert await store.recall("k") is None
    assert await store.remember("k", "first") == "first"
    assert await store.remember("k", "second") == "first"
    assert await store.recall("k") == "first"


async def test_offline_file_records_kept_listed_oldest_first_and_forgotten(store: Store) -> None:
    later = OfflineFile("t2", A, B, "b.txt", 20, "f2", 2_000)
    first = OfflineFile("t1", B, A, "a.txt", 10, "f1", 1_000)
    await store.keep_offline_file(later)
    await store.keep_offline_file(first)
    assert await store.offline_files() == [first, later]
    await store.forget_offline_file("t1")
    await store.forget_offline_file("nothing")
    assert await store.offline_files() == [later]


async def test_acknowledged_writes_visible_from_fresh_connection(backend: Backend) -> None:
    s = backend.make()
    await s.open()
    acct = await s.create_account("alice", "h")
    msgs = await asyncio.gather(*(append(s, new_msg(P_AB, A, f"m{i}", f"c{i}")) for i in range(50)))
    # visible to an independent connection as soon as acknowledged, before close
    assert backend.count("SELECT COUNT(*) FROM messages") == 50
    await s.close()
    assert backend.count("SELECT COUNT(*) FROM messages WHERE conv=?", (P_AB.key,)) == 50
    assert backend.count("SELECT last_seq FROM conversations WHERE conv=?", (P_AB.key,)) == 50
    assert backend.count("SELECT uid FROM accounts WHERE username='alice'") == acct.uid
    s2 = backend.make()
    await s2.open()
    try:
        m, dup = await append(s2, new_msg(P_AB, A, "again", "c7"))  # a resend after restart
        assert dup and m == msgs[7][0]
    finally:
        await s2.close()


async def test_failing_write_in_a_batch_fails_alone(store: Store, backend: Backend) -> None:
    await store.create_account("taken", "h")
    with backend.held(store):
        before = [asyncio.ensure_future(append(store, new_msg(P_AB, A, f"a{i}"))) for i in range(5)]
        bad = asyncio.ensure_future(store.create_account("taken", "h2"))
        after = [asyncio.ensure_future(append(store, new_msg(P_AB, A, f"b{i}"))) for i in range(5)]
        ok_acct = asyncio.ensure_future(store.create_account("fresh", "h"))
        await asyncio.sleep(0)
    with pytest.raises(Conflict):
        await bad
    msgs = [m for m, _ in await asyncio.gather(*before, *after)]
    assert [m.seq for m in msgs] == list(range(1, 11))  # in submission order, gapless
    assert [m.content for m in await store.messages_after(P_AB, 0, 20)] == [m.content for m in msgs]
    assert (await ok_acct).username == "fresh"
    assert backend.count("SELECT COUNT(*) FROM accounts") == 2
    assert await store.get_password_hash((await ok_acct).uid) == "h"


async def test_message_extra_round_trips_whatever_its_values(store: Store) -> None:
    """1, True and "1" stay apart; an int beyond 64 bits (which orjson refuses) and text beyond ASCII
    come back as they went in."""
    extras: list[dict[str, Any]] = [
        {"origin": "omtp"},
        {"origin": "omtp"},
        {"priority": 1},
        {"priority": True},
        {"priority": "1"},
        {"mentions": [A, B], "origin": "beehive"},
        {"time": (1 << 70) + 1, "nested": {"k": [1, "二"]}},
        {"title": '你好 \u2028 "quoted" \\'},
    ]
    for i, extra in enumerate(extras):
        new = new_msg(P_AB, A, f"m{i}", f"x{i}")
        await append(store, dataclasses.replace(new, extra=extra))
    stored = await store.messages_after(P_AB, 0, 10)
    assert [m.extra for m in stored] == extras
    assert [type(m.extra["priority"]) for m in stored[2:5]] == [int, bool, str]


async def test_rooms_keep_settings_and_lists_and_a_dismissal_keeps_only_the_rid(store: Store) -> None:
    assert await store.rooms() == [] and await store.room_users() == []
    hall = RoomRecord(5, 100, owner=A, name="hall", desc="d", closed=True, limit=9)
    await store.save_room(hall)
    await store.save_room(RoomRecord(3, 10))
    await store.set_room_user(5, B, RoomList.BANNED, True)
    await store.set_room_user(5, B, RoomList.BANNED, True)  # twice is once
    await store.set_room_user(5, C, RoomList.GAGGED, True)
    await store.set_room_user(3, C, RoomList.MANAGER, True)
    await store.set_room_user(5, C, RoomList.GAGGED, False)
    assert await store.rooms() == [RoomRecord(3, 10), hall]
    assert await store.room_users() == [RoomUser(3, C, RoomList.MANAGER), RoomUser(5, B, RoomList.BANNED)]

    reopened = dataclasses.replace(hall, closed=False, capacity=50)
    await store.save_room(reopened)  # replaces the settings, keeps the lists
    await store.save_room(RoomRecord(3, 10, dismissed=True))
    assert await store.rooms() == [RoomRecord(3, 10, dismissed=True), reopened]
    assert await store.room_users() == [RoomUser(5, B, RoomList.BANNED)]


async def test_room_writes_land_in_the_order_they_were_made(store: Store) -> None:
    """Queued in the call, not when awaited: the core applies room changes synchronously."""
    await store.save_room(RoomRecord(7, 10))
    await asyncio.gather(
        store.set_room_user(7, A, RoomList.GAGGED, True), store.set_room_user(7, A, RoomList.GAGGED, False)
    )
    assert await store.room_users() == []
    unban = store.set_room_user(7, B, RoomList.BANNED, False)
    ban = store.set_room_user(7, B, RoomList.BANNED, True)
    await asyncio.gather(ban, unban)  # awaited the other way round: made first, written first
    assert await store.room_users() == [RoomUser(7, B, RoomList.BANNED)]
    await asyncio.gather(store.save_room(RoomRecord(7, 10, closed=True)), store.save_room(RoomRecord(7, 20)))
    assert await store.rooms() == [RoomRecord(7, 20)]
