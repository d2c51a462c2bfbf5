"""Offline files on the local filesystem, under ``data_dir/files``.

A file is written to a temporary file in ``files/tmp``, fsynced, renamed to its final name and its
directory fsynced: a crash leaves either the whole file or nothing under its name (a leftover temporary
file is removed by the next process's first store). All file I/O runs on worker threads, one 64 KiB
chunk at a time, so the event loop never blocks on a disk and no file is ever whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from polyim.store.base import FileRef, FileStore, FileTooLarge

CHUNK = 64 * 1024

_ID = re.compile(r"^[0-9a-f]{32}$")


class LocalFileStore(FileStore):
    def __init__(self, root: str | Path, max_file_bytes: int) -> None:
        self.root = Path(root)
        self.max_file_bytes = max_file_bytes
        self._tmp = self.root / "tmp"
        self._prepared: asyncio.Lock | None = None
        self._ready = False

    async def put(self, stream: AsyncIterator[bytes], limit: int | None = None) -> FileRef:
        await self._prepare()
        cap = self.max_file_bytes if limit is None else min(limit, self.max_file_bytes)
        file_id = secrets.token_hex(16)
        out, tmp_name = await asyncio.to_thread(_create_temp, self._tmp)
        try:
            size, digest = await _copy(stream, out, cap)
            await asyncio.to_thread(_commit, out, tmp_name, self._path(file_id))
        except BaseException:
            await asyncio.to_thread(_discard, out, tmp_name)
            raise
        return FileRef(file_id, size, digest)

    async def open(self, file_id: str) -> AsyncIterator[bytes]:
        src = await asyncio.to_thread(self._path(file_id).open, "rb")
        try:
            while chunk := await asyncio.to_thread(src.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(src.close)

    async def delete(self, file_id: str) -> bool:
        try:
            await asyncio.to_thread(self._path(file_id).unlink)
        except FileNotFoundError:
            return False
        return True

    async def size(self, file_id: str) -> int | None:
        try:
            return (await asyncio.to_thread(self._path(file_id).stat)).st_size
        except FileNotFoundError:
            return None

    def _path(self, file_id: str) -> Path:
        """Where a file lives: ``files/ab/abcd…`` (256 directories keep each one small). Anything but an
        id this store made is refused as unknown, so an id can never name a path outside the store."""
        if not _ID.match(file_id):
            raise FileNotFoundError(file_id)
        return self.root / file_id[:2] / file_id

    async def _prepare(self) -> None:
        """Once per process, before the first store: make the directories and drop the temporary files
        a crashed process left (no store of this process has started yet)."""
        if self._ready:
            return
        if self._prepared is None:
            self._prepared = asyncio.Lock()
        async with self._prepared:
            if not self._ready:
                await asyncio.to_thread(_clear_temp, self._tmp)
                self._ready = True


async def _copy(stream: AsyncIterator[bytes], out: IO[bytes], cap: int) -> tuple[int, str]:
    """Write ``stream`` to ``out`` in chunks of about :data:`CHUNK` (small pieces are gathered first, so
    a thread hop carries a useful amount), hashing on the same thread; refuse past ``cap`` bytes."""
    sha = hashlib.sha256()
    size = 0
    pending = bytearray()
    async for piece in stream:
        size += len(piece)
        if size > cap:
            raise FileTooLarge(cap)
        if not pending and len(piece) >= CHUNK:  # a big piece goes as it is, not copied
            await asyncio.to_thread(_write, out, sha, piece)
            continue
        pending += piece
        if len(pending) >= CHUNK:
            chunk, pending = bytes(pending), bytearray()
            await asyncio.to_thread(_write, out, sha, chunk)
    if pending:
        await asyncio.to_thread(_write, out, sha, bytes(pending))
    return size, sha.hexdigest()


def _write(out: IO[bytes], sha: hashlib._Hash, chunk: bytes) -> None:
    sha.update(chunk)  # releases the GIL for large buffers, like the write
    out.write(chunk)


def _create_temp(tmp_dir: Path) -> tuple[IO[bytes], str]:
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    return os.fdopen(fd, "wb"), name


def _commit(out: IO[bytes], tmp_name: str, final: Path) -> None:
    """Durable before it is visible: data fsynced, then renamed, then the directory entry fsynced."""
    out.flush()
    os.fsync(out.fileno())
    out.close()
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_name, final)
    _fsync_dir(final.parent)


def _discard(out: IO[bytes], tmp_name: str) -> None:
    out.close()
    Path(tmp_name).unlink(missing_ok=True)


def _clear_temp(tmp_dir: Path) -> None:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for leftover in tmp_dir.glob("*.part"):
        leftover.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
