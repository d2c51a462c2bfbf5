"""The protocol-agnostic connection: bytes in to a handler, coalesced writes out, timers, back-pressure.

It is an ``asyncio.Protocol`` (design.md §1: cheaper per frame and per connection than streams).
``data_received`` never awaits: it hands the bytes to the protocol handler, which decodes and queues
work. Writes made during one loop turn are joined into a single ``transport.write``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol, cast

log = logging.getLogger(__name__)

_HIGH_WATER = 4 * 1024 * 1024


class Handler(Protocol):
    """What a protocol adapter provides to the transport."""

    def feed(self, data: bytes) -> None: ...

    def connection_lost(self) -> None: ...

    def timed_out(self, logged_in: bool) -> None: ...


class Conn(Protocol):
    """What an adapter uses of its connection, whatever the transport (TCP :class:`Connection`, or
    :class:`polyim.transport.websocket.WsConnection`)."""

    peer: str
    logged_in: bool

    @property
    def closing(self) -> bool: ...

    @property
    def transport(self) -> asyncio.Transport | None: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class Swept(Protocol):
    """What :class:`ConnectionSet` needs of a connection: its timers and a way to close it."""

    def check_timers(self, now: float) -> None: ...

    def close(self) -> None: ...


class Timers:
    """The two deadlines of every kind of connection: a login within ``login_timeout`` of opening, then
    input at least every ``idle_timeout``. :class:`ConnectionSet`'s sweep calls :meth:`check_timers`."""

    __slots__ = ()

    _closing: bool
    _handler: Handler | None
    logged_in: bool
    opened: float
    last_rx: float
    idle_timeout: float
    login_timeout: float

    def check_timers(self, now: float) -> None:
        if self._closing or self._handler is None:
            return
        if self.logged_in:
            if now - self.last_rx > self.idle_timeout:
                self._handler.timed_out(True)
        elif now - self.opened > self.login_timeout:
            self._handler.timed_out(False)


class Connection(asyncio.Protocol, Timers):
    """One client connection over TCP (or any stream transport)."""

    __slots__ = (
        "_buf",
        "_closing",
        "_flush_scheduled",
        "_handler",
        "_paused_by_peer",
        "_transport",
        "handler_factory",
        "idle_timeout",
        "last_rx",
        "logged_in",
        "login_timeout",
        "opened",
        "peer",
        "registry",
    )

    def __init__(
        self,
        handler_factory: Callable[[Connection], Handler],
        registry: ConnectionSet,
        idle_timeout: float,
        login_timeout: float,
    ) -> None:
        self.handler_factory = handler_factory
        self.registry = registry
        self.idle_timeout = idle_timeout
        self.login_timeout = login_timeout
        self._transport: asyncio.Transport | None = None
        self._handler: Handler | None = None
        self._buf: list[bytes] = []
        self._flush_scheduled = False
        self._closing = False
        self._paused_by_peer = False
        self.peer = ""
        self.opened = self.last_rx = time.monotonic()
        self.logged_in = False

    # -- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.registry.add(self)
        self._handler = self.handler_factory(self)

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        if self._handler is not None and not self._closing:
            self._handler.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.discard(self)
        self._closing = True
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.connection_lost()

    def pause_writing(self) -> None:
        self._paused_by_peer = True

    def resume_writing(self) -> None:
        self._paused_by_peer = False

    # -- used by handlers -------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def transport(self) -> asyncio.Transport | None:
        return self._transport

    def write(self, data: bytes) -> None:
        """Queue bytes; everything queued in this loop turn goes out in one write."""
        if self._closing:
            return
        self._buf.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.registry.flush_soon(self)

    def flush(self) -> None:
        """Write what is queued (called by the registry's flush pass, and before a close).

        A transport can close under a connection with bytes queued (a reset read later in the same
        turn; ``connection_lost`` comes after): uvloop raises on a write to it, so those bytes are
        dropped here, as asyncio's own transports drop them."""
        self._flush_scheduled = False
        transport = self._transport
        if not self._buf or transport is None:
            return
        data = self._buf[0] if len(self._buf) == 1 else b"".join(self._buf)
        self._buf.clear()
        if transport.is_closing():
            return
        transport.write(data)
        if transport.get_write_buffer_size() > _HIGH_WATER:
            log.warning("%s: slow consumer (%d bytes queued), closing", self.peer, _HIGH_WATER)
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
        if self._transport is not None:
            self._transport.abort()


class ConnectionSet:
    """All connections of a listener, swept by one periodic timer instead of a timer per connection.

    It also runs their flushes: a connection with queued bytes joins one list, and one loop callback
    writes them all. A room message fanned out to 5,000 connections schedules one callback, not 5,000.
    """

    def __init__(self, sweep_interval: float = 1.0) -> None:
        self._conns: set[Swept] = set()
        self._interval = sweep_interval
        self._task: asyncio.Task[None] | None = None
        self._dirty: list[Connection] = []

    def flush_soon(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if len(self._dirty) == 1:
            asyncio.get_running_loop().call_soon(self._flush_all)

    def _flush_all(self) -> None:
        """One pass over the connections with queued bytes. A failure is that connection's alone: it is
        aborted, and the pass goes on, or every connection after it would keep its bytes (and, marked
        as scheduled, never be flushed again)."""
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            try:
                conn.flush()
            except Exception:
                log.exception("%s: write failed, closing", conn.peer)
                conn.abort()

    def add(self, conn: Swept) -> None:
        self._conns.add(conn)

    def discard(self, conn: Swept) -> None:
        self._conns.discard(conn)

    def __len__(self) -> int:
        return len(self._conns)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            now = time.monotonic()
            for conn in list(self._conns):
                conn.check_timers(now)

    def close_all(self) -> None:
        if self._task is not None:
            self._task.cancel()
        for conn in list(self._conns):
            conn.close()


async def serve_tcp(
    host: str,
    port: int,
    handler_factory: Callable[[Connection], Handler],
    *,
    idle_timeout: float,
    login_timeout: float,
) -> tuple[asyncio.Server, ConnectionSet]:
    conns = ConnectionSet()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(handler_factory, conns, idle_timeout, login_timeout), host, port, backlog=4096
    )
    conns.start()
    return server, conns
