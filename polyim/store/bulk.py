"""A bulk load of 1:1 messages into a SQLite store that no server has open: ``polyim bench --prefill``.

Why a path of its own: the writer thread commits with ``synchronous=FULL`` and appends a loop turn's
messages at a time, ~20,000 messages/s on this machine, so ten million would take most of a day. This
path writes the same rows (the ``messages`` schema of the migrations, the ``conversations`` last seq and
activity, a ``user_convs`` row per participant with each sender's read and delivered cursor at the last
seq it sent) the way :class:`~polyim.store.sqlite.SqliteStore` would leave them, but in transactions of
``chunk`` rows without a journal (``journal_mode=OFF``, ``synchronous=OFF``: an index page touched by a
chunk is written once, not to the WAL and again at the checkpoint) and with a large page cache; the file
is back in WAL mode, and on disk, when it returns. A load that dies half-way leaves a file to throw away, and it must
not run beside a server on the same file: it keeps every conversation's last seq in its memory.

Rows go in in the order given, as arrivals would: interleave the conversations to get a store whose
pages look like a busy server's (a conversation's messages scattered over the table), not one
conversation after another.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from polyim.model import ConvId, ConvKind
from polyim.store.migrate import migrate

_INSERT = (
    "INSERT INTO messages(conv, seq, msg_id, sender, device, client_id, ctype, content, extra, ts_ms)"
    " VALUES (?,?,?,?,?,?,?,?,?,?)"
)


@dataclass(frozen=True, slots=True)
class BulkMessage:
    """A 1:1 text message to load; the seq is given by the load, in the order of arrival."""

    conv: ConvId
    sender: int
    client_id: str  # unique per (sender, device), as the dedup index wants
    content: str
    ts_ms: int
    msg_id: int


@dataclass(slots=True)
class _Tally:
    """What the load keeps in memory: each conversation's last seq and activity, each sender's cursor."""

    seqs: dict[str, int]
    activity: dict[str, int]
    reads: dict[tuple[int, str], int]


def bulk_append(
    path: str,
    messages: Iterable[BulkMessage],
    *,
    device: str = "bulk",
    extra: str = '{"origin":"omtp"}',
    chunk: int = 500_000,
    progress: Callable[[int, float], None] | None = None,
) -> int:
    """Append ``messages`` (1:1 conversations only) to the store at ``path``; returns how many. The
    schema is migrated first, so an empty file works. ``progress(count, seconds)`` after each chunk."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn)
        conn.execute("PRAGMA journal_mode=OFF")  # each dirty page written once per chunk, not twice
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-2000000")  # 2 GB: the indexes stay in memory while they grow
        tally = _Tally({}, {}, {})
        total = _insert_all(conn, messages, tally, device, extra, chunk, progress)
        _write_state(conn, tally)
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    _fsync(path)
    return total


def _fsync(path: str) -> None:
    """Put the load on disk before returning: otherwise the kernel writes its hundreds of megabytes back
    in the seconds after, under whatever runs next (the bench's timed part, whose commits fsync too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _insert_all(
    conn: sqlite3.Connection,
    messages: Iterable[BulkMessage],
    tally: _Tally,
    device: str,
    extra: str,
    chunk: int,
    progress: Callable[[int, float], None] | None,
) -> int:
    t0 = time.monotonic()
    total = 0
    rows: list[tuple[str, int, int, int, str, str, int, str, str, int]] = []
    for m in messages:
        if m.conv.kind is not ConvKind.PEER:
            raise ValueError(f"bulk_append loads 1:1 messages only, not {m.conv.key}")
        key = m.conv.key
        seq = tally.seqs.get(key)
        if seq is None:
            row = conn.execute("SELECT last_seq FROM conversations WHERE conv=?", (key,)).fetchone()
            seq = int(row[0]) if row else 0
        seq += 1
        tally.seqs[key] = seq
        tally.activity[key] = m.ts_ms * 1000
        tally.reads[(m.sender, key)] = seq
        rows.append((key, seq, m.msg_id, m.sender, device, m.client_id, 1, m.content, extra, m.ts_ms))
        if len(rows) >= chunk:
            total += _commit_rows(conn, rows)
            if progress is not None:
                progress(total, time.monotonic() - t0)
    total += _commit_rows(conn, rows)
    if progress is not None:
        progress(total, time.monotonic() - t0)
    return total


def _commit_rows(
    conn: sqlite3.Connection, rows: list[tuple[str, int, int, int, str, str, int, str, str, int]]
) -> int:
    n = len(rows)
    if n:
        conn.execute("BEGIN")
        conn.executemany(_INSERT, rows)
        conn.execute("COMMIT")
        rows.clear()
    return n


def _write_state(conn: sqlite3.Connection, tally: _Tally) -> None:
    """The rows the writer keeps beside the messages: last seq and activity per conversation, a state row
    for both participants, and each sender's read and delivered cursor at the last seq it sent."""
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO conversations(conv, last_seq, activity_us) VALUES (?,?,?) ON CONFLICT(conv) DO UPDATE"
        " SET last_seq=max(last_seq, excluded.last_seq), activity_us=max(activity_us, excluded.activity_us)",
        [(key, seq, tally.activity[key]) for key, seq in tally.seqs.items()],
    )
    members = []
    for key in tally.seqs:
        conv = ConvId.from_key(key)
        members += [(conv.a, key), (conv.b, key)]
    conn.executemany("INSERT OR IGNORE INTO user_convs(uid, conv) VALUES (?,?)", members)
    conn.executemany(
        "UPDATE user_convs SET read_seq=max(read_seq, ?), delivered_seq=max(delivered_seq, ?)"
        " WHERE uid=? AND conv=?",
        [(seq, seq, uid, key) for (uid, key), seq in tally.reads.items()],
    )
    conn.execute("COMMIT")
