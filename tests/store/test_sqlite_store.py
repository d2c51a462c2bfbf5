"""What is SQLite's own: the versioned migrations, the reader's batched point lookups, the writer
thread's grouped commits and their failure isolation, the query plans of the send path, and durability
across ``kill -9``. The backend-neutral contract is ``test_store.py``."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polyim.model import AccountUpdate, Control, ControlCmd, ConvId, MsgStatus
from polyim.store import dbthread
from polyim.store import sqlite as sqlite_module
from polyim.store.migrate import available, current_version, migrate
from polyim.store.sqlite import SqliteStore
from tests.store.support import P_AB, P_AC, A, B, append, count, new_msg, raw, writer_held


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
        again, duplicate = await append(s, new_msg(P_AB, A, "resent", "c2"))
        assert duplicate and (again.seq, again.content) == (2, "m2")
        fresh, duplicate = await append(s, new_msg(P_AB, A, "m4", "c4"))
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


# -- durability and grouped commits -------------------------------------------------------------
_CHILD = """
import asyncio, os, signal, sys
from polyim.model import ConvId
from polyim.store.base import NewMessage
from polyim.store.sqlite import SqliteStore

async def main():
    s = SqliteStore(sys.argv[1])
    await s.open()
    conv = ConvId.peer(1, 2)
    pad = "x" * int(sys.argv[2])
    res = await asyncio.gather(*(s.append_message(NewMessage(conv, i, 1, "d", f"c{i}", 1, f"m{i}{pad}", 0, i))
                                 for i in range(300)))
    print(max(r.message.seq for r in res), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def _append_300_and_kill_9(path: str, pad: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, path, str(pad)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert proc.stdout.strip() == "300"


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite")
    _append_300_and_kill_9(path, pad=0)
    assert count(path, "SELECT COUNT(*) FROM messages") == 300
    assert count(path, "SELECT MAX(seq) FROM messages") == 300


def test_writes_only_in_a_long_wal_survive_kill_9(tmp_path: Path) -> None:
    """The writer checkpoints every 8,000 WAL pages, not SQLite's 1,000: 300 messages of 20 KB (about
    1,500 pages) are acked from the WAL alone, and a crash before any checkpoint loses none of them."""
    path = str(tmp_path / "db.sqlite")
    _append_300_and_kill_9(path, pad=20_000)
    assert os.path.getsize(path + "-wal") > 1000 * 4096  # past where SQLite's default would checkpoint
    assert os.path.getsize(path) < 1000 * 4096  # and none of it was: the database file holds the schema
    assert count(path, "SELECT COUNT(*) FROM messages WHERE length(content) > 20000") == 300
    assert count(path, "SELECT MAX(seq) FROM messages") == 300


async def test_writer_groups_concurrent_writes_into_few_commits(
    tmp_path: Path, statements: list[str]
) -> None:
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        statements.clear()
        results = await asyncio.gather(*(append(s, new_msg(P_AB, A, f"m{i}")) for i in range(500)))
        assert sorted(m.seq for m, _ in results) == list(range(1, 501))
        assert 1 <= commits(statements) < 50, commits(statements)

        # while the writer is busy, everything submitted lands in a single transaction
        statements.clear()
        with writer_held(s):
            futs = [asyncio.ensure_future(append(s, new_msg(P_AC, A, f"n{i}"))) for i in range(500)]
            await asyncio.sleep(0)
        stored = await asyncio.gather(*futs)
        assert commits(statements) == 2  # the holding job's batch and one batch for the 500
        assert count(s.path, "SELECT COUNT(*) FROM messages") == 1000
        assert sorted(m.seq for m, _ in stored) == list(range(1, 501))
        for msg, _ in stored[::97]:
            assert await s.get_message(msg.conv, msg.seq) == msg
    finally:
        await s.close()


async def test_send_path_never_scans_messages_or_controls(tmp_path: Path, statements: list[str]) -> None:
    """The dedup lookups of a send and of a recall must use the (partial) unique indexes: a full scan
    of the messages table on every send would make sends slower as history grows."""
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        statements.clear()
        await append(s, new_msg(P_AB, A, "x", "cid-1", priority=(B,)))
        await append(s, new_msg(P_AB, A, "x", "cid-1"))
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


async def test_a_notification_is_found_by_id_through_its_index(tmp_path: Path, statements: list[str]) -> None:
    """``message_by_id`` of a notification reads the partial index of schema v9, whose condition (a range
    of keys, not LIKE) its query repeats; a chat row is not in that index."""
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        pushed, _ = await append(s, new_msg(ConvId.notify(A), 0, "push", topic="t"))
        chat, _ = await append(s, new_msg(P_AB, A, "chat"))
        statements.clear()
        assert await s.message_by_id(ConvId.notify(A), pushed.msg_id) == pushed
        assert await s.message_by_id(P_AB, chat.msg_id) == chat
        assert await s.message_by_id(ConvId.notify(B), pushed.msg_id) is None
    finally:
        await s.close()
    lookup = next(q for q in statements if "msg_id=" in q and "'n:'" in q)
    conn = raw(s.path)
    try:
        plan = " | ".join(str(row[3]) for row in conn.execute("EXPLAIN QUERY PLAN " + lookup))
        in_index = conn.execute("SELECT COUNT(*) FROM messages INDEXED BY messages_notify_id"
                                " WHERE conv >= 'n:' AND conv < 'n;'").fetchone()[0]  # fmt: skip
    finally:
        conn.close()
    assert "USING INDEX messages_notify_id" in plan, plan
    assert in_index == 1


async def test_a_batch_of_appends_goes_in_a_few_statements_that_call_no_function(
    tmp_path: Path, statements: list[str]
) -> None:
    """500 appends of one turn in 256 + 3 × 64 + 3 × 16 + 4 rows, not one statement each (the sqlite3
    module's per-row cost); and the statement calls no SQL function, which would make SQLite keep a
    statement journal for it (every index page it touches copied to a temporary file first)."""
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        with writer_held(s):
            futs = [asyncio.ensure_future(append(s, new_msg(P_AB, A, f"m{i}"))) for i in range(500)]
            await asyncio.sleep(0)
        statements.clear()
        stored = await asyncio.gather(*futs)
    finally:
        await s.close()
    assert sorted(m.seq for m, _ in stored) == list(range(1, 501))
    inserts = [q for q in statements if q.startswith("INSERT OR IGNORE INTO messages")]
    assert [q.count("),(") + 1 for q in inserts] == [256, 64, 64, 64, 16, 16, 16, 4]
    conn = raw(s.path)
    try:
        program = conn.execute("EXPLAIN " + sqlite_module._MULTI_ROW[4], [0] * 48).fetchall()
    finally:
        conn.close()
    assert not {row[1] for row in program} & {"Function", "PureFunc"}


async def test_the_writer_connection_has_a_page_cache_for_a_whole_transaction(tmp_path: Path) -> None:
    """A chat transaction dirties ~930 pages; with SQLite's 2 MB default they were read back from the
    file at every commit. The readers keep the default."""
    s = SqliteStore(str(tmp_path / "db.sqlite"))
    await s.open()
    try:
        writer = await s._writer.run(lambda c: c.execute("PRAGMA cache_size").fetchone()[0])
        reader = await s._reader.run(lambda c: c.execute("PRAGMA cache_size").fetchone()[0])
    finally:
        await s.close()
    assert writer == -dbthread.WRITER_CACHE_KIB and dbthread.WRITER_CACHE_KIB >= 32 * 1024
    assert reader == -2000


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


def _may_lower_nice() -> bool:
    """Whether this process may lower a thread's nice value (root, CAP_SYS_NICE or RLIMIT_NICE)."""
    probe: list[bool] = []

    def attempt() -> None:
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) - 1)
            probe.append(True)
        except OSError:
            probe.append(False)

    t = threading.Thread(target=attempt)
    t.start()
    t.join()
    return probe[0]


