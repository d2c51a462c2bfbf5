"""A bound listener as the node keeps it: what ``listening …`` prints, what stop closes, what /metrics
counts. The HTTP listener is one too, so the record belongs to the transport, not to the protocols."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass
class _Binding:
    """How this process binds its listening sockets (set once, before the first listener)."""

    reuse_port: bool = False


_BINDING = _Binding()


def share_ports() -> None:
    """Bind every listener of this process with ``SO_REUSEPORT``: the node processes of ``polyim serve
    --nodes N`` (or ``[server] reuse_port``) listen on the same ports and the kernel spreads the new
    connections (and UDP peers, by address) over them."""
    if not ports_shareable():
        raise OSError("SO_REUSEPORT does not spread connections over processes on this platform")
    _BINDING.reuse_port = True


def shared_ports() -> bool:
    """The ``reuse_port`` argument of every bind of this process."""
    return _BINDING.reuse_port


def ports_shareable() -> bool:
    """Linux (3.9 and later) spreads a port's connections over every socket bound with SO_REUSEPORT;
    BSD and macOS accept the option but hand the connections to one socket."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


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
