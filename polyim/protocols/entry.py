"""What a protocol package declares about itself: its ``ENTRY``, one line of ``protocols/registry.py``.

Its own module, so that the packages import it and the registry imports the packages, never back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from polyim.config import parse_hostport
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core
    from polyim.transport.connection import Connection, StreamHandler


class ProtocolSection(Protocol):
    """What every protocol's settings dataclass has: the switch that keeps its listeners and routes off."""

    enabled: bool


@dataclass(frozen=True)
class ProtocolEntry:
    """``name`` is the TOML section (filled into ``settings``, a dataclass with a default for every key)
    and the first word of the ``listening`` lines; ``start`` binds the listeners, ``routes`` are the
    protocol's endpoints on the shared HTTP listener. Both read the section with ``Settings.protocol``."""

    name: str
    settings: type[ProtocolSection]
    start: Callable[[Core, Settings], Awaitable[list[Listener]]]
    routes: Callable[[Core, Settings], list[web.RouteDef]]


class StreamSection(Protocol):
    """The keys of a protocol served on one TCP listener (``config.ListenerLimits`` and its own)."""

    listen: str
    idle_timeout: float
    login_timeout: float
    max_pending_connections: int
    max_pending_per_address: int
    max_write_buffer: int


async def serve_stream(
    name: str, cfg: StreamSection, channel: Callable[[Connection], StreamHandler]
) -> list[Listener]:
    """Bind the one TCP listener of a protocol whose section is ``cfg`` (OMTP, imlc): its deadlines,
    its cap on connections not logged in, its slow-consumer limit, and the ``listening`` record."""
    from polyim.transport.admission import Admission
    from polyim.transport.connection import serve_tcp

    host, port = parse_hostport(cfg.listen)
    server, conns = await serve_tcp(
        host,
        port,
        channel,
        idle_timeout=cfg.idle_timeout,
        login_timeout=cfg.login_timeout,
        admission=Admission(f"{name} {cfg.listen}", cfg.max_pending_connections, cfg.max_pending_per_address),
        max_write_buffer=cfg.max_write_buffer,
    )
    bound = server.sockets[0].getsockname()[1]
    return [Listener(name, "tcp", host, bound, server, conns.close_all, conns.__len__)]
