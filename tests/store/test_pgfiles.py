"""Offline files in PostgreSQL (large objects), the file store of a scaled cluster: what one store put is
read by another on the same database (another node), a file is committed whole or not at all, and
ids it never made name nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterable

import asyncpg
import pytest

from polyim.store.base import FileTooLarge
from polyim.store.files import CHUNK
from polyim.store.pgfiles import PgFileStore
from tests.engines import shared_postgres

pytestmark = pytest.mark.scaled  # PostgreSQL (tests/engines.py)


async def stream(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def objects(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata"))
    finally:
        await conn.close()


async def test_a_file_put_by_one_node_is_read_and_deleted_by_another() -> None:
    url = shared_postgres().database()
    node_a, node_b = PgFileStore(url, 10**8), PgFileStore(url, 10**8)
    try:
        body = os.urandom(3 * CHUNK + 123)
        ref = await node_a.put(stream([body[:10], body[10:100_000], body[100_000:]]))
        assert (ref.size, ref.sha256) == (len(body), hashlib.sha256(body).hexdigest())
        chunks = [chunk async for chunk in node_b.open(ref.id)]
        assert b"".join(chunks) == body and max(map(len, chunks)) <= CHUNK
        assert await node_b.size(ref.id) == len(body)
        empty = await node_a.put(stream([]))
        assert await node_b.size(empty.id) == 0
        assert await node_b.delete(ref.id) and not await node_a.delete(ref.id)
        assert await node_a.size(ref.id) is None
        with pytest.raises(FileNotFoundError):
            [chunk async for chunk in node_a.open(ref.id)]
    finally:
        await node_a.close()
        await node_b.close()


async def test_past_the_limit_or_a_failing_stream_nothing_is_kept_and_strange_ids_name_nothing() -> None:
    url = shared_postgres().database()
    files = PgFileStore(url, 100_000)
    try:
        with pytest.raises(FileTooLarge):
            await files.put(stream([b"x" * 60_000, b"y" * 40_001]))

        async def broken() -> AsyncIterator[bytes]:
            yield b"x" * (CHUNK + 10)  # one piece written before the failure
            raise ConnectionResetError("peer went away")

        with pytest.raises(ConnectionResetError):
            await files.put(broken())
        assert await objects(url) == 0
        for bad in ("../secret", "", "0", "x1", str(2**32), "12345"):
            assert await files.size(bad) is None and not await files.delete(bad)
            with pytest.raises(FileNotFoundError):
                [chunk async for chunk in files.open(bad)]
    finally:
        await files.close()
