"""Offline files in PostgreSQL, as large objects: the file store of a scaled cluster.

Every node of a cluster must serve a file any node received (a TeamTalk recipient downloads from its
own node's file server; an HTTP link lands on any node), and the nodes share nothing but PostgreSQL and
Redis. A large object is PostgreSQL's own blob, read and written in pieces by server-side functions
(``lo_put``, ``lo_get``), kept with the database (its backups included) and removed by ``lo_unlink``.
So the operator runs and backs up nothing more; ``[files] dir`` names a shared directory instead,
for an installation whose files outgrow its database.

A file is written in one transaction, one 64 KiB piece per statement, so it is committed whole (durable
before :meth:`put` returns) or, on any error or a size past the limit, rolled back leaving nothing. Its id
is the large object's oid in decimal. Reads go one piece per query, on a connection of a small pool of
the store's own (an upload holds its connection for as long as it streams).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from polyim.store.base import FileRef, FileStore, FileTooLarge
from polyim.store.files import CHUNK
from polyim.store.postgres import in_a_task

PIECE = CHUNK  # as the local store: what a reader gets at a time
_POOL_SIZE = 4
_TIMEOUT = 30.0


class PgFileStore(FileStore):
    def __init__(self, dsn: str, max_file_bytes: int) -> None:
        self.dsn = dsn
        self.max_file_bytes = max_file_bytes
        self._pool: asyncpg.Pool | None = None

    async def _connections(self) -> asyncpg.Pool:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=0, max_size=_POOL_SIZE, command_timeout=_TIMEOUT, timeout=_TIMEOUT
            )
        return self._pool

    @in_a_task
    async def put(self, stream: AsyncIterator[bytes], limit: int | None = None) -> FileRef:
        cap = self.max_file_bytes if limit is None else min(limit, self.max_file_bytes)
        sha = hashlib.sha256()
        size = 0
        pool = await self._connections()
        async with pool.acquire() as conn, conn.transaction():
            oid = int(await conn.fetchval("SELECT lo_create(0)"))
            pending = bytearray()
            async for piece in stream:
                size += len(piece)
                if size > cap:
                    raise FileTooLarge(cap)  # the transaction rolls back: no object is left
                pending += piece
                while len(pending) >= PIECE:
                    await self._write(conn, oid, size - len(pending), bytes(pending[:PIECE]), sha)
                    del pending[:PIECE]
            if pending:
                await self._write(conn, oid, size - len(pending), bytes(pending), sha)
        return FileRef(str(oid), size, sha.hexdigest())

    @staticmethod
    async def _write(
        conn: PoolConnectionProxy, oid: int, offset: int, data: bytes, sha: hashlib._Hash
    ) -> None:
        sha.update(data)
        await conn.execute("SELECT lo_put($1::oid, $2::bigint, $3::bytea)", oid, offset, data)

    async def open(self, file_id: str) -> AsyncIterator[bytes]:
        oid = _oid(file_id)
        if await self.size(file_id) is None:
            raise FileNotFoundError(file_id)
        offset = 0
        while piece := await self._piece(oid, offset):
            offset += len(piece)
            yield piece

    @in_a_task
    async def _piece(self, oid: int, offset: int) -> bytes:
        pool = await self._connections()
        return bytes(await pool.fetchval("SELECT lo_get($1::oid, $2::bigint, $3)", oid, offset, PIECE))

    @in_a_task
    async def delete(self, file_id: str) -> bool:
        try:
            oid = _oid(file_id)
        except FileNotFoundError:
            return False
        pool = await self._connections()
        try:
            await pool.execute("SELECT lo_unlink($1::oid)", oid)
        except asyncpg.UndefinedObjectError:
            return False
        return True

    @in_a_task
    async def size(self, file_id: str) -> int | None:
        try:
            oid = _oid(file_id)
        except FileNotFoundError:
            return None
        return await self._length(await self._connections(), oid)

    @staticmethod
    async def _length(pool: asyncpg.Pool, oid: int) -> int | None:
        """The object's length, None when there is none (an object is readable by the role that made it,
        the one every node connects as)."""
        async with pool.acquire() as conn, conn.transaction():
            try:
                fd = await conn.fetchval("SELECT lo_open($1::oid, 262144)", oid)  # INV_READ
            except asyncpg.UndefinedObjectError:
                return None
            return int(await conn.fetchval("SELECT lo_lseek64($1, 0, 2)", fd))  # SEEK_END

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _oid(file_id: str) -> int:
    """The oid an id names; anything but an id this store made is unknown."""
    if not file_id.isdigit() or not 0 < int(file_id) < 2**32:
        raise FileNotFoundError(file_id)
    return int(file_id)
