"""Channel's ordered work: a frame with nothing ahead of it starts at once (eagerly), and one that has to
wait holds the frames behind it until it is done, so a connection's frames are handled in order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from polyim.core.app import Core
from polyim.protocols.channel import Channel


class FakeConn:
    peer = "test:1"
    logged_in = False
    transport = None

    def __init__(self) -> None:
        self.closing = False

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True


def make_channel() -> tuple[Channel, FakeConn]:
    conn = FakeConn()
    return Channel(cast(Core, None), cast(Any, conn)), conn


async def test_work_that_never_waits_is_done_before_submit_returns() -> None:
    ch, _ = make_channel()
    seen: list[int] = []

    async def work(n: int) -> None:
        seen.append(n)

    for n in range(3):
        ch.submit(lambda n=n: work(n))  # type: ignore[misc]
        assert seen == list(range(n + 1))  # no task, no loop turn


async def test_a_waiting_frame_holds_the_next_ones_in_order() -> None:
    ch, _ = make_channel()
    seen: list[str] = []
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def slow() -> None:
        seen.append("slow started")
        await gate
        seen.append("slow done")

    async def quick(name: str) -> None:
        seen.append(name)

    ch.submit(slow)
    ch.submit(lambda: quick("second"))
    ch.submit(lambda: quick("third"))
    assert seen == ["slow started"]
    await asyncio.sleep(0.01)
    assert seen == ["slow started"]
    gate.set_result(None)
    await asyncio.sleep(0.01)
    assert seen == ["slow started", "slow done", "second", "third"]
    ch.submit(lambda: quick("fourth"))  # idle again: eager again
    assert seen[-1] == "fourth"


async def test_work_submitted_from_inside_work_runs_after_it() -> None:
    ch, _ = make_channel()
    seen: list[str] = []

    async def inner() -> None:
        seen.append("inner")

    async def outer() -> None:
        ch.submit(inner)
        seen.append("outer")

    ch.submit(outer)
    await asyncio.sleep(0.01)
    assert seen == ["outer", "inner"]


async def test_a_failing_frame_closes_its_connection(caplog: pytest.LogCaptureFixture) -> None:
    ch, conn = make_channel()

    async def broken() -> None:
        raise RuntimeError("handler bug")

    async def broken_later() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("late bug")

    with caplog.at_level(logging.ERROR):
        ch.submit(broken)
    assert conn.closing and "handler failed" in caplog.text
    ch2, conn2 = make_channel()
    ch2.submit(broken_later)
    assert not conn2.closing
    await asyncio.sleep(0.01)
    assert conn2.closing
