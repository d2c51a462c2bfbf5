"""The interfaces between the transport and what it carries: handlers (adapters) and connections.

They live apart from :mod:`polyim.transport.connection` because that module is compiled by mypyc,
and a ``Protocol`` compiled there becomes a trait that interpreted classes (adapters, the bench's
echo, the tests' handlers) may not subclass. :mod:`~polyim.transport.connection` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from polyim.logctx import LogContext
from polyim.transport.timers import Timer


class Handler(Protocol):
    """What a protocol adapter provides to the transport, whatever kind of listener it is on.

    ``writing_paused``/``writing_resumed`` have defaults (do nothing) for a class that subclasses this
    protocol explicitly; a relay overrides them to pause the connection that feeds this one."""

    def connection_lost(self) -> None: ...

    def timed_out(self, logged_in: bool) -> None: ...

    def writing_paused(self) -> None:
        """The connection's write buffer passed its high-water mark."""
        return None

    def writing_resumed(self) -> None:
        """The write buffer drained below its low-water mark."""
        return None


class StreamHandler(Handler, Protocol):
    """A handler on a stream listener (TCP): bytes arrive as the socket delivers them."""

    def feed(self, data: bytes) -> None: ...


class MessageHandler(Handler, Protocol):
    """A handler on a message listener (WebSocket, UDP): each call carries one whole message."""

    def feed_message(self, data: bytes) -> None: ...


class Conn(Protocol):
    """What an adapter uses of its connection, whatever the transport (TCP :class:`Connection`,
    :class:`polyim.transport.websocket.WsConnection`, :class:`polyim.transport.udp.UdpPeer`)."""

    peer: str
    logged_in: bool
    #: Who the connection's log lines are about; its channel sets it (``polyim/logctx.py``).
    log_context: LogContext | None
    #: Seconds without input after login before the connection is closed; a protocol whose deadline
    #: depends on the client (TeamTalk: PC or mobile) sets it at login.
    idle_timeout: float
    #: When the transport last received from the peer (monotonic seconds): the adapters' ``now``, so
    #: that no adapter reads a clock of its own.
    last_rx: float

    @property
    def closing(self) -> bool: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class Closable(Protocol):
    """What :class:`ConnectionSet` needs of a connection: a way to close it at shutdown."""

    def close(self) -> None: ...
