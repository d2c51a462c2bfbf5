"""UDP listener: one shared socket, one pseudo-connection per peer address (the aioquic way).

A :class:`UdpPeer` is made on the first datagram from an address (if the listener's admission of peers
not logged in has room) and offers the same :class:`~polyim.transport.connection.ConnBase` interface as a TCP
connection, so an adapter does not know which one it is on: each datagram goes whole to the handler's
``feed_message``, each ``write`` leaves as one datagram. A peer has the login and idle deadlines of
any connection: they reach the handler's ``timed_out``, whose ``close`` drops the peer (nothing is
sent: UDP has no close).

Reading is paused per peer: datagrams from a paused peer are queued, at most ``max_queued`` of them,
and the ones past that are **dropped** (counted in :attr:`UdpPeer.dropped`); a protocol on UDP resends
what matters. Writing is never held: the socket is shared by every peer, so a datagram sent while
its send buffer is past asyncio's high-water mark (``pause_writing``) is dropped too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from polyim.logctx import LogContext, bind
from polyim.transport.admission import Admission, host_of, peer_name
from polyim.transport.connection import ConnBase, ConnectionSet, MessageHandler
from polyim.transport.listener import shared_ports

log = logging.getLogger(__name__)

Addr = tuple[Any, ...]  # (host, port), or (host, port, flowinfo, scope_id) for IPv6


class UdpPeer(ConnBase):
    """One peer address of a :class:`UdpListener`."""

    __slots__ = ("_queue", "addr", "dropped", "listener")

    def __init__(self, listener: UdpListener, addr: Addr) -> None:
        self.listener = listener
        self.addr = addr
        self.peer = peer_name(addr)
        self.idle_timeout = listener.idle_timeout
        self.login_timeout = listener.login_timeout
        self.opened = self.last_rx = time.monotonic()
        self._logged_in = False
        self._ticket = None
        self._deadline = None
        self._closing = False
        self._handler: MessageHandler | None = None
        self._queue: deque[bytes] | None = None  # set while reading is paused
        self.dropped = 0
        self.log_context: LogContext | None = None

    # -- from the listener ------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        if self._closing or self._handler is None:
            return
        queue = self._queue
        if queue is None:
            bind(self.log_context)  # one socket, many peers: each datagram binds its own
            self._handler.feed_message(data)
        elif len(queue) < self.listener.max_queued:
            queue.append(data)
        else:
            self.dropped += 1

    # -- the ConnBase interface -----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send ``data`` as one datagram to this peer."""
        if not self._closing:
            self.listener.send(data, self.addr)

    def close(self) -> None:
        """Forget the peer; its handler hears ``connection_lost`` in the next loop turn, as on TCP."""
        if self._closing:
            return
        self._closing = True
        self._queue = None
        self.stop_deadlines()
        self.listener.forget(self)
        asyncio.get_running_loop().call_soon(self._lost)

    abort = close

    def pause_reading(self) -> None:
        if self._queue is None and not self._closing:
            self._queue = deque()

    def resume_reading(self) -> None:
        """Hand the queued datagrams over in the next loop turn (not inside the caller, which may be
        the handler's own drain)."""
        queue, self._queue = self._queue, None
        if queue:
            asyncio.get_running_loop().call_soon(self._replay, queue)

    def _replay(self, queue: deque[bytes]) -> None:
        while queue:
            self.received(queue.popleft())

    def _lost(self) -> None:
        self._release_slot()
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.connection_lost()


class UdpListener(asyncio.DatagramProtocol):
    """The shared socket and its peers by address."""

    def __init__(
        self,
        handler_factory: Callable[[UdpPeer], MessageHandler],
        conns: ConnectionSet,
        *,
        idle_timeout: float,
        login_timeout: float,
        max_queued: int,
    ) -> None:
        self.handler_factory = handler_factory
        self.conns = conns
        self.idle_timeout = idle_timeout
        self.login_timeout = login_timeout
        self.max_queued = max_queued
        self.peers: dict[Addr, UdpPeer] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.dropped_writes = 0
        self._write_paused = False  # the shared socket's send buffer is past asyncio's high-water mark

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        peer = self.peers.get(addr)
        if peer is None:
            peer = self._open(addr)
            if peer is None:
                return
        peer.received(data)

    def _open(self, addr: Addr) -> UdpPeer | None:
        peer = UdpPeer(self, addr)
        if not peer.take_slot(self.conns.admission, host_of(addr)):
            return None
        self.peers[addr] = peer
        self.conns.add(peer)
        peer._handler = self.handler_factory(peer)
        peer.start_deadlines()
        return peer

    def error_received(self, exc: Exception) -> None:
        log.debug("udp: %s", exc)  # an ICMP error for an earlier datagram; the peer's idle deadline decides

    def connection_lost(self, exc: Exception | None) -> None:
        for peer in list(self.peers.values()):
            peer.close()

    def send(self, data: bytes, addr: Addr) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._write_paused:
            self.dropped_writes += 1
            return
        transport.sendto(data, addr)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False

    def forget(self, peer: UdpPeer) -> None:
        if self.peers.get(peer.addr) is peer:
            del self.peers[peer.addr]
        self.conns.discard(peer)

    def close(self) -> None:
        """Drop every peer, close the socket."""
        self.conns.close_all()
        if self.transport is not None:
            self.transport.close()


async def serve_udp(
    host: str,
    port: int,
    handler_factory: Callable[[UdpPeer], MessageHandler],
    *,
    idle_timeout: float,
    login_timeout: float,
    admission: Admission | None = None,
    max_queued: int = 64,
) -> UdpListener:
    """A message listener on UDP; the bound port is ``listener.transport.get_extra_info("sockname")``."""
    conns = ConnectionSet(admission=admission)
    loop = asyncio.get_running_loop()
    _, listener = await loop.create_datagram_endpoint(
        lambda: UdpListener(
            handler_factory,
            conns,
            idle_timeout=idle_timeout,
            login_timeout=login_timeout,
            max_queued=max_queued,
        ),
        local_addr=(host, port),
        reuse_port=shared_ports() or None,
    )
    return listener
