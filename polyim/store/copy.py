"""``polyim db copy SQLITE_URL PG_URL``: move a single-node installation onto PostgreSQL.

Both databases are brought to the current schema version first (one schema, two dialects: the tables
and columns are the same), then every table is copied in one transaction with PostgreSQL's COPY, and
verified: each table's row count and an order-independent checksum of its rows (the sum of a SHA-256
per row) must be equal on both sides, or the command fails. The target must be empty, so a second run
cannot double anything. The source is only read (after its migrations), and may be copied while no
server writes to it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from polyim.store.postgres import PostgresStore
from polyim.store.sqlite import SqliteStore

_MOD = 1 << 256
#: Tables whose rows the target already has after its migrations (replaced by the source's).
_SEEDED = ("sequences",)


class CopyError(Exception):
    """The copy was refused or did not verify; nothing is left half-done in the target."""


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    rows: int
    checksum: str  # hex, the same on both sides when the copy verified


def _row_hash(row: Iterable[Any]) -> int:
    """A row's digest from its values alone (bytes and memoryview alike, ints not floats)."""
    parts = [bytes(v) if isinstance(v, memoryview | bytes) else v for v in row]
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest(), "big")


def _summary(rows: Iterable[Iterable[Any]]) -> tuple[int, int]:
    count = total = 0
    for row in rows:
        count += 1
        total = (total + _row_hash(row)) % _MOD
    return count, total


async def copy_sqlite_to_postgres(sqlite_path: str, pg_url: str) -> list[TableCheck]:
    """Copy and verify every table; a :class:`CopyError` if the target is not empty or a table differs."""
    await SqliteStore(sqlite_path).upgrade()
    await PostgresStore(pg_url).upgrade()
    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    dst = await asyncpg.connect(pg_url)
    try:
        tables = await _tables(dst)
        async with dst.transaction():
            for table, columns in tables.items():
                await _copy_table(src, dst, table, columns)
            await dst.execute(
                "SELECT setval(pg_get_serial_sequence('controls', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                " FROM controls"
            )
        return [await _verify(src, dst, table, columns) for table, columns in tables.items()]
    finally:
        src.close()
        await dst.close()


async def _tables(dst: asyncpg.Connection) -> dict[str, list[str]]:
    rows = await dst.fetch(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name <> 'schema_version' ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


async def _copy_table(
    src: sqlite3.Connection, dst: asyncpg.Connection, table: str, columns: list[str]
) -> None:
    if table in _SEEDED:
        await dst.execute(f"DELETE FROM {table}")
    elif await dst.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
        raise CopyError(f"the target is not empty: table {table} has rows")
    cursor = src.execute(f"SELECT {', '.join(columns)} FROM {table}")
    while rows := cursor.fetchmany(5000):
        records = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]
        try:
            await dst.copy_records_to_table(table, records=records, columns=columns)
        except (TypeError, ValueError, asyncpg.DataError) as exc:
            raise CopyError(f"table {table}: a row does not fit the PostgreSQL schema: {exc}") from exc


async def _verify(
    src: sqlite3.Connection, dst: asyncpg.Connection, table: str, columns: list[str]
) -> TableCheck:
    select = f"SELECT {', '.join(columns)} FROM {table}"
    source = _summary(src.execute(select))
    async with dst.transaction():
        target = _summary([tuple(r) async for r in dst.cursor(select)])
    if source != target:
        raise CopyError(
            f"table {table} differs after the copy: {source[0]} rows in the source, {target[0]} in the target"
        )
    return TableCheck(table, source[0], f"{source[1]:064x}"[:16])
