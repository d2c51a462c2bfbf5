"""The protocol-agnostic connection: bytes in to a handler, coalesced writes out, timers, back-pressure.

It is an ``asyncio.Protocol`` (design.md §1: cheaper per frame and per connection than streams).
``data_received`` never awaits: it hands the bytes to the protocol handler, which decodes and queues
work. Writes made during one loop turn are joined into a single ``transport.write``. Stream listeners
call a handler's ``feed``; message listeners (:mod:`~polyim.transport.websocket`,
:mod:`~polyim.transport.udp`) its ``feed_message``, so no adapter asks which one it is on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final, cast

from mypy_extensions import mypyc_attr

from polyim.logctx import LogContext, bind, scoped
from polyim.transport.admission import Admission, Ticket, host_of, peer_name
from polyim.transport.handlers import Closable as Closable
from polyim.transport.handlers import Handler as Handler
from polyim.transport.handlers import MessageHandler as MessageHandler
from polyim.transport.handlers import StreamHandler as StreamHandler
from polyim.transport.listener import shared_ports
from polyim.transport.timers import PerLoop, Timer, timer_heap

log = logging.getLogger(__name__)

#: Write-buffer sizes: above ``WRITE_HIGH_WATER`` the handler is told (``writing_paused``) so it can
#: pause what feeds the connection; above ``MAX_WRITE_BUFFER`` (the default of each listener's
#: ``max_write_buffer`` setting) a consumer that nobody paused for is cut (the slow-consumer rule).
WRITE_HIGH_WATER: Final = 256 * 1024
MAX_WRITE_BUFFER: Final = 4 * 1024 * 1024


# A handler that keeps its connection past a deadline (its ``timed_out`` did not close it) is asked
# again after this many seconds.
_RETRY_TIMEOUT = 1.0


@mypyc_attr(allow_interpreted_subclasses=True)  # the WebSocket and UDP peers' connections
class ConnBase:
    """What every kind of connection shares, and all an adapter sees of one (TCP :class:`Connection`,
    :class:`polyim.transport.websocket.WsConnection`, :class:`polyim.transport.udp.UdpPeer`): the
    login and idle deadlines, its slot among the listener's connections not logged in (given back at
    login or close), and per-channel deadlines.

    The login deadline (``login_timeout`` after opening) and the idle one (input at least every
    ``idle_timeout`` once logged in) are one entry on the loop's timer heap per connection, moved
    lazily: input only stores ``last_rx``, and when the entry comes due it is either the deadline, or
    set again for the one it has become. No sweep walks every connection every second."""

    __slots__ = (
        "_closing",
        "_deadline",
        "_handler",
        "_logged_in",
        "_ticket",
        "idle_timeout",
        "last_rx",
        "log_context",
        "login_timeout",
        "opened",
        "peer",
    )

    _closing: bool
    _deadline: Timer | None
    _handler: Handler | None
    _logged_in: bool
    _ticket: Ticket | None
    #: Seconds without input after login before the connection is closed; a protocol whose deadline
    #: depends on the client (TeamTalk: PC or mobile) sets it at login.
    idle_timeout: float
    #: When the transport last received from the peer (monotonic seconds): the adapters' ``now``, so
    #: that no adapter reads a clock of its own.
    last_rx: float
    #: Who the connection's log lines are about; its channel sets it (``polyim/logctx.py``).
    log_context: LogContext | None
    login_timeout: float
    opened: float
    peer: str

    @property
    def closing(self) -> bool:
        return self._closing

    # What an adapter uses of its connection, whatever the transport, each its own way. Declared here,
    # not in a ``Protocol``, so that compiled code holding a ``ConnBase`` (every channel; a room's
    # fan-out: 5,000 writes a message) calls them natively.
    def write(self, data: bytes) -> None:
        """Send ``data`` to the peer."""
        raise NotImplementedError

    def close(self) -> None:
        """Send what is queued, then close."""
        raise NotImplementedError

    def abort(self) -> None:
        """Close at once, dropping what is queued."""
        raise NotImplementedError

    def pause_reading(self) -> None:
        """Take no more input until :meth:`resume_reading` (the handler has too much to do)."""
        raise NotImplementedError

    def resume_reading(self) -> None:
        raise NotImplementedError

    @property
    def logged_in(self) -> bool:
        return self._logged_in

    @logged_in.setter
    def logged_in(self, value: bool) -> None:
        """At login the slot is given back, and the login deadline becomes the idle one: the entry
        moves later by itself when it comes due, but an idle deadline earlier than the login one
        (seldom: the defaults are the other way round) needs an entry of its own. Logged out again, the
        connection has a fresh login deadline (it takes no slot again: it is no new connection)."""
        self._logged_in = value
        if value:
            self._release_slot()
            delay = self.last_rx + self.idle_timeout - time.monotonic()
        else:  # a session ended on a live connection (XMMEP sign-out): the login deadline starts again
            self.opened = time.monotonic()
            delay = self.login_timeout
        deadline = self._deadline
        if deadline is not None and timer_heap().time() + delay < deadline.when:
            deadline.cancel()
            self._arm(delay)

    def take_slot(self, admission: Admission | None, host: str) -> bool:
        """Take a slot among the listener's connections not logged in; False when it is refused."""
        if admission is None:
            return True
        self._ticket = admission.admit(host)
        return self._ticket is not None

    def _release_slot(self) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            ticket.release()

    def start_deadlines(self) -> None:
        """Arm the login deadline; called once the connection has its handler."""
        self._arm(self.opened + self.login_timeout - time.monotonic())

    def stop_deadlines(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None:
            deadline.cancel()

    def _arm(self, delay: float) -> None:
        self._deadline = timer_heap().call_later(max(delay, 0.0), self._deadline_due)

    def _deadline_due(self) -> None:
        self._deadline = None
        handler = self._handler
        if self._closing or handler is None:
            return
        if self._logged_in:
            left = self.last_rx + self.idle_timeout - time.monotonic()
        else:
            left = self.opened + self.login_timeout - time.monotonic()
        if left > 0:
            self._arm(left)
            return
        with scoped(self.log_context):  # the heap's callback runs in no connection's context
            handler.timed_out(self._logged_in)
        if not self._closing:
            self._arm(_RETRY_TIMEOUT)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` in ``delay`` seconds unless the connection has closed by then."""

        def fire() -> None:
            if not self._closing:
                with scoped(self.log_context):
                    callback()

        return timer_heap().call_later(delay, fire)


class Connection(asyncio.Protocol, ConnBase):
    """One client connection over TCP (or any stream transport)."""

    __slots__ = (
        "_buf",
        "_flush_scheduled",
        "_log_bound",
        "_queued",
        "_reading_paused",
        "_transport",
        "_write_paused",
        "handler_factory",
        "registry",
    )

    def __init__(
        self,
        handler_factory: Callable[[Connection], StreamHandler],
        registry: ConnectionSet,
        idle_timeout: float,
        login_timeout: float,
    ) -> None:
        self.handler_factory = handler_factory
        self.registry = registry
        self.idle_timeout = idle_timeout
        self.login_timeout = login_timeout
        self._transport: asyncio.Transport | None = None
        self._handler = None  # a StreamHandler once connected: typed as ConnBase's (mypyc keeps one type)
        self._ticket: Ticket | None = None
        self._deadline: Timer | None = None
        self._buf: list[bytes] = []
        self._queued = 0  # bytes in _buf
        self._flush_scheduled = False
        self._closing = False
        self._reading_paused = False
        self._write_paused = False  # the transport's buffer is past its high-water mark
        self.peer = ""
        self.opened = self.last_rx = time.monotonic()
        self._logged_in = False
        self.log_context: LogContext | None = None
        self._log_bound = False  # log_context is bound in the context data_received runs in

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        self.peer = peer_name(peer)
        if not self.take_slot(self.registry.admission, host_of(peer)):
            self._closing = True
            self._transport.abort()
            return
        # below the slow-consumer limit, so that ``flush`` hears of every buffer that could pass it
        self._transport.set_write_buffer_limits(high=min(WRITE_HIGH_WATER, self.registry.max_write_buffer))
        self.registry.add(self)
        self._handler = self.handler_factory(self)
        self.start_deadlines()

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        if not self._log_bound:  # once per connection (and after a resume: asyncio's reader moves)
            self._log_bound = True
            bind(self.log_context)
        handler = self._handler
        if handler is not None and not self._closing:
            cast(StreamHandler, handler).feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.discard(self)
        self.stop_deadlines()
        self._release_slot()
        self._closing = True
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.connection_lost()

    def pause_writing(self) -> None:
        """The transport's buffer passed the high-water mark: the handler may pause what feeds it."""
        self._write_paused = True
        if self._handler is not None:
            self._handler.writing_paused()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._handler is not None:
            self._handler.writing_resumed()

    # -- used by handlers -------------------------------------------------------------------------
    @property
    def transport(self) -> asyncio.Transport | None:
        return self._transport

    def pause_reading(self) -> None:
        """Stop reading from the socket (the handler has too much to do, or what it relays to is full)."""
        if not self._reading_paused and self._transport is not None and not self._closing:
            self._reading_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and not self._closing:
            self._reading_paused = False
            self._log_bound = False
            self._transport.resume_reading()

    def write(self, data: bytes) -> None:
        """Queue bytes; everything queued in this loop turn goes out in one write. Past the high-water
        mark the queue is written at once, so the transport tells the handler (``writing_paused``)
        while the turn goes on: uvloop hands one connection many reads in one turn, and a relay must
        pause its source after the first of them, not after megabytes."""
        if self._closing:
            return
        self._buf.append(data)
        self._queued += len(data)
        if self._queued > WRITE_HIGH_WATER:  # a global: this runs at every write
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.registry.flushes.add(self)

    def flush(self) -> None:
        """Write what is queued (called by the loop's flush pass, and before a close).

        A transport can close under a connection with bytes queued (a reset read later in the same
        turn; ``connection_lost`` comes after): uvloop raises on a write to it, so those bytes are
        dropped here, as asyncio's own transports drop them. Past the listener's
        ``max_write_buffer`` the consumer is cut: a handler that relays to this connection pauses its
        source at the high-water mark (``writing_paused``) and never lets it get that far."""
        self._flush_scheduled = False
        transport = self._transport
        if not self._buf or transport is None:
            return
        data = self._buf[0] if len(self._buf) == 1 else b"".join(self._buf)
        self._buf.clear()
        self._queued = 0
        if transport.is_closing():
            return
        transport.write(data)
        if not self._write_paused:  # the transport calls pause_writing inside write, past high-water
            return
        queued = transport.get_write_buffer_size()
        if queued > self.registry.max_write_buffer:
            log.warning("%s: slow consumer (%d bytes queued), closing", self.peer, queued)
            self.registry.slow_consumers += 1
            self.abort()

    def close(self) -> None:
        """Flush what is queued, then close."""
        if self._closing:
            return
        self.flush()
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self._closing = True
        self._buf.clear()
        self._queued = 0
        if self._transport is not None:
            self._transport.abort()


class FlushPass:
    """The loop's one flush pass: every connection with queued bytes, of every listener, written by one
    loop callback in the order each was first written to in the turn.

    One pass for all listeners, not one per listener: a commit settles a send's ack and its delivery
    one after the other, so the two ends of a conversation are written side by side even when they
    speak different protocols. Per-listener passes wrote every OMTP connection, then every beehive one
    …: the two clients of a mixed pair answered at different moments, their next sends fell into
    different commits, and each connection got its acks and its partner's messages in two writes
    instead of one (0.45 of a mixed connection's reads held only one of the two, against 0.01 with
    one protocol). A room message fanned out to 5,000 connections still schedules one callback."""

    __slots__ = ("_dirty", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Connection] = []

    def add(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if len(self._dirty) == 1:
            self._loop.call_soon(self._run)

    def _run(self) -> None:
        """A failure is that connection's alone: it is aborted, and the pass goes on, or every
        connection after it would keep its bytes (and, marked as scheduled, never be flushed again)."""
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            try:
                conn.flush()
            except Exception:
                log.exception("%s: write failed, closing", conn.peer)
                conn.abort()


_passes = PerLoop(FlushPass)


def flush_pass() -> FlushPass:
    """The running loop's flush pass, made on first use."""
    return _passes.get()


class ConnectionSet:
    """All connections of a listener (counted for /metrics and node reports, closed at shutdown).

    It carries the listener's limits: the admission of connections not logged in, and the write-buffer
    marks; its connections' writes go out in the loop's :class:`FlushPass` (made in a running loop).
    """

    def __init__(
        self,
        *,
        admission: Admission | None = None,
        max_write_buffer: int = MAX_WRITE_BUFFER,
    ) -> None:
        self._conns: set[Closable] = set()
        self.flushes = flush_pass()
        self.admission = admission
        self.max_write_buffer = max_write_buffer
        self.slow_consumers = 0  # connections cut past max_write_buffer, for /metrics

    def add(self, conn: Closable) -> None:
        self._conns.add(conn)

    def discard(self, conn: Closable) -> None:
        self._conns.discard(conn)

    def __len__(self) -> int:
        return len(self._conns)

    def close_all(self) -> None:
        for conn in list(self._conns):
            conn.close()


async def serve_tcp(
    host: str,
    port: int,
    handler_factory: Callable[[Connection], StreamHandler],
    *,
    idle_timeout: float,
    login_timeout: float,
    admission: Admission | None = None,
    max_write_buffer: int = MAX_WRITE_BUFFER,
) -> tuple[asyncio.Server, ConnectionSet]:
    """A stream listener: each connection's bytes go to its handler's ``feed``. With ``admission``,
    connections past its cap of ones not logged in are closed as they arrive."""
    conns = ConnectionSet(admission=admission, max_write_buffer=max_write_buffer)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(handler_factory, conns, idle_timeout, login_timeout),
        host,
        port,
        backlog=4096,
        reuse_port=shared_ports() or None,
    )
    return server, conns
