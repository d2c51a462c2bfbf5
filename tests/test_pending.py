"""Pending: the commit result whose callbacks run in the settling call (the ack and the delivery of a
committed batch leave in the same loop turn)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from polyim.core.messaging import commit_then
from polyim.model import ConvId, Message
from polyim.pending import Pending


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


def test_a_callback_object_of_a_compiled_class_runs_inside_set_result() -> None:
    """A send's result is its append's callback (a :class:`~polyim.pending.Settles`, called as a native
    method): settling the append settles the send and delivers, in the same call; a send added to an
    append already settled is settled at once."""
    append: Pending[tuple[Message, bool]] = Pending()
    delivered: list[Message] = []
    send = commit_then(append, delivered.append)
    message = Message(ConvId.peer(10001, 10002), 1, 99, 10001, "pc", "c1", 1, "hi", 5)
    append.set_result((message, False))
    assert send.done() and send.result().message is message and delivered == [message]
    late = commit_then(append, delivered.append)
    assert late.result().message is message and delivered == [message, message]


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
