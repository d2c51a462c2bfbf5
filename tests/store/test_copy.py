"""``polyim db upgrade`` on PostgreSQL, and ``polyim db copy``: a single-node SQLite installation moved
onto PostgreSQL, every table verified, and the copy carrying on where the original stopped."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from pathlib import Path

import pytest

from polyim.model import Control, ControlCmd, ConvId, Group, MsgStatus, OfflineFile, RoomList, RoomRecord
from polyim.store import migrate
from polyim.store.postgres import PostgresStore
from polyim.store.sqlite import SqliteStore
from tests.conftest import write_config
from tests.store.support import P_AB, A, B, append, new_msg
from tests.test_cli import polyim

pytestmark = pytest.mark.scaled  # PostgreSQL and Redis (tests/engines.py)


async def _fill(path: str) -> None:
    s = SqliteStore(path)
    await s.open()
    try:
        await s.create_account("alice", "h1", uid=A, nickname="Al")
        await s.create_account("bob", "h2")
        for i in range(30):
            new = dataclasses.replace(
                new_msg(P_AB, A, f"m{i}", f"c{i}"), data=bytes([i, 0, 255]), extra={"n": i}
            )
            await append(s, new)
        await s.apply_control(
            Control(P_AB, 3, ControlCmd.RECALL, "r1", "", A, 1, "c2"), "dev", MsgStatus.RECALLED, None, [B], 5
        )
        g = await s.create_group(Group(0, "team", A), [A, B])
        await append(s, new_msg(ConvId.group(g.gid), B, "hi team", "g1"))
        await s.add_friends(A, B, "bobby", True)
        await s.bind_device((1 << 64) - 5, B, 1)  # an unsigned id past 2^63
        await s.save_room(RoomRecord(9, 100, owner=A, name="hall"))
        await s.set_room_user(9, B, RoomList.BANNED, True)
        await s.remember("trace-1", "done")
        await s.keep_offline_file(OfflineFile("task-1", A, B, "report.pdf", 1234, "f1", 5))
    finally:
        await s.close()


async def test_copy_moves_every_table_verified_and_the_copy_carries_on(
    tmp_path: Path, postgres_url: str
) -> None:
    cfg = write_config(tmp_path, f'[storage]\nurl = "{postgres_url}"\n')
    upgraded = polyim("db", "upgrade", config=cfg)
    latest = migrate.available()[-1][0]
    assert upgraded.returncode == 0 and upgraded.stdout.startswith(f"schema version {latest} (applied [6,")
    assert "up to date" in polyim("db", "upgrade", config=cfg).stdout

    path = str(tmp_path / "single.db")
    await _fill(path)
    copied = polyim("db", "copy", f"sqlite:///{path}", postgres_url, config=cfg)
    assert copied.returncode == 0, copied.stderr
    lines = dict(line.split("\t", 1) for line in copied.stdout.splitlines()[:-1])
    assert lines["messages"].startswith("31 rows") and lines["accounts"].startswith("2 rows")
    assert all(line.endswith("ok") for line in lines.values())
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert set(lines) == {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    again = polyim("db", "copy", f"sqlite:///{path}", postgres_url, config=cfg)
    assert again.returncode == 1 and "not empty" in again.stderr  # nothing doubled

    pg = PostgresStore(postgres_url)
    await pg.open()
    try:
        alice = await pg.get_account_by_name("alice")
        assert alice is not None and (alice.uid, alice.nickname) == (A, "Al")
        msgs = await pg.messages_after(P_AB, 0, 100)
        assert [m.content for m in msgs] == [f"m{i}" for i in range(30)]
        assert msgs[5].data == bytes([5, 0, 255]) and msgs[5].extra == {"n": 5}
        assert msgs[2].status is MsgStatus.RECALLED
        # the sequences and the seq allocator go on from the copied values
        nxt, dup = await append(pg, new_msg(P_AB, B, "after the move", "after"))
        assert (nxt.seq, dup) == (31, False)
        assert (await append(pg, new_msg(P_AB, A, "again", "c4")))[0] == msgs[4]
        carol = await pg.create_account("carol", "h3")
        assert carol.uid == (await pg.get_account_by_name("bob")).uid + 1  # type: ignore[union-attr]
        assert await pg.device_owner((1 << 64) - 5) == B
        assert await pg.room_users() == [
            dataclasses.replace((await pg.room_users())[0], kind=RoomList.BANNED)
        ]
        assert await pg.recall("trace-1") == "done"
        assert await pg.offline_files() == [OfflineFile("task-1", A, B, "report.pdf", 1234, "f1", 5)]
        entries = await pg.priority_entries(B, 0, 10, 0)
        assert [e.control.cmd for e in entries if e.control] == [ControlCmd.RECALL]
        ctl, dup = await pg.apply_control(
            Control(P_AB, 4, ControlCmd.RECALL, "r2", "", A, 1, "c3"), "dev", MsgStatus.RECALLED, None, [B], 6
        )
        assert not dup and [e.control for e in await pg.priority_entries(B, 0, 10, 0)][-1] == ctl
    finally:
        await pg.close()
