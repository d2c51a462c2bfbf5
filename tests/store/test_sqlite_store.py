"""SqliteStore against a real database file: schema, accounts, messages, cursors, relations, groups,
durability of acknowledged writes and the grouped commits of the writer thread."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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
    Role,
)
from polyim.store import dbthread
from polyim.store.base import Conflict, NewMessage
from polyim.store.migrate import available, current_version, migrate
from polyim.store.sqlite import SqliteStore

A, B, C = 10001, 10002, 10003
P_AB = ConvId.peer(A, B)
P_AC = ConvId.peer(A, C)


def new_msg(
    conv: ConvId,
    sender: int,
    content: str = "x",
    client_id: str = "",
    *,
    device: str = "dev",
    topic: str = "",
    priority: tuple[int, ...] = (),
    activity_us: int = 1,
) -> NewMessage:
    return NewMessage(
        conv=conv,
        msg_id=0,
        sender=sender,
        device=device,
        client_id=client_id,
        ctype=1,
        content=content,
        ts_ms=1_700_000_000_000,
        activity_us=activity_us,
        topic=topic,
        priority_uids=priority,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    yield s
    await s.close()


def raw(path: str) -> sqlite3.Connection:
    """A fresh connection, independent of the store's threads."""
    return sqlite3.connect(path, isolation_level=None)


def count(path: str, sql: str, args: tuple[Any, ...] = ()) -> int:
    conn = raw(path)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()


