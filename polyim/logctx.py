"""Who a log line is about: the protocol, the connection (its peer address), the user once logged in,
and the node. Set once per connection, not per message, and read by a logging filter, so that no
adapter passes them at its call sites.

How it is set: the channel makes one :class:`LogContext` per connection and binds it in the
``contextvars`` context the connection's callbacks run in (uvloop runs each transport's callbacks in
a context of its own, aiohttp each WebSocket's in its handler task; asyncio's reader callback and a UDP
socket shared by many peers are bound again by the transport when they change). Login fills in the
uid of the same object, so every context holding it sees it. Work that runs for a connection from
somewhere else (a kick from another login, a deadline, a commit failing in the writer's callback) is
wrapped in :func:`scoped`. A line logged while rendering an event for another connection names the
connection whose frame caused it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class LogContext:
    __slots__ = ("conn", "protocol", "uid")

    def __init__(self, protocol: str, conn: str) -> None:
        self.protocol = protocol
        self.conn = conn
        self.uid = 0  # set at login


_current: ContextVar[LogContext | None] = ContextVar("polyim_log_context", default=None)


def bind(ctx: LogContext | None) -> None:
    """Make ``ctx`` the context of what runs from here on in the caller's ``contextvars`` context."""
    if ctx is not None and _current.get() is not ctx:
        _current.set(ctx)


@contextmanager
def scoped(ctx: LogContext | None) -> Iterator[None]:
    """``ctx`` for the duration of the block only (work done for a connection from elsewhere)."""
    token = _current.set(ctx)
    try:
        yield
    finally:
        _current.reset(token)


#: The fields a record carries: from the call's ``extra`` when it gives them, else from the context.
FIELDS = ("protocol", "conn", "uid")


class ContextFilter(logging.Filter):
    """Puts ``node``, ``protocol``, ``conn`` and ``uid`` on every record (empty when unknown) and
    ``context``, the same as text for the text format. ``protocol`` defaults to the protocol package
    the logger's module lives in (a line about no connection, from a protocol's module)."""

    def __init__(self, node: int) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _current.get()
        values = record.__dict__
        values["node"] = self.node
        for name in FIELDS:
            if name not in values:
                values[name] = getattr(ctx, name) if ctx is not None else ""
        if not values["protocol"]:
            values["protocol"] = _protocol_of(record.name)
        text = [f"node={self.node}"]
        text += [f"{name}={values[name]}" for name in FIELDS if values[name]]
        values["context"] = " ".join(text)
        return True


def _protocol_of(logger: str) -> str:
    """``imlc`` for ``polyim.protocols.imlc.adapter``; "" for ``polyim.protocols.channel``, the modules
    every protocol shares (only a package under ``polyim.protocols`` is a protocol)."""
    parts = logger.split(".")
    if parts[:2] != ["polyim", "protocols"] or len(parts) < 3:
        return ""
    package = sys.modules.get(".".join(parts[:3]))
    return parts[2] if hasattr(package, "__path__") else ""
