"""The file store: blobs streamed in and out in chunks, never whole in memory, durable when stored,
refused past their size limit without a trace."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

import pytest

from polyim.store.base import FileStore, FileTooLarge
from polyim.store.files import CHUNK, LocalFileStore

MiB = 1024 * 1024

FILE_BACKENDS: list[Callable[[Path, int], FileStore]] = [lambda root, limit: LocalFileStore(root, limit)]


@pytest.fixture(params=FILE_BACKENDS, ids=["local"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[int], FileStore]:
    factory: Callable[[Path, int], FileStore] = request.param
    return lambda limit: factory(tmp_path / "files", limit)


@pytest.fixture
def files(make: Callable[[int], FileStore]) -> FileStore:
    return make(512 * MiB)


async def stream(pieces: Iterable[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def read_all(files: FileStore, file_id: str) -> list[bytes]:
    return [chunk async for chunk in files.open(file_id)]


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_round_trip_in_chunks_then_delete(files: FileStore) -> None:
    body = os.urandom(3 * CHUNK + 123)
    pieces = [body[:10], body[10:100_000], body[100_000:]]  # small and large pieces alike
    ref = await files.put(stream(pieces))
    assert (ref.size, ref.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    chunks = await read_all(files, ref.id)
    assert b"".join(chunks) == body and max(map(len, chunks)) <= CHUNK
    assert await files.size(ref.id) == len(body)
    other = await files.put(stream([]))
    assert (other.size, other.id != ref.id) == (0, True) and await read_all(files, other.id) == []

    assert await files.delete(ref.id)
    assert await files.size(ref.id) is None and not await files.delete(ref.id)
    with pytest.raises(FileNotFoundError):
        await read_all(files, ref.id)
    assert await files.size(other.id) == 0


async def test_ids_that_are_not_the_stores_name_nothing(files: FileStore, tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"x")
    for bad in ("../secret", "../../secret", "", "A" * 32, "0" * 31):
        assert await files.size(bad) is None and not await files.delete(bad)
        with pytest.raises(FileNotFoundError):
            await read_all(files, bad)
    assert (tmp_path / "secret").exists()


async def test_50_mb_streams_in_and_out_without_being_held_in_memory(files: FileStore) -> None:
    total, block = 50 * MiB, os.urandom(CHUNK)

    def pieces() -> Iterator[bytes]:
        """New objects of uneven sizes, mostly below a chunk (gathered) and some above (passed on)."""
        sent = 0
        for i in itertools.count():
            size = min(total - sent, 10_000 + 997 * (i % 70))
            if size <= 0:
                return
            yield (block * 2)[:size] if size > CHUNK else block[:size]
            sent += size

    expected = hashlib.sha256()
    for piece in pieces():
        expected.update(piece)
    tracemalloc.start()
    try:
        ref = await files.put(stream(pieces()))
        _, peak_in = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got, size = hashlib.sha256(), 0
        async for chunk in files.open(ref.id):
            got.update(chunk)
            size += len(chunk)
        _, peak_out = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (ref.size, size) == (total, total)
    assert ref.sha256 == got.hexdigest() == expected.hexdigest()
    assert peak_in < 2 * MiB and peak_out < 2 * MiB, (peak_in, peak_out)


async def test_past_the_limit_is_refused_and_nothing_is_kept(
    make: Callable[[int], FileStore], tmp_path: Path
) -> None:
    files = make(100_000)
    exact = await files.put(stream([b"x" * 60_000, b"y" * 40_000]))
    assert exact.size == 100_000  # the limit itself is allowed
    with pytest.raises(FileTooLarge) as too_big:
        await files.put(stream([b"x" * 60_000, b"y" * 40_001]))
    assert too_big.value.limit == 100_000
    with pytest.raises(FileTooLarge):  # a caller's lower limit
        await files.put(stream([b"x" * 501]), limit=500)
    with pytest.raises(FileTooLarge):  # a caller's higher limit does not lift the store's
        await files.put(stream([b"x" * 100_001]), limit=10**9)
    assert stored_files(tmp_path / "files") == [tmp_path / "files" / exact.id[:2] / exact.id]


async def test_a_failing_stream_leaves_nothing(files: FileStore, tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (2 * CHUNK)
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        await files.put(broken())
    assert stored_files(tmp_path / "files") == []


async def test_stored_means_fsynced_then_renamed_off_the_loop(
    files: FileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[tuple[str, bool]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        steps.append(("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file", on_loop()))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        steps.append(("rename", on_loop()))
        real_replace(src, dst)

    def on_loop() -> bool:
        return threading.current_thread() is threading.main_thread()

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    await files.put(stream([b"data"]))
    assert steps == [("file", False), ("rename", False), ("dir", False)]


async def test_a_crashed_stores_temporary_files_are_cleared(tmp_path: Path) -> None:
    leftover = tmp_path / "files" / "tmp" / "abc.part"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a file")
    files = LocalFileStore(tmp_path / "files", MiB)
    ref = await files.put(stream([b"whole"]))
    assert not leftover.exists()
    assert stored_files(tmp_path / "files") == [tmp_path / "files" / ref.id[:2] / ref.id]