@contextmanager
def writer_held(store: SqliteStore) -> Iterator[None]:
    """Keep the writer thread busy so that every write submitted meanwhile lands in one batch."""
    release = threading.Event()
    started = threading.Event()

    def hold(_c: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    store._writer.run(hold)
    assert started.wait(5)
    try:
        yield
    finally:
        release.set()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement executed on connections made by the store's threads (trace callback)."""
    seen: list[str] = []
    real: Callable[[str], sqlite3.Connection] = dbthread.connect

    def traced(path: str) -> sqlite3.Connection:
        conn = real(path)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(dbthread, "connect", traced)
    return seen


def commits(statements: list[str]) -> int:
    return sum(1 for sql in statements if sql.strip().upper() == "COMMIT")


# -- schema ---------------------------------------------------------------------------------------
async def test_migrations_run_once_and_are_idempotent(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    latest = max(v for v, _ in available())
    s = SqliteStore(path)
    await s.open()
    await s.create_account("alice", "h")
    await s.close()
    conn = raw(path)
    try:
        assert current_version(conn) == latest
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest
        assert migrate(conn) == []  # nothing left to apply, nothing re-created
        assert migrate(conn) == []
    finally:
        conn.close()
    s2 = SqliteStore(path)  # reopening migrates nothing and keeps the data
    await s2.open()
    try:
        assert (await s2.get_account_by_name("alice")) is not None
    finally:
        await s2.close()
    assert count(path, "SELECT COUNT(*) FROM accounts") == 1


async def test_v2_database_upgrades_with_its_messages_and_their_dedup(tmp_path: Path) -> None:
    """A database written before messages became a rowid table (v3) keeps every message, its seq, and
    the uniqueness of (conv, seq) and of a client id: history, resends and new sends work after."""
    path = str(tmp_path / "db.sqlite")
    conn = raw(path)
    for version, sql in available():
        if version <= 2:
            conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version={version};\nCOMMIT;")
    conn.executemany(
        "INSERT INTO messages(conv, seq, msg_id, sender, device, client_id, ctype, content, ts_ms)"
        " VALUES (?,?,?,?,?,?,1,?,1)",
        [(P_AB.key, seq, 100 + seq, A, "dev", f"c{seq}", f"m{seq}") for seq in (1, 2, 3)],
    )
    conn.execute("INSERT INTO conversations(conv, last_seq) VALUES (?, 3)", (P_AB.key,))
    conn.close()
    s = SqliteStore(path)
    await s.open()
    try:
        assert [m.content for m in await s.history(P_AB, 0, 10)] == ["m3", "m2", "m1"]
        again, duplicate = await s.append_message(new_msg(P_AB, A, "resent", "c2"))
        assert duplicate and (again.seq, again.content) == (2, "m2")
        fresh, duplicate = await s.append_message(new_msg(P_AB, A, "m4", "c4"))
        assert not duplicate and fresh.seq == 4
    finally:
        await s.close()
    conn = raw(path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO messages(conv, seq, msg_id, sender, device, client_id, ctype, content, ts_ms)"
                " VALUES (?, 4, 9, ?, 'dev', 'other', 1, 'x', 1)",
                (P_AB.key, B),
            )
    finally:
        conn.close()


def test_migrate_fresh_database_applies_every_version() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    versions = [v for v, _ in available()]
    assert migrate(conn) == versions
    assert current_version(conn) == versions[-1]
    assert migrate(conn) == []


# -- accounts -------------------------------------------------------------------------------------
async def test_account_lookups_of_one_turn_share_one_query(tmp_path: Path, statements: list[str]) -> None:
    """A login storm's lookups: 600 asked at once (by name and by uid, some unknown, some twice) take
    two statements per kind, not 600, and each gets its own row; a later change is seen at once."""
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        accounts = [await s.create_account(f"user{i}", "h") for i in range(300)]
        statements.clear()
        names = [f"user{i}" for i in range(300)] + ["nobody", "user7"]
        uids = [a.uid for a in accounts] + [1, accounts[7].uid]
        by_name, by_uid = await asyncio.gather(
            asyncio.gather(*(s.get_account_by_name(n) for n in names)),
            asyncio.gather(*(s.get_account(u) for u in uids)),
        )
        assert [a.username if a else None for a in by_name] == [*names[:300], None, "user7"]
        assert [a.uid if a else None for a in by_uid] == [*uids[:300], None, accounts[7].uid]
        selects = [q for q in statements if q.startswith("SELECT") and "FROM accounts" in q]
        assert len(selects) == 2, selects  # one IN (…) per kind: 302 keys fit one chunk
        await s.update_account(accounts[3].uid, AccountUpdate(disabled=True))
        fresh = await s.get_account_by_name("user3")
        assert fresh is not None and fresh.disabled
    finally:
        await s.close()


async def test_accounts_uid_sequence_explicit_uids_and_conflicts(store: SqliteStore) -> None:
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


async def test_update_records_write_every_field_they_set_and_nothing_else(store: SqliteStore) -> None:
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
    )
    got = await store.update_account(a.uid, everything)
    assert got == dataclasses.replace(
        a,
        nickname="N",
        email="e@x",
        avatar="av",
        mobile="123",
        birthday=20000101,
        role=Role.OPERATOR,
        disabled=True,
        activated=False,
    )
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


# -- messages -------------------------------------------------------------------------------------
async def test_concurrent_appends_get_gapless_per_conversation_seqs(store: SqliteStore) -> None:
    convs = [P_AB, P_AC, ConvId.group(7)]
    results = await asyncio.gather(
        *(store.append_message(new_msg(convs[i % 3], A, f"m{i}", f"c{i}")) for i in range(200))
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


async def test_dedup_returns_first_message_and_stores_nothing_twice(store: SqliteStore) -> None:
    first, dup = await store.append_message(new_msg(P_AB, A, "hello", "cid-1"))
    assert not dup and first.seq == 1
    again, dup = await store.append_message(new_msg(P_AB, A, "changed", "cid-1"))
    assert dup and again == first and again.content == "hello"
    # another device or another sender with the same client id is a different message
    other_dev, dup1 = await store.append_message(new_msg(P_AB, A, "x", "cid-1", device="phone"))
    other_snd, dup2 = await store.append_message(new_msg(P_AB, B, "x", "cid-1"))
    assert not dup1 and not dup2 and (other_dev.seq, other_snd.seq) == (2, 3)
    # messages without a client id are never deduplicated
    n1, d1 = await store.append_message(new_msg(P_AB, A, "a"))
    n2, d2 = await store.append_message(new_msg(P_AB, A, "a"))
    assert not d1 and not d2 and n2.seq == n1.seq + 1
    assert await store.last_seq(P_AB) == 5
    assert count(store.path, "SELECT COUNT(*) FROM messages") == 5
    assert await store.find_message(A, "dev", "cid-1") == first
    assert await store.find_message(A, "dev", "") is None


async def test_dedup_within_one_batch(store: SqliteStore) -> None:
    with writer_held(store):
        futs = [
            asyncio.ensure_future(store.append_message(new_msg(P_AB, A, f"v{i}", "same"))) for i in range(5)
        ]
        await asyncio.sleep(0)
    results = await asyncio.gather(*futs)
    firsts = [m for m, dup in results if not dup]
    assert len(firsts) == 1
    assert all(m == firsts[0] for m, _ in results)
    assert await store.last_seq(P_AB) == 1
    assert count(store.path, "SELECT COUNT(*) FROM messages") == 1


async def test_append_advances_senders_read_cursor(store: SqliteStore) -> None:
    await store.append_message(new_msg(P_AB, A))
    await store.append_message(new_msg(P_AB, B))
    await store.append_message(new_msg(P_AB, A))
    sa, sb = await store.conv_state(A, P_AB), await store.conv_state(B, P_AB)
    assert (sa.last_seq, sa.read_seq, sa.unread) == (3, 3, 0)
    assert (sb.last_seq, sb.read_seq, sb.unread) == (3, 2, 1)
    g = ConvId.group(1)
    await store.append_message(new_msg(g, C))
    assert (await store.conv_state(C, g)).read_seq == 1


async def test_history_newest_first_with_before_seq_skipping_deleted(store: SqliteStore) -> None:
    for i in range(1, 11):
        await store.append_message(new_msg(P_AB, A, f"m{i}"))
    await store.apply_control(
        Control(P_AB, 5, ControlCmd.DELETE, "del", "", A, 1), "dev", MsgStatus.DELETED, None, [], 2
    )
    assert [m.seq for m in await store.history(P_AB, 0, 3)] == [10, 9, 8]
    assert [m.seq for m in await store.history(P_AB, 6, 3)] == [6, 4, 3]
    assert [m.seq for m in await store.history(P_AB, 2, 10)] == [2, 1]
    assert await store.history(ConvId.peer(1, 2), 0, 10) == []
    last = await store.last_message(P_AB)
    assert last is not None and last.content == "m10"


async def test_messages_after_oldest_first_including_deleted(store: SqliteStore) -> None:
    for i in range(1, 6):
        await store.append_message(new_msg(P_AB, A, f"m{i}"))
    await store.apply_control(
        Control(P_AB, 3, ControlCmd.DELETE, "", "", A, 1), "dev", MsgStatus.DELETED, None, [], 2
    )
    got = await store.messages_after(P_AB, 1, 10)
    assert [m.seq for m in got] == [2, 3, 4, 5]
    assert got[1].status is MsgStatus.DELETED
    assert [m.seq for m in await store.messages_after(P_AB, 0, 2)] == [1, 2]
    assert await store.messages_after(P_AB, 5, 10) == []


async def test_advance_read_clamps_and_never_goes_back(store: SqliteStore) -> None:
    for _ in range(5):
        await store.append_message(new_msg(P_AB, A))
    assert await store.advance_read(B, P_AB, 3, 10) == 3
    assert await store.advance_read(B, P_AB, 1, 11) == 3  # never back
    assert await store.advance_read(B, P_AB, 99, 12) == 5  # clamped to last_seq
    state = await store.conv_state(B, P_AB)
    assert (state.read_seq, state.unread) == (5, 0)
    assert state.delivered_seq == 5
    assert await store.advance_read(C, ConvId.peer(C, 77), 4, 13) == 0  # nothing there yet


async def test_apply_control_statuses_and_dedup(store: SqliteStore) -> None:
    for i in range(3):
        await store.append_message(new_msg(P_AB, A, f"m{i + 1}", f"c{i + 1}"))
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
    assert count(store.path, "SELECT COUNT(*) FROM controls") == 3
    found = await store.find_control(A, "dev", "ctl-1")
    assert found is not None and found.cmd is ControlCmd.RECALL and found.target_client_id == "c1"
    assert await store.find_control(A, "other-dev", "ctl-1") is None


async def test_priority_queue_order_retention_and_deletion(store: SqliteStore) -> None:
    await store.append_message(new_msg(P_AB, A, "p1", priority=(B,), activity_us=1_000))
    await store.append_message(new_msg(P_AB, A, "normal", activity_us=1_001))
    await store.append_message(new_msg(P_AB, A, "p2", priority=(B,), activity_us=2_000))
    await store.append_message(new_msg(P_AB, A, "p3", priority=(B,), activity_us=500))  # clock behind
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


async def test_friends_both_edges_remove_and_attrs_survive(store: SqliteStore) -> None:
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


async def test_groups_members_roles_removal_and_deletion(store: SqliteStore) -> None:
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


async def test_unnamed_group_skips_a_gid_whose_default_name_is_taken(store: SqliteStore) -> None:
    squatter = await store.create_group(Group(0, "GC_2", owner=A), [A])
    assert squatter.gid == 1
    unnamed = await store.create_group(Group(0, "", owner=B), [B])
    assert (unnamed.gid, unnamed.name) == (3, "GC_3")
    assert (await store.create_group(Group(0, "", owner=B), [B])).name == "GC_4"


async def test_user_conversations_lists_peers_groups_and_topics(store: SqliteStore) -> None:
    await store.append_message(new_msg(P_AB, A, "hi"))
    await store.append_message(new_msg(P_AB, A, "there"))
    g = await store.create_group(Group(0, "g", owner=C), [A, B, C])
    quiet = await store.create_group(Group(0, "quiet", owner=C), [B, C])
    await store.append_message(new_msg(ConvId.group(g.gid), C, "hello group"))
    n = ConvId.notify(B)
    for topic in ("news", "news", "bills"):
        await store.append_message(new_msg(n, 0, topic, device="notify", topic=topic))

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


async def test_conv_attrs(store: SqliteStore) -> None:
    await store.set_conv_attr(A, P_AB, "pinned", "1", 10)
    await store.set_conv_attr(A, P_AB, "dnd", "1", 11)
    await store.set_conv_attr(A, P_AB, "dnd", "", 12)
    assert (await store.conv_state(A, P_AB)).attrs == {"pinned": "1"}
    assert (await store.conv_state(B, P_AB)).attrs == {}


async def test_idempotency_remember_and_recall(store: SqliteStore) -> None:
    assert await store.recall("k") is None
    assert await store.remember("k", "first") == "first"
    assert await store.remember("k", "second") == "first"
    assert await store.recall("k") == "first"


# -- durability and grouped commits -------------------------------------------------------------
async def test_acknowledged_writes_visible_from_fresh_connection(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    s = SqliteStore(path)
    await s.open()
    acct = await s.create_account("alice", "h")
    msgs = await asyncio.gather(*(s.append_message(new_msg(P_AB, A, f"m{i}", f"c{i}")) for i in range(50)))
    # visible to an independent connection as soon as acknowledged, before close
    assert count(path, "SELECT COUNT(*) FROM messages") == 50
    await s.close()
    assert count(path, "SELECT COUNT(*) FROM messages WHERE conv=?", (P_AB.key,)) == 50
    assert count(path, "SELECT last_seq FROM conversations WHERE conv=?", (P_AB.key,)) == 50
    assert count(path, "SELECT uid FROM accounts WHERE username='alice'") == acct.uid
    s2 = SqliteStore(path)
    await s2.open()
    try:
        m, dup = await s2.append_message(new_msg(P_AB, A, "again", "c7"))  # a resend after restart
        assert dup and m == msgs[7][0]
    finally:
        await s2.close()


_CHILD = """
import asyncio, os, signal, sys
from polyim.model import ConvId
from polyim.store.base import NewMessage
from polyim.store.sqlite import SqliteStore

async def main():
    s = SqliteStore(sys.argv[1])
    await s.open()
    conv = ConvId.peer(1, 2)
    res = await asyncio.gather(*(s.append_message(NewMessage(conv, i, 1, "d", f"c{i}", 1, f"m{i}", 0, i))
                                 for i in range(300)))
    print(max(m.seq for m, _ in res), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, path],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "300"
    assert count(path, "SELECT COUNT(*) FROM messages") == 300
    assert count(path, "SELECT MAX(seq) FROM messages") == 300


async def test_writer_groups_concurrent_writes_into_few_commits(
    tmp_path: Path, statements: list[str]
) -> None:
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        statements.clear()
        results = await asyncio.gather(*(s.append_message(new_msg(P_AB, A, f"m{i}")) for i in range(500)))
        assert sorted(m.seq for m, _ in results) == list(range(1, 501))
        assert 1 <= commits(statements) < 50, commits(statements)

        # while the writer is busy, everything submitted lands in a single transaction
        statements.clear()
        with writer_held(s):
            futs = [asyncio.ensure_future(s.append_message(new_msg(P_AC, A, f"n{i}"))) for i in range(500)]
            await asyncio.sleep(0)
        await asyncio.gather(*futs)
        assert commits(statements) == 2  # the holding job's batch and one batch for the 500
        assert count(s.path, "SELECT COUNT(*) FROM messages") == 1000
    finally:
        await s.close()


async def test_send_path_never_scans_messages_or_controls(tmp_path: Path, statements: list[str]) -> None:
    """The dedup lookups of a send and of a recall must use the (partial) unique indexes: a full scan
    of the messages table on every send would make sends slower as history grows."""
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        statements.clear()
        await s.append_message(new_msg(P_AB, A, "x", "cid-1", priority=(B,)))
        await s.append_message(new_msg(P_AB, A, "x", "cid-1"))
        await s.find_message(A, "dev", "cid-1")
        await s.apply_control(
            Control(P_AB, 1, ControlCmd.RECALL, "r1", "", A, 1), "dev", MsgStatus.RECALLED, "", [B], 2
        )
        await s.find_control(A, "dev", "r1")
        await s.get_message(P_AB, 1)
        await s.history(P_AB, 0, 10)
        await s.advance_read(B, P_AB, 1, 3)
    finally:
        await s.close()
    dml = [q for q in statements if q.split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE")]
    assert any("client_id" in q for q in dml)
    conn = raw(s.path)
    try:
        for sql in dml:
            plan = " | ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN messages" not in plan and "SCAN controls" not in plan, (sql, plan)
    finally:
        conn.close()


async def test_failing_write_in_a_batch_fails_alone(store: SqliteStore) -> None:
    await store.create_account("taken", "h")
    with writer_held(store):
        before = [asyncio.ensure_future(store.append_message(new_msg(P_AB, A, f"a{i}"))) for i in range(5)]
        bad = asyncio.ensure_future(store.create_account("taken", "h2"))
        after = [asyncio.ensure_future(store.append_message(new_msg(P_AB, A, f"b{i}"))) for i in range(5)]
        ok_acct = asyncio.ensure_future(store.create_account("fresh", "h"))
        await asyncio.sleep(0)
    with pytest.raises(Conflict):
        await bad
    msgs = [m for m, _ in await asyncio.gather(*before, *after)]
    assert [m.seq for m in msgs] == list(range(1, 11))  # in submission order, gapless
    assert [m.content for m in await store.messages_after(P_AB, 0, 20)] == [m.content for m in msgs]
    assert (await ok_acct).username == "fresh"
    assert count(store.path, "SELECT COUNT(*) FROM accounts") == 2
    assert await store.get_password_hash((await ok_acct).uid) == "h"


async def test_writer_thread_isolates_a_raising_call(tmp_path: Path) -> None:
    path = str(tmp_path / "w.sqlite")
    conn = raw(path)
    conn.execute("CREATE TABLE t(x INTEGER)")
    conn.close()
    w = dbthread.WriterThread(path, "test-writer")
    w.start(asyncio.get_running_loop())
    release = threading.Event()
    try:
        w.run(lambda c: release.wait(10))

        def insert(x: int) -> Callable[[sqlite3.Connection], int]:
            return lambda c: int(c.execute("INSERT INTO t VALUES (?) RETURNING x", (x,)).fetchone()[0])

        def boom(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO t VALUES (666)")
            raise RuntimeError("boom")

        futs: list[asyncio.Future[Any]] = [w.run(insert(1)), w.run(insert(2)), w.run(boom), w.run(insert(3))]
        release.set()
        done = await asyncio.gather(*futs, return_exceptions=True)
        assert done[:2] == [1, 2] and done[3] == 3
        assert isinstance(done[2], RuntimeError)
    finally:
        release.set()
        w.stop()
    conn = raw(path)
    rows = conn.execute("SELECT x FROM t ORDER BY x").fetchall()
    conn.close()
    assert rows == [(1,), (2,), (3,)]  # the failing call's own write was rolled back


async def test_message_extra_round_trips_whatever_its_values(store: SqliteStore) -> None:
    """Text-only extras share cached JSON; others are encoded each time, and 1, True and "1" stay apart."""
    extras: list[dict[str, Any]] = [
        {"origin": "omtp"},
        {"origin": "omtp"},
        {"priority": 1},
        {"priority": True},
        {"priority": "1"},
        {"mentions": [A, B], "origin": "beehive"},
    ]
    for i, extra in enumerate(extras):
        new = new_msg(P_AB, A, f"m{i}", f"x{i}")
        await store.append_message(dataclasses.replace(new, extra=extra))
    stored = await store.messages_after(P_AB, 0, 10)
    assert [m.extra for m in stored] == extras
    assert [type(m.extra["priority"]) for m in stored[2:5]] == [int, bool, str]
