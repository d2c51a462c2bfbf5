"""``core/files.py``: who may join, upload, download and delete a transfer; the size limit, the
uploader's quota, retention, and the recipient's signed link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from polyim.config import AccountSettings
from polyim.core.app import Core
from polyim.core.errors import Code
from polyim.core.events import FileEvent
from polyim.core.files import FileLimits, clean_name
from polyim.store.files import LocalFileStore
from polyim.store.sqlite import SqliteStore
from tests.core.test_core import online, refused, user

LIMITS = FileLimits(max_size=1000, user_quota=1500, task_timeout_s=60, keep_days=1)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    store = SqliteStore(str(tmp_path / "db.sqlite"))
    c = Core(store, AccountSettings(), secret=b"k", files=LocalFileStore(tmp_path / "files", 10_000))
    await c.start()
    yield c
    await c.stop()


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_an_offline_file_from_offer_to_deletion(core: Core) -> None:
    a, b, c = [await user(core, n) for n in ("fa", "fb", "fc")]
    sa, _ = await online(core, a)
    _, sink_b = await online(core, b)
    task = await core.transfers.offer(sa, b, "../x/report.txt", 5, True, LIMITS)
    assert (task.name, core.transfers.may_join(c, task), core.transfers.may_join(b, task)) == (
        "report.txt",
        False,
        True,
    )
    core.transfers.announce(task)
    assert [e.ready for e in sink_b.of(FileEvent)] == [False]
    assert not await core.transfers.register(a, task)  # nothing uploaded yet
    await core.transfers.store_upload(task, _bytes(b"hello"))
    assert not await core.transfers.register(b, task) and await core.transfers.register(a, task)
    assert [t.task_id for t in await core.transfers.waiting_for(b, LIMITS)] == [task.task_id]
    assert b"".join([chunk async for chunk in core.transfers.read(task)]) == b"hello"
    token = core.transfers.link_token(task, 60)
    assert await core.transfers.by_link(task.task_id, token, LIMITS) is task
    assert (
        await core.transfers.by_link(task.task_id, core.accounts.issue_token(b, task.task_id), LIMITS) is None
    )
    assert not await core.transfers.delete(a, task)  # only the recipient deletes
    assert await core.transfers.delete(b, task)
    assert core.transfers.find(task.task_id, LIMITS) is None


async def test_size_limit_quota_blocks_and_retention(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = await user(core, "qa"), await user(core, "qb")
    sa, _ = await online(core, a)
    await refused(Code.TOO_LARGE, core.transfers.offer(sa, b, "f", 0, True, LIMITS))
    await refused(Code.TOO_LARGE, core.transfers.offer(sa, b, "f", 1001, True, LIMITS))
    await refused(Code.USER_NOT_FOUND, core.transfers.offer(sa, 999_999, "f", 1, True, LIMITS))
    first = await core.transfers.offer(sa, b, "f", 1000, True, LIMITS)
    await refused(Code.LIMIT, core.transfers.offer(sa, b, "f", 501, True, LIMITS))
    online_task = await core.transfers.offer(sa, b, "big", 10**9, False, LIMITS)  # a relay keeps nothing
    await core.relations.set_blocked(b, a, True)
    await refused(Code.BLOCKED, core.transfers.offer(sa, b, "f", 1, True, LIMITS))
    now = core.clock.now_ms()
    monkeypatch.setattr(core.ctx.clock, "time_ns", lambda: (now + 61_000) * 1_000_000)
    assert await core.transfers.expire(LIMITS) == 2  # the abandoned upload and the idle relay
    assert core.transfers.find(first.task_id, LIMITS) is None
    assert core.transfers.find(online_task.task_id, LIMITS) is None


async def test_a_waiting_offline_file_survives_a_restart_until_it_is_deleted(tmp_path: Path) -> None:
    def make() -> Core:
        store = SqliteStore(str(tmp_path / "db.sqlite"))
        return Core(store, AccountSettings(), secret=b"k", files=LocalFileStore(tmp_path / "files", 10_000))

    first = make()
    await first.start()
    a, b = await user(first, "ra"), await user(first, "rb")
    sa, _ = await online(first, a)
    task = await first.transfers.offer(sa, b, "kept.txt", 4, True, LIMITS)
    await first.transfers.store_upload(task, _bytes(b"kept"))
    assert await first.transfers.register(a, task)
    unregistered = await first.transfers.offer(sa, b, "half.txt", 4, True, LIMITS)  # never announced
    await first.stop()

    again = make()
    await again.start()
    waiting = await again.transfers.waiting_for(b, LIMITS)
    assert [(t.task_id, t.name, t.size, t.sender) for t in waiting] == [(task.task_id, "kept.txt", 4, a)]
    assert again.transfers.find(unregistered.task_id, LIMITS) is None
    assert b"".join([chunk async for chunk in again.transfers.read(waiting[0])]) == b"kept"
    assert await again.transfers.delete(b, waiting[0])
    await again.stop()

    last = make()
    await last.start()
    assert await last.transfers.waiting_for(b, LIMITS) == []
    await last.stop()


def test_file_names_are_metadata_only() -> None:
    assert clean_name("C:\\Users\\me\\a\x00b.txt") == "ab.txt"
    assert clean_name("../../") == "file"
