"""A bound listener as the node keeps it: what ``listening …`` prints, what stop closes, what /metrics
counts. The HTTP listener is one too, so the record belongs to the transport, not to the protocols."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Closable(Protocol):
    """What stop needs of a listener's socket: an ``asyncio.Server``, or a UDP listener (one socket)."""

    def close(self) -> None: ...


class Counted(Protocol):
    """A listener's connection set as /metrics and the node reports read it."""

    slow_consumers: int  # connections cut for not reading what was written to them

    def __len__(self) -> int: ...


@dataclass
class Listener:
    protocol: str
    kind: str
    host: str
    port: int
    server: Closable
    close_all: Callable[[], None]
    conns: Counted | None = None  # its connections (None: the HTTP listener's are not counted)
