"""WebSocket listener: one protocol frame per WebSocket message, on its own port and path.

The adapter sees a :class:`WsConnection`, which offers the same :class:`~polyim.transport.connection.ConnBase`
interface as the TCP :class:`~polyim.transport.connection.Connection`, so one adapter class serves both
transports. Each received message (binary, or text taken as its UTF-8 bytes) is handed whole to the
handler's ``feed_message``; each ``write`` becomes one binary message. Before its upgrade a connection is
bounded by :mod:`~polyim.transport.httpguard` (request deadline, the login deadline from the moment of
connecting, the listener's cap on connections not logged in); after it, the login and idle deadlines
are the same as a TCP connection's. An upgrade that asks for a WebSocket version
other than 13 gets 426 with ``Sec-WebSocket-Version: 13`` (RFC 6455 §4.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from aiohttp import WSMsgType, hdrs, web

from polyim.logctx import LogContext
from polyim.transport.admission import Admission, Ticket, peer_name
from polyim.transport.connection import (
    MAX_WRITE_BUFFER,
    WRITE_HIGH_WATER,
    ConnBase,
    ConnectionSet,
    MessageHandler,
)
from polyim.transport.httpguard import GuardLimits, guard_of, serve_app
from polyim.transport.timers import Timer

log = logging.getLogger(__name__)

PING_INTERVAL = 54.0
WS_VERSION = "13"


class WsConnection(ConnBase):
    """One WebSocket client; writes are queued and sent in order by one writer task.

    The queue is measured in bytes: past the listener's high-water mark the handler is told
    (``writing_paused``), past ``max_write_buffer`` the consumer is cut, as on TCP."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        registry: ConnectionSet,
        peer: str,
        idle_timeout: float,
        login_timeout: float,
        *,
        opened: float | None = None,
        ticket: Ticket | None = None,
    ) -> None:
        self.ws = ws
        self.registry = registry
        self.peer = peer
        self.idle_timeout = idle_timeout
        self.login_timeout = login_timeout
        self._logged_in = False
        self._ticket = ticket
        self._deadline: Timer | None = None
        self.last_rx = time.monotonic()
        self.opened = self.last_rx if opened is None else opened
        #: WebSocket close status used by the next :meth:`close` / :meth:`abort` (1000 = normal).
        self.close_code = 1000
        self._handler: MessageHandler | None = None
        self.log_context: LogContext | None = None  # bound once, in the handler task (run)
        self._out: deque[bytes] = deque()
        self._queued = 0
        self._write_paused = False
        self._resume: asyncio.Future[None] | None = None  # set while reading is paused
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._close_after_flush = False

    # -- the ConnBase interface -----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closing:
            return
        if self._queued + len(data) > self.registry.max_write_buffer:
            log.warning("%s: slow websocket consumer (%d bytes queued), closing", self.peer, self._queued)
            self.registry.slow_consumers += 1
            self.abort()
            return
        self._out.append(data)
        self._queued += len(data)
        if not self._write_paused and self._queued > WRITE_HIGH_WATER:
            self._write_paused = True
            if self._handler is not None:
                self._handler.writing_paused()
        self._start_writer()

    def pause_reading(self) -> None:
        """Take no more messages until :meth:`resume_reading`; aiohttp's own buffer then fills and
        pauses the socket."""
        if self._resume is None and not self._closing:
            self._resume = asyncio.get_running_loop().create_future()

    def resume_reading(self) -> None:
        resume, self._resume = self._resume, None
        if resume is not None and not resume.done():
            resume.set_result(None)

    def close(self) -> None:
        """Send what is queued, then close the WebSocket with :attr:`close_code`."""
        if self._closing:
            return
        self._closing = True
        self._close_after_flush = True
        self.resume_reading()  # the message loop must go on to see the close
        self._start_writer()

    def abort(self) -> None:
        if self._closing and not self._close_after_flush:
            return
        self._closing = True
        self._out.clear()
        self._queued = 0
        self._close_after_flush = True
        self.resume_reading()
        self._start_writer()

    # -- internals --------------------------------------------------------------------------------
    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())

    def _sent(self, size: int) -> None:
        self._queued -= size
        if self._write_paused and self._queued <= WRITE_HIGH_WATER // 4:
            self._write_paused = False
            if self._handler is not None:
                self._handler.writing_resumed()

    async def _write_loop(self) -> None:
        try:
            while self._out:
                data = self._out.popleft()
                if self.ws.closed:
                    self._out.clear()
                    break
                await self.ws.send_bytes(data)
                self._sent(len(data))
            if self._close_after_flush and not self.ws.closed:
                await self.ws.close(code=self.close_code)
        except (ConnectionError, RuntimeError) as exc:
            log.info("%s: websocket write failed: %s", self.peer, exc)
            self._out.clear()
        finally:
            self._writer = None
            if self._out or (self._close_after_flush and not self.ws.closed):
                self._start_writer()

    async def run(self, handler_factory: Callable[[WsConnection], MessageHandler]) -> None:
        self.registry.add(self)
        self._handler = handler = handler_factory(self)
        self.start_deadlines()
        pinger = asyncio.ensure_future(self._ping_loop())
        try:
            async for msg in self.ws:
                self.last_rx = time.monotonic()
                if self._closing:
                    continue
                if msg.type == WSMsgType.BINARY:
                    handler.feed_message(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    handler.feed_message(msg.data.encode())
                elif msg.type == WSMsgType.ERROR:
                    break
                if self._resume is not None:
                    await self._resume
        finally:
            pinger.cancel()
            self._closing = True
            self.registry.discard(self)
            self.stop_deadlines()
            self._release_slot()
            self._handler = None
            self.resume_reading()
            handler.connection_lost()
            writer = self._writer
            if writer is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(writer), 5)

    async def _ping_loop(self) -> None:
        while not self.ws.closed:
            await asyncio.sleep(PING_INTERVAL)
            try:
                await self.ws.ping()
            except (ConnectionError, RuntimeError):
                return