async def test_the_writer_thread_is_favoured_where_the_system_allows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every ack waits for the writer: it runs some nice steps ahead of the loop that feeds it, or, when
    the process may not raise a priority, keeps its own and says so."""
    caplog.set_level("INFO", logger="polyim.store.dbthread")
    w = dbthread.WriterThread(str(tmp_path / "w.sqlite"), "test-writer")
    w.start(asyncio.get_running_loop())
    try:
        assert await w.run(lambda c: 1) == 1
        writer_tid = w._thread.native_id
        assert writer_tid is not None
        nice = os.getpriority(os.PRIO_PROCESS, writer_tid)
    finally:
        w.stop()
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if _may_lower_nice():
        assert nice == max(-20, mine - dbthread.WRITER_PRIORITY_BOOST)
    else:
        assert nice == mine and "test-writer keeps its scheduling priority" in caplog.text


_SQLITE_PROBE = """
import ctypes, _sqlite3, sqlite3, sys
if sys.argv[1] == "open-first":
    early = sqlite3.connect(":memory:")
from polyim.store import dbthread
from polyim.store import sqlite as sqlite_module
from polyim.store.sqlite import SqliteStore
import asyncio

async def main():
    store = SqliteStore(sys.argv[2])
    await store.open()
    try:
        await store.create_account("alice", "h")
        assert (await store.get_account_by_name("alice")) is not None  # written by one thread, read by another
    finally:
        await store.close()

