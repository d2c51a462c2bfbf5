"""A bound listener as the node keeps it: what ``listening …`` prints, what stop closes, what /metrics
counts. The HTTP listener is one too, so the record belongs to the transport, not to the protocols."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Closable(Protocol):
    """What stop needs of a listener's socket: an ``asyncio.Server``, or a UDP listener (one socket)."""

    def close(self) -> None: ...


@dataclass
class Listener:
    protocol: str
    kind: str
    host: str
    port: int
    server: Closable
    close_all: Callable[[], None]
    connections: Callable[[], int] | None = None  # open connections, for /metrics
