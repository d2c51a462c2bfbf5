"""aiohttp listeners whose connections are bounded before they are anyone's session (issue 16).

aiohttp reads a request head for as long as the client takes to send it, has no timer before the first
request, and a handler waits for a body as long as it trickles in. So each aiohttp listener here is made
with ``loop.create_server`` around the runner's own protocol factory: a :class:`Guard` wraps every
connection's ``RequestHandler``, forwards every call to it, and keeps one deadline for the state the
connection is in:

* waiting for a request (after connecting, and between keep-alive requests): ``idle_timeout``;
* receiving a request head (from its first byte until a handler starts): ``header_timeout``;
* in a handler: ``body_timeout`` from its start while the request body is incomplete (a handler that
  works on a complete request is never cut: its time is ours, not the client's);
* upgraded (a WebSocket): no deadline here; the :class:`~polyim.transport.websocket.WsConnection` has
  the login and idle ones.

``lifetime``, when set, also bounds everything before an upgrade from the moment of connecting (the
WebSocket listener's login deadline). A middleware tells the guard when a handler starts and ends. The
deadlines sit in the loop's timer heap, one entry per connection, moved lazily. Each connection also
holds a slot of the listener's :class:`~polyim.transport.admission.Admission` (HTTP connections until
they close, WebSocket ones until their session logs in).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from polyim.transport.admission import Admission, LogEvery, Ticket, host_of, peer_name
from polyim.transport.listener import shared_ports
from polyim.transport.timers import Timer, timer_heap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardLimits:
    """The deadlines of one aiohttp listener (seconds); see the module docstring."""

    header_timeout: float
    body_timeout: float
    idle_timeout: float
    lifetime: float | None = None


class State(enum.Enum):
    IDLE = "waiting for a request"
    HEAD = "receiving a request head"
    HANDLER = "in a handler"
    UPGRADED = "upgraded"


class GuardedListener:
    """What the guards of one listener share: the limits, the admission, a count of cuts for the log."""

    def __init__(self, name: str, limits: GuardLimits, admission: Admission) -> None:
        self.name = name
        self.limits = limits
        self.admission = admission
        self._cuts = LogEvery()

    def note_cut(self, peer: str, state: State) -> None:
        cut = self._cuts.due()
        if cut:
            log.info(
                "%s: closed %s (%s past its deadline); %d cut since the last such line",
                self.name,
                peer,
                state.value,
                cut,
            )


class Guard(asyncio.Protocol):
    """Wraps one connection's aiohttp protocol; forwards every call and enforces its deadlines."""

    def __init__(self, inner: asyncio.Protocol, listener: GuardedListener) -> None:
        self._inner = inner
        self._listener = listener
        self._transport: asyncio.Transport | None = None
        self._ticket: Ticket | None = None
        self._state = State.IDLE
        self._request: web.BaseRequest | None = None
        self._deadline = 0.0
        self._timer: Timer | None = None
        self._admitted = False
        self._born = 0.0  # loop time of connecting, for ``lifetime``
        self.opened = time.monotonic()  # the same instant, on the clock of the login deadline
        self.peer = ""
        self.lost = False

    # -- asyncio.Protocol, forwarded --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = peer_name(peer)
        self._ticket = self._listener.admission.admit(host_of(peer))
        if self._ticket is None:
            self._state = State.UPGRADED  # no deadline for a connection refused at the door
            self._transport.abort()
            return
        self._admitted = True
        self._born = asyncio.get_running_loop().time()
        self._enter(State.IDLE, self._listener.limits.idle_timeout)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._state is State.IDLE:
            self._enter(State.HEAD, self._listener.limits.header_timeout)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._state = State.UPGRADED  # no deadline left to enforce
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._request = None
        if self._admitted:  # one refused at the door never reached aiohttp
            self._release()
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- told by the middleware and the WebSocket listener ----------------------------------------
    def request_started(self, request: web.BaseRequest) -> None:
        self._request = request
        self._enter(State.HANDLER, self._listener.limits.body_timeout)

    def request_done(self) -> None:
        self._request = None
        if self._state is State.HANDLER:
            self._enter(State.IDLE, self._listener.limits.idle_timeout)

    def upgraded(self) -> Ticket | None:
        """The connection is a WebSocket now: the guard's deadlines end, and its slot among the
        connections not logged in goes to the caller (given back when the session logs in)."""
        self._state = State.UPGRADED
        self._request = None
        ticket, self._ticket = self._ticket, None
        return ticket

    # -- deadlines --------------------------------------------------------------------------------
    def _enter(self, state: State, timeout: float) -> None:
        self._state = state
        now = asyncio.get_running_loop().time()
        deadline = now + timeout
        lifetime = self._listener.limits.lifetime
        if lifetime is not None:
            deadline = min(deadline, self._born + lifetime)
        self._deadline = deadline
        if self._timer is None or deadline < self._timer.when:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = timer_heap().call_at(deadline, self._expired)

    def _expired(self) -> None:
        """The heap entry came due; the deadline may have moved since (lazily: only later ones)."""
        self._timer = None
        if self._state is State.UPGRADED or self._transport is None:
            return
        now = asyncio.get_running_loop().time()
        if now < self._deadline:
            self._timer = timer_heap().call_at(self._deadline, self._expired)
        elif self._state is State.HANDLER and self._body_complete() and not self._lived(now):
            self._enter(State.HANDLER, self._listener.limits.body_timeout)
        else:
            self._listener.note_cut(self.peer, self._state)
            self._transport.abort()

    def _lived(self, now: float) -> bool:
        lifetime = self._listener.limits.lifetime
        return lifetime is not None and now >= self._born + lifetime

    def _body_complete(self) -> bool:
        request = self._request
        return request is not None and request.content.is_eof()

    def _release(self) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            ticket.release()


def guard_of(request: web.BaseRequest) -> Guard | None:
    """The guard of the connection ``request`` came on (None on a listener without guards)."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, Guard) else None


@web.middleware
async def _track(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    guard = guard_of(request)
    if guard is None:
        return cast(web.StreamResponse, await handler(request))
    guard.request_started(request)
    try:
        return cast(web.StreamResponse, await handler(request))
    except ConnectionResetError:
        if not guard.lost:
            raise
        # Cut (or gone) while the handler waited for its body: nobody is left to answer, and aiohttp
        # would log a traceback for each of a slow-loris flood's connections.
        return web.Response(status=408)
    finally:
        guard.request_done()


async def serve_app(
    app: web.Application,
    host: str,
    port: int,
    *,
    name: str,
    limits: GuardLimits,
    admission: Admission,
) -> tuple[asyncio.Server, web.AppRunner]:
    """Serve ``app`` with every connection guarded; the caller closes the server, then cleans up the
    runner (which closes the connections aiohttp still holds)."""
    app.middlewares.append(_track)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=limits.idle_timeout)
    await runner.setup()
    factory = runner.server
    assert factory is not None
    listener = GuardedListener(name, limits, admission)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Guard(factory(), listener), host, port, backlog=4096, reuse_port=shared_ports() or None
    )
    return server, runner