asyncio.run(main())
lib = ctypes.CDLL(_sqlite3.__file__)
lib.sqlite3_memory_used.restype = ctypes.c_int64
lib.sqlite3_db_mutex.restype = ctypes.c_void_p
db = ctypes.c_void_p()
assert lib.sqlite3_open_v2(b":memory:", ctypes.byref(db), 6, None) == 0
print(dbthread.SQLITE_MULTITHREAD, lib.sqlite3_memory_used() != 0, lib.sqlite3_db_mutex(db) is not None)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the configuration is made on Linux only")
@pytest.mark.parametrize(
    ("first", "expected"), [("import-first", "True False False"), ("open-first", "False True True")]
)
def test_sqlite_runs_without_connection_mutexes_unless_a_connection_was_open_first(
    tmp_path: Path, first: str, expected: str
) -> None:
    """A message stored took some 60 mutex lock/unlock pairs in SQLite's serialized mode. Imported before
    any connection exists, the store puts the library in multi-thread mode (a connection has no mutex)
    with memory statistics off (nothing counted); with a connection already open it must leave the
    library as it is, and the store works either way. A fresh process: the library is set once."""
    proc = subprocess.run(
        [sys.executable, "-c", _SQLITE_PROBE, first, str(tmp_path / "db.sqlite")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[-2] == expected


async def _two_transactions_apart(
    w: dbthread.WriterThread, settle_seconds: float, *, spin: bool = False
) -> tuple[float, int]:
    """Commit one job whose result takes ``settle_seconds`` of the loop's time to settle (on the CPU when
    ``spin``, else asleep), then two more jobs 0.1 s apart (wide enough that a stalled machine does not
    merge them); returns the time between the first two transactions' starts and how many transactions
    the last two took."""
    loop = asyncio.get_running_loop()
    started: list[float] = []

    def stamp(c: sqlite3.Connection) -> None:
        started.append(time.perf_counter())

    settled = loop.create_future()

    def costly(value: Any, exc: BaseException | None) -> None:
        if spin:  # the loop fanning a message out
            _spin(settle_seconds)
        else:
            time.sleep(settle_seconds)
        settled.set_result(None)

    w.submit(stamp, costly)
    await settled
    commits = w.commits
    second = w.run(stamp)
    await asyncio.sleep(0.1)
    await asyncio.gather(second, w.run(stamp))
    return started[1] - started[0], w.commits - commits


_MB = bytes(1 << 20)


def _spin(seconds: float) -> None:
    """On the CPU for ``seconds``, mostly in ``sha256``, which lets go of the GIL: a pure-Python spin would
    starve the writer thread of it, which a real settle (a C write per connection, a socket call) does not."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        hashlib.sha256(_MB).digest()


async def _keep_the_loop_busy(stop: asyncio.Event) -> None:
    """A loop with no time to spare: on the CPU in 2 ms slices, letting other callbacks run between."""
    while not stop.is_set():
        _spin(0.002)
        await asyncio.sleep(0)


async def test_a_busy_writer_lingers_after_a_costly_settle_so_the_next_messages_share_a_commit(
    tmp_path: Path,
) -> None:
    """With the loop at full CPU, a commit whose settle was costly (a group message fanned out to many
    connections) makes the writer wait before its next transaction, so what arrives meanwhile shares
    one commit and one write per connection; after a cheap settle (1:1 chat) it does not wait."""
    w = dbthread.WriterThread(str(tmp_path / "w.sqlite"), "test-writer")
    w.max_linger = 0.5  # well above the machine's scheduling noise
    w.load.busy_from, w.load.idle_below = 0.3, 0.2  # a spinning loop, even beside another test worker
    stop = asyncio.Event()
    w.start(asyncio.get_running_loop())
    burner = asyncio.ensure_future(_keep_the_loop_busy(stop))
    try:
        await asyncio.sleep(2 * dbthread.BUSY_WINDOW)
        await w.run(lambda c: None)  # the writer measures the load between transactions
        assert w.load.busy
        apart, transactions = await _two_transactions_apart(w, settle_seconds=0.05, spin=True)
        assert apart >= 0.45 and transactions == 1  # 0.5 s from BEGIN, less the first job's own BEGIN
        assert w.linger_seconds > 0.3
        apart, transactions = await _two_transactions_apart(w, settle_seconds=0.0)
        assert apart < 0.25 and transactions == 2
    finally:
        stop.set()
        await burner
        w.stop()


async def test_a_writer_with_cpu_to_spare_commits_without_lingering(tmp_path: Path) -> None:
    """On a server with CPU to spare the same costly settle does not delay the next commit: waiting
    would save no CPU that is short, and it doubled the p99 of 1:1 chat at 5,000 msg/s."""
    w = dbthread.WriterThread(str(tmp_path / "w.sqlite"), "test-writer")
    w.max_linger = 0.5
    w.start(asyncio.get_running_loop())
    try:
        await asyncio.sleep(2 * dbthread.BUSY_WINDOW)
        await w.run(lambda c: None)
        assert not w.load.busy
        apart, transactions = await _two_transactions_apart(w, settle_seconds=0.05)
        assert apart < 0.25 and transactions == 2
        assert w.linger_seconds == 0
    finally:
        w.stop()


async def test_submitted_jobs_report_after_their_commit_and_a_raising_one_alone_fails(tmp_path: Path) -> None:
    """The append path's ``submit``: each ``on_done`` runs once its batch is committed (another
    connection already sees the row), and a raising job fails alone, its own write rolled back."""
    path = str(tmp_path / "w.sqlite")
    conn = raw(path)
    conn.execute("CREATE TABLE t(x INTEGER)")
    conn.close()
    w = dbthread.WriterThread(path, "test-writer")
    w.start(asyncio.get_running_loop())
    release = threading.Event()
    reports: list[tuple[Any, str, int]] = []
    done = asyncio.Event()

    def on_done(value: Any, exc: BaseException | None) -> None:
        reader = raw(path)  # the job's own row, or the failed job's 666
        visible = int(reader.execute("SELECT COUNT(*) FROM t WHERE x=?", (value or 666,)).fetchone()[0])
        reader.close()
        reports.append((value, type(exc).__name__ if exc else "", visible))
        if len(reports) == 3:
            done.set()

    def insert(x: int) -> Callable[[sqlite3.Connection], int]:
        return lambda c: int(c.execute("INSERT INTO t VALUES (?) RETURNING x", (x,)).fetchone()[0])

    def boom(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t VALUES (666)")
        raise RuntimeError("boom")

    try:
        w.run(lambda c: release.wait(10))
        for job in (insert(1), boom, insert(2)):
            w.submit(job, on_done)
        release.set()
        await asyncio.wait_for(done.wait(), 10)
    finally:
        release.set()
        w.stop()
    assert sorted(reports, key=lambda r: str(r[0])) == [(1, "", 1), (2, "", 1), (None, "RuntimeError", 0)]


def _rows_in_main_file(path: str, copy: Path) -> int:
    """Rows of ``t`` in the database file alone, without its WAL: what a checkpoint has copied back.
    -1 when the copy is torn: one taken while the checkpointer writes pages may be (that is no fault of
    the server's, whose readers go through the WAL index)."""
    copy.write_bytes(Path(path).read_bytes())
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    except sqlite3.DatabaseError:
        return -1
    finally:
        conn.close()


async def _commit_rows(w: dbthread.WriterThread, transactions: int, rows: int) -> None:
    for _ in range(transactions):
        await w.run(lambda c: c.executemany("INSERT INTO t VALUES (?)", [(b"x" * 2000,)] * rows))


def _writer_with_threshold(path: str, pages: int, monkeypatch: pytest.MonkeyPatch) -> dbthread.WriterThread:
    """A started writer over a fresh table ``t`` whose own checkpoint threshold is ``pages``."""
    monkeypatch.setattr(dbthread, "WRITER_AUTOCHECKPOINT_PAGES", pages)
    conn = raw(path)
    conn.execute("CREATE TABLE t(x BLOB)")
    conn.close()
    w = dbthread.WriterThread(path, "test-writer")
    w.start(asyncio.get_running_loop())
    return w


async def test_a_burst_of_commits_reaches_the_database_file_without_the_writer_checkpointing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The WAL is copied back by the checkpointer's thread: within a second of a burst of commits the
    database file alone holds them, though the writer's own threshold is set out of its reach."""
    path = str(tmp_path / "w.sqlite")
    w = _writer_with_threshold(path, 1_000_000, monkeypatch)
    try:
        await _commit_rows(w, 100, 10)  # 2 MB through the WAL
        copy = tmp_path / "copy.sqlite"
        deadline = time.monotonic() + 5
        rows = _rows_in_main_file(path, copy)
        while rows != 100 * 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            rows = _rows_in_main_file(path, copy)
        assert rows == 100 * 10
    finally:
        w.stop()


async def test_under_steady_commits_the_wal_is_rewritten_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However long the writer commits without a pause, the WAL file stays near the writer's threshold
    (here 1,000 pages, 4 MB) instead of growing with all that went through it."""
    path = str(tmp_path / "w.sqlite")
    w = _writer_with_threshold(path, 1_000, monkeypatch)
    wal = Path(path + "-wal")
    largest = 0
    try:
        for _ in range(20):  # 20 MB in all
            await _commit_rows(w, 50, 10)
            largest = max(largest, wal.stat().st_size)
    finally:
        w.stop()
    assert 0 < largest < 3 * 1_000 * 4096
