"""Channel's ordered work: a frame with nothing ahead of it starts at once (eagerly), and one that has to
wait holds the frames behind it until it is done, so a connection's frames are handled in order."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import sys
from collections.abc import Sequence
from typing import cast

import pytest

from polyim.cluster.local import local_cluster
from polyim.core.events import Event, MessageEvent
from polyim.core.sessions import Session, SessionRegistry, Sink, fan_out
from polyim.model import ConvId, DeviceClass, Message
from polyim.protocols.beehive.adapter import BeehiveChannel
from polyim.protocols.beehive.settings import BeehiveSettings
from polyim.protocols.channel import Channel
from polyim.protocols.omtp.adapter import OmtpChannel
from polyim.protocols.omtp.settings import OmtpSettings
from tests.protocols.support import NO_CORE, NO_SINK, FakeConn


def make_channel() -> tuple[Channel, FakeConn]:
    conn = FakeConn()
    return Channel(NO_CORE, conn), conn


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


async def test_a_command_whose_session_ended_while_it_waited_stops_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A frame behind a LOGIN that closes the connection, or a client gone mid-command: the handler
    resumes without a session. It stops there, without a traceback or an error count; a handler that
    asks for the session of a connection still open (a bug) still fails loudly."""
    ch, conn = make_channel()
    ch.session = Session(7, "d", DeviceClass.DESKTOP, ch.protocol, NO_SINK)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[int] = []
    failures = NO_CORE.stats.errors.get((ch.protocol, "handler"), 0)

    async def waits_then_acts() -> None:
        await gate
        seen.append(ch.me)

    with caplog.at_level(logging.INFO):
        ch.submit(waits_then_acts)
        ch.session = None  # connection_lost, as the transport calls it
        conn.close()
        gate.set_result(None)
        await asyncio.sleep(0.01)
    assert seen == [] and "handler failed" not in caplog.text
    assert "session ended under a running command" in caplog.text
    assert NO_CORE.stats.errors.get((ch.protocol, "handler"), 0) == failures

    open_ch, open_conn = make_channel()

    async def asks_too_early() -> None:
        seen.append(open_ch.me)

    with caplog.at_level(logging.ERROR):
        open_ch.submit(asks_too_early)
    assert open_conn.closing and "handler failed" in caplog.text and seen == []


def test_a_dropped_channel_is_freed_by_reference_counting() -> None:
    """No channel is a reference cycle (its event renderers are one table per adapter class), so a closed
    connection's state goes at once, not at the collector's next full pass over every live session."""
    message = Message(ConvId.peer(1, 2), 1, 1, 1, "d", "c", 1, "hi", 0)
    gc.disable()
    try:
        for make in (
            lambda conn: OmtpChannel(NO_CORE, conn, OmtpSettings()),
            lambda conn: BeehiveChannel(NO_CORE, conn, BeehiveSettings(), 1, websocket=False),
        ):
            conn = FakeConn()
            ch: Channel = make(conn)
            # beehive renders for a logged-in channel only; the session's sink is not the channel (no cycle)
            ch.session = Session(2, "d", DeviceClass.DESKTOP, ch.protocol, NO_SINK)
            ch.deliver(MessageEvent(message))  # through the class's table
            assert conn.written
            # The channel holds its connection: freeing the channel gives that reference back at once. (A
            # compiled channel takes no weak reference.)
            held = sys.getrefcount(conn)
            del ch
            assert sys.getrefcount(conn) < held
    finally:
        gc.enable()


class _Renders(Channel):
    """A channel whose renderer writes the message's content, and fails for the connections marked."""

    protocol = "test"
    bulk_fails = False

    def __init__(self, fails: bool = False) -> None:
        super().__init__(NO_CORE, FakeConn())
        self.fails = fails

    def _render(self, event: MessageEvent) -> None:
        if self.fails:
            raise ValueError("renderer bug")
        self.conn.write(event.message.content.encode())

    @classmethod
    def write_all(cls, sinks: Sequence[Sink], event: Event) -> bool:
        if cls.bulk_fails:
            raise ValueError("shared rendering bug")
        return False


_Renders.events = {MessageEvent: _Renders._render}


def _written(ch: Channel) -> list[bytes]:
    return cast(FakeConn, ch.conn).written


def test_a_renderer_failure_closes_its_connection_and_spares_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster = local_cluster(1)
    registry = SessionRegistry(cluster.directory, cluster.router, itertools.count(1).__next__)
    channels = [_Renders(fails=uid == 11) for uid in (10, 11, 12)]
    for uid, ch in zip((10, 11, 12), channels, strict=True):
        registry.attach(Session(uid, f"d{uid}", DeviceClass.MOBILE, "test", ch))
    message = Message(ConvId.group(7), 1, 1, 10, "d", "c", 1, "hello", 0)
    with caplog.at_level(logging.ERROR):
        registry.deliver([11, 12, 10], MessageEvent(message))
    assert "could not render MessageEvent" in caplog.text
    assert [ch.conn.closing for ch in channels] == [False, True, False]
    assert _written(channels[0]) == _written(channels[2]) == [b"hello"]


def test_a_failed_shared_rendering_falls_back_to_each_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_Renders, "bulk_fails", True)
    channels = [_Renders(fails=i == 1) for i in range(3)]
    sessions = [Session(20 + i, "d", DeviceClass.MOBILE, "test", ch) for i, ch in enumerate(channels)]
    message = Message(ConvId.peer(1, 2), 1, 1, 1, "d", "c", 1, "room", 0)
    with caplog.at_level(logging.ERROR):
        assert fan_out(sessions, MessageEvent(message)) == 3
    assert "fan-out of MessageEvent failed" in caplog.text
    assert [_written(ch) for ch in channels] == [[b"room"], [], [b"room"]]
    assert [ch.conn.closing for ch in channels] == [False, True, False]
