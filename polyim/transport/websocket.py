"""WebSocket listener: one protocol frame per WebSocket message, on its own port and path.

The adapter sees a :class:`WsConnection`, which offers the same methods as the TCP
:class:`~polyim.transport.connection.Connection` (write / close / abort / closing / peer / logged_in /
transport), so one adapter class serves both transports. Each received message (binary, or text taken
as its UTF-8 bytes) is handed to the handler's ``feed`` whole; each ``write`` becomes one binary
message. Idle and login timers are swept by the same :class:`ConnectionSet` as TCP connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from aiohttp import WSMsgType, web

from polyim.transport.connection import ConnectionSet, Handler, Timers

log = logging.getLogger(__name__)

# Queued outgoing messages beyond which a connection counts as a slow consumer and is dropped.
_MAX_QUEUED = 4096
PING_INTERVAL = 54.0


class WsConnection(Timers):
    """One WebSocket client; writes are queued and sent in order by one writer task."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        registry: ConnectionSet,
        peer: str,
        idle_timeout: float,
        login_timeout: float,
    ) -> None:
        self.ws = ws
        self.registry = registry
        self.peer = peer
        self.idle_timeout = idle_timeout
        self.login_timeout = login_timeout
        self.logged_in = False
        self.opened = self.last_rx = time.monotonic()
        #: WebSocket close status used by the next :meth:`close` / :meth:`abort` (1000 = normal).
        self.close_code = 1000
        self._handler: Handler | None = None
        self._out: deque[bytes] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._close_after_flush = False

    # -- the Conn interface -----------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def transport(self) -> asyncio.Transport | None:
        return None  # reading is driven by the message loop, not by a pausable transport

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        if len(self._out) >= _MAX_QUEUED:
            log.warning("%s: slow websocket consumer, closing", self.peer)
            self.abort()
            return
        self._out.append(data)
        self._start_writer()

    def close(self) -> None:
        """Send what is queued, then close the WebSocket with :attr:`close_code`."""
        if self._closing:
            return
        self._closing = True
        self._close_after_flush = True
        self._start_writer()

    def abort(self) -> None:
        if self._closing and not self._close_after_flush:
            return
        self._closing = True
        self._out.clear()
        self._close_after_flush = True
        self._start_writer()

    # -- internals --------------------------------------------------------------------------------
    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())

    async def _write_loop(self) -> None:
        try:
            while self._out:
                data = self._out.popleft()
                if self.ws.closed:
                    self._out.clear()
                    break
                await self.ws.send_bytes(data)
            if self._close_after_flush and not self.ws.closed:
                await self.ws.close(code=self.close_code)
        except (ConnectionError, RuntimeError) as exc:
            log.info("%s: websocket write failed: %s", self.peer, exc)
            self._out.clear()
        finally:
            self._writer = None
            if self._out or (self._close_after_flush and not self.ws.closed):
                self._start_writer()

    async def run(self, handler_factory: Callable[[WsConnection], Handler]) -> None:
        self.registry.add(self)
        self._handler = handler = handler_factory(self)
        pinger = asyncio.ensure_future(self._ping_loop())
        try:
            async for msg in self.ws:
                self.last_rx = time.monotonic()
                if self._closing:
                    continue
                if msg.type == WSMsgType.BINARY:
                    handler.feed(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    handler.feed(msg.data.encode())
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            pinger.cancel()
            self._closing = True
            self.registry.discard(self)
            self._handler = None
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


async def serve_ws(
    host: str,
    port: int,
    path: str,
    handler_factory: Callable[[WsConnection], Handler],
    *,
    idle_timeout: float,
    login_timeout: float,
    max_message: int,
    subprotocols: Sequence[str] = (),
) -> tuple[asyncio.AbstractServer, ConnectionSet, Callable[[], None]]:
    """Listen for WebSocket upgrades at ``path``; returns the server, its connections and a stopper."""
    conns = ConnectionSet()

    async def upgrade(request: web.Request) -> web.StreamResponse:
        # autoping answers client pings; no heartbeat: a missing pong to our own ping is not an error.
        ws = web.WebSocketResponse(protocols=tuple(subprotocols), autoping=True, max_msg_size=max_message)
        await ws.prepare(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_s = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        conn = WsConnection(ws, conns, peer_s, idle_timeout, login_timeout)
        await conn.run(handler_factory)
        return ws

    app = web.Application()
    app.router.add_get(path, upgrade)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    conns.start()

    def stop() -> None:
        conns.close_all()
        task = asyncio.ensure_future(runner.cleanup())
        _stopping.add(task)
        task.add_done_callback(_stopping.discard)

    return server, conns, stop


_stopping: set[asyncio.Future[None]] = set()
