"""Pending: the commit result whose callbacks run in the settling call (the ack and the delivery of a
committed batch leave in the same loop turn)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from polyim.core.messaging import commit_then
from polyim.pending import Pending
from polyim.store.sqlite import SqliteStore
from tests.store.support import P_AB, A, new_msg


def test_callbacks_run_in_order_inside_set_result() -> None:
    p: Pending[int] = Pending()
    seen: list[str] = []
    p.add_done_callback(lambda r: seen.append(f"ack {r.result()}"))
    p.add_done_callback(lambda r: seen.append(f"deliver {r.result()}"))
    p.add_done_callback(lambda r: seen.append(f"count {r.result()}"))
    assert seen == [] and not p.done()
    p.set_result(7)
    assert seen == ["ack 7", "deliver 7", "count 7"]  # no loop turn in between: no loop is even running
    p.add_done_callback(lambda r: seen.append("late"))  # already settled: runs at once
    assert seen[-1] == "late"


async def test_the_writer_settles_a_send_result_which_then_delivers(tmp_path: Path) -> None:
    """A send's result is settled by the store's writer itself (``append_message(new, into)``): the
    adapter's callback sees it settled first, then the committed message is delivered, in that one
    call; a resend settles to the original, marked duplicate, and is not delivered again."""
    store = SqliteStore(str(tmp_path / "db.sqlite"))
    await store.open()
    try:
        seen: list[str] = []
        send = commit_then(store, new_msg(P_AB, A, "hi", "c1"), lambda m: seen.append(f"deliver {m.seq}"))
        send.add_done_callback(lambda r: seen.append(f"ack {r.result().message.seq}"))
        first = await send
        assert seen == ["ack 1", "deliver 1"] and not first.duplicate and first.message.content == "hi"
        again = await commit_then(store, new_msg(P_AB, A, "changed", "c1"), lambda m: seen.append("again"))
        assert again.duplicate and again.message == first.message and seen == ["ack 1", "deliver 1"]
    finally:
        await store.close()


def test_a_failing_callback_does_not_starve_the_others(caplog: pytest.LogCaptureFixture) -> None:
    p: Pending[int] = Pending()
    seen: list[int] = []

    def broken(_: Pending[int]) -> None:
        raise RuntimeError("adapter bug")

    p.add_done_callback(broken)
    p.add_done_callback(lambda r: seen.append(r.result()))
    with caplog.at_level(logging.ERROR):
        p.set_result(3)
    assert seen == [3]
    assert "callback of a settled result failed" in caplog.text


def test_exception_and_state_errors() -> None:
    p: Pending[int] = Pending()
    with pytest.raises(asyncio.InvalidStateError):
        p.result()
    with pytest.raises(asyncio.InvalidStateError):
        p.exception()
    p.set_exception(OSError("disk full"))
    assert isinstance(p.exception(), OSError) and not p.cancelled()
    with pytest.raises(OSError, match="disk full"):
        p.result()
    with pytest.raises(asyncio.InvalidStateError):
        p.set_result(1)  # settled once only


async def test_await_before_and_after_settling() -> None:
    p: Pending[str] = Pending()
    asyncio.get_running_loop().call_later(0.01, p.set_result, "committed")
    assert await p == "committed"
    assert await p == "committed"  # a settled result awaits without suspending
    failed: Pending[str] = Pending()
    asyncio.get_running_loop().call_soon(failed.set_exception, ValueError("rolled back"))
    with pytest.raises(ValueError, match="rolled back"):
        await failed
