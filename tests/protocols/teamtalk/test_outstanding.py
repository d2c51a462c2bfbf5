"""The pushes a TeamTalk connection has not acknowledged (3/2) yet: bounded however many a client leaves
unacknowledged, and the newest one's 3/2 still moves the cursor."""

from __future__ import annotations

from polyim.core.events import MessageEvent
from polyim.core.sessions import Session
from polyim.model import ConvId, DeviceClass, Message
from polyim.protocols.teamtalk import codec as c
from polyim.protocols.teamtalk.adapter import (
    DELIVERY_WAIT,
    OUTSTANDING_KEPT,
    Endpoints,
    TeamTalkChannel,
    _acked_push,
)
from polyim.protocols.teamtalk.settings import TeamTalkSettings
from tests.protocols.support import NO_CORE, NO_SINK, FakeConn

ME, PEER = 10001, 10002


def _channel() -> tuple[TeamTalkChannel, FakeConn]:
    conn = FakeConn()
    ch = TeamTalkChannel(NO_CORE, conn, TeamTalkSettings(), "msg", Endpoints(), "127.0.0.1")
    ch.session = Session(ME, "d", DeviceClass.DESKTOP, "teamtalk", NO_SINK)
    return ch, conn


def _push(ch: TeamTalkChannel, seq: int) -> None:
    message = Message(ConvId.peer(ME, PEER), seq, seq, PEER, "d", f"c{seq}", 1, "hi", 1_700_000_000_000)
    ch.deliver(MessageEvent(message))


def test_a_client_that_acknowledges_nothing_keeps_a_bounded_set_and_its_newest_ack_counts() -> None:
    ch, conn = _channel()
    for seq in range(1, 5001):
        _push(ch, seq)
    assert len(conn.written) == 5000  # every push went out
    assert len(ch.outstanding) <= 2 * OUTSTANDING_KEPT
    # the newest push's 3/2 moves the delivered cursor to it; one dropped long ago names nothing
    assert _acked_push(ch, c.MsgDataAck(5000, str(PEER))) == (ConvId.peer(ME, PEER), 5000)
    assert _acked_push(ch, c.MsgDataAck(1, str(PEER))) is None


def test_pushes_whose_wait_is_over_are_dropped() -> None:
    ch, conn = _channel()
    for seq in range(1, 301):
        _push(ch, seq)
    conn.last_rx += DELIVERY_WAIT + 1
    for seq in range(301, 801):
        _push(ch, seq)
    assert all(key[0] > 300 for key in ch.outstanding)
    assert _acked_push(ch, c.MsgDataAck(800, str(PEER))) == (ConvId.peer(ME, PEER), 800)
