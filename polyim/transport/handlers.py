"""The interfaces between the transport and what it carries: the handlers (adapters).

They live apart from :mod:`polyim.transport.connection` because that module is compiled by mypyc,
and a ``Protocol`` compiled there becomes a trait that interpreted classes (adapters, the bench's
echo, the tests' handlers) may not subclass. :mod:`~polyim.transport.connection` re-exports them.
"""

from __future__ import annotations

from typing import Protocol


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


class Closable(Protocol):
    """What :class:`ConnectionSet` needs of a connection: a way to close it at shutdown."""

    def close(self) -> None: ...
