"""beehive's room fan-out (``rooms.write_all``): one rendering for the whole room, and a failure in it
never sends a connection the same frame twice."""

from __future__ import annotations

from typing import cast

import pytest

from polyim.core.events import RoomBroadcast, RoomChange, RoomEvent
from polyim.core.sessions import Session
from polyim.model import DeviceClass
from polyim.protocols.beehive import rooms  # noqa: F401  (registers the room fan-out and renderers)
from polyim.protocols.beehive.adapter import BeehiveChannel
from polyim.protocols.beehive.codec import HEADER, HEADER_SIZE, Cmd
from polyim.protocols.beehive.settings import BeehiveSettings
from tests.protocols.support import NO_CORE, NO_SINK, FakeConn


def _room(bsids: list[int]) -> list[BeehiveChannel]:
    channels = []
    for bsid in bsids:
        ch = BeehiveChannel(NO_CORE, FakeConn(), BeehiveSettings(), 1, websocket=False)
        ch.session = Session(bsid, "d", DeviceClass.DESKTOP, "beehive", NO_SINK)  # logged in
        ch.bsid = bsid
        channels.append(ch)
    return channels


def _broadcast() -> RoomEvent:
    bc = RoomBroadcast(rid=7, msgid=41, data=b"hello", ts_ms=1_700_000_000_000, expire_s=60)
    return RoomEvent(7, RoomChange.BC, broadcast=bc)


def test_one_frame_per_connection_with_its_own_sid() -> None:
    channels = _room([101, 102, 103])
    BeehiveChannel.deliver_all(channels, _broadcast())
    for ch in channels:
        (frame,) = cast(FakeConn, ch.conn).written
        cmd, length, sid, *_ = HEADER.unpack_from(frame)
        assert (cmd, sid, len(frame)) == (Cmd.ROOM_BC, ch.bsid, HEADER_SIZE + length)


@pytest.mark.parametrize(
    "event",
    [
        _broadcast(),
        RoomEvent(7, RoomChange.JOIN, uid=10001),
        RoomEvent(7, RoomChange.QUIT, uid=10002),
        RoomEvent(7, RoomChange.DISMISS),
    ],
    ids=["bc", "join-ntf", "quit-ntf", "dismiss"],
)
def test_the_shared_rendering_is_each_connections_own(event: RoomEvent) -> None:
    """The whole-room path writes, byte for byte, the frame each connection would render for itself."""
    shared, own = _room([101, 102]), _room([101, 102])
    BeehiveChannel.deliver_all(shared, event)
    for a, b in zip(shared, own, strict=True):
        b.cid = a.cid  # the connection id comes from a counter
        b.deliver(event)
    for a, b in zip(shared, own, strict=True):
        assert cast(FakeConn, a.conn).written == cast(FakeConn, b.conn).written
        assert len(cast(FakeConn, a.conn).written) == 1


def test_a_header_out_of_range_drops_that_connections_frame_alone() -> None:
    """The second connection's header cannot be written (its sid is beyond 64 bits): its frame is dropped
    with a log line, as its own push drops it; the first and third get the broadcast once."""
    channels = _room([101, 2**64, 103])
    BeehiveChannel.deliver_all(channels, _broadcast())
    conns = [cast(FakeConn, ch.conn) for ch in channels]
    assert [len(c.written) for c in conns] == [1, 0, 1]


class _Flaky(FakeConn):
    """A connection whose state cannot be read the first time: the shared rendering fails on it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    @property
    def closing(self) -> bool:
        self.reads += 1
        if self.reads == 1:
            raise RuntimeError("state not readable")
        return False


def test_a_failed_rendering_sends_nobody_a_frame_twice() -> None:
    """The shared path fails at the second connection, after making the first one's frame: the fallback
    goes connection by connection, and each connection gets the broadcast exactly once."""
    channels = _room([101, 102, 103])
    channels[1].conn = _Flaky()
    BeehiveChannel.deliver_all(channels, _broadcast())
    assert [len(cast(FakeConn, ch.conn).written) for ch in channels] == [1, 1, 1]
