"""A bound listener as the node keeps it: what ``listening …`` prints, what stop closes, what /metrics
counts. The HTTP listener is one too, so the record belongs to the transport, not to the protocols."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Listener:
    protocol: str
    kind: str
    host: str
    port: int
    server: asyncio.AbstractServer
    close_all: Callable[[], None]
    connections: Callable[[], int] | None = None  # open connections, for /metrics