def version_refused(request: web.Request) -> web.Response | None:
    """426 for a WebSocket upgrade in another version than 13 (RFC 6455 §4.4; aiohttp takes 8 and 7).
    A request that is no upgrade at all is left to aiohttp's 400."""
    upgrade = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    if not upgrade or request.headers.get(hdrs.SEC_WEBSOCKET_VERSION, "") == WS_VERSION:
        return None
    return web.Response(
        status=426,
        text="unsupported WebSocket version: use 13",
        headers={
            hdrs.SEC_WEBSOCKET_VERSION: WS_VERSION,
            hdrs.UPGRADE: "websocket",
            hdrs.CONNECTION: "Upgrade",
        },
    )


async def serve_ws(
    host: str,
    port: int,
    path: str,
    handler_factory: Callable[[WsConnection], MessageHandler],
    *,
    idle_timeout: float,
    login_timeout: float,
    max_message: int,
    subprotocols: Sequence[str] = (),
    request_timeout: float = 10.0,
    admission: Admission | None = None,
    max_write_buffer: int = MAX_WRITE_BUFFER,
) -> tuple[asyncio.AbstractServer, ConnectionSet, Callable[[], None]]:
    """Listen for WebSocket upgrades at ``path``; returns the server, its connections and a stopper.

    The upgrade request must arrive within ``request_timeout``, and the session log in within
    ``login_timeout`` of connecting. ``admission`` caps the connections not logged in (unbounded
    without it, for tests and tools)."""
    conns = ConnectionSet(max_write_buffer=max_write_buffer)

    async def upgrade(request: web.Request) -> web.StreamResponse:
        refused = version_refused(request)
        if refused is not None:
            return refused
        # autoping answers client pings; no heartbeat: a missing pong to our own ping is not an error.
        ws = web.WebSocketResponse(protocols=tuple(subprotocols), autoping=True, max_msg_size=max_message)
        await ws.prepare(request)
        guard = guard_of(request)
        ticket = guard.upgraded() if guard is not None else None
        opened = guard.opened if guard is not None else None
        peer = peer_name(request.transport.get_extra_info("peername") if request.transport else None)
        conn = WsConnection(ws, conns, peer, idle_timeout, login_timeout, opened=opened, ticket=ticket)
        await conn.run(handler_factory)
        return ws

    app = web.Application()
    app.router.add_get(path, upgrade)
    limits = GuardLimits(request_timeout, request_timeout, login_timeout, lifetime=login_timeout)
    admission = admission or Admission(f"ws {host}:{port}", 1 << 62, 1 << 62)
    server, runner = await serve_app(app, host, port, name=admission.name, limits=limits, admission=admission)

    def stop() -> None:
        server.close()
        conns.close_all()
        task = asyncio.ensure_future(runner.cleanup())
        _stopping.add(task)
        task.add_done_callback(_stopping.discard)

    return server, conns, stop


_stopping: set[asyncio.Future[None]] = set()
