"""What the store tests share: the backends they run on, and test data.

A backend is a factory of :class:`Backend` (called with the test's temporary directory); the store
suite runs once per entry of :data:`BACKENDS`, so a second implementation adds itself there and runs
every test that is not about SQLite's own machinery.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from polyim.model import ConvId, Message
from polyim.store.base import NewMessage, Store
from polyim.store.postgres import PostgresStore
from polyim.store.sqlite import SqliteStore
from tests.engines import run_sync, shared_postgres

A, B, C = 10001, 10002, 10003
P_AB = ConvId.peer(A, B)
P_AC = ConvId.peer(A, C)


class Backend(Protocol):
    """One store implementation on one database, and a view into that database from outside it."""

    def make(self) -> Store:
        """A new, unopened store on this backend's database (again after a close: a restart)."""
        ...

    def count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """The number one SQL query returns (``?`` placeholders), read by a connection of its own."""
        ...

    def held(self, store: Store) -> AbstractContextManager[None]:
        """While inside, ``store`` commits nothing, so every write submitted meanwhile shares one batch."""
        ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = str(tmp_path / "db.sqlite")

    def make(self) -> Store:
        return SqliteStore(self.path)

    def count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        return count(self.path, sql, args)

    def held(self, store: Store) -> AbstractContextManager[None]:
        assert isinstance(store, SqliteStore)
        return writer_held(store)


class PostgresBackend:
    """A fresh database on the session's throw-away PostgreSQL server (:mod:`tests.engines`)."""

    name = "postgresql"

    def __init__(self, tmp_path: Path) -> None:
        self.url = shared_postgres().database()

    def make(self) -> Store:
        return PostgresStore(self.url)

    def count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        numbers = itertools.count(1)
        numbered = re.sub(r"\?", lambda _: f"${next(numbers)}", sql)

        async def read() -> int:
            conn = await asyncpg.connect(self.url)
            try:
                return int(await conn.fetchval(numbered, *args))
            finally:
                await conn.close()

        return run_sync(read)

    @contextmanager
    def held(self, store: Store) -> Iterator[None]:
        """Queue a writer call that waits until the block ends: every write made meanwhile waits behind it
        and joins its transaction."""
        assert isinstance(store, PostgresStore)
        release = asyncio.Event()

        async def hold(_c: Any) -> None:
            await release.wait()

        store._writer.run(hold)
        try:
            yield
        finally:
            release.set()


BACKENDS: list[Callable[[Path], Backend]] = [SqliteBackend, PostgresBackend]


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


async def append(store: Store, new: NewMessage) -> tuple[Message, bool]:
    """``store.append_message(new)`` awaited, as the (stored message, was a resend) pair tests unpack."""
    result = await store.append_message(new)
    return result.message, result.duplicate


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
