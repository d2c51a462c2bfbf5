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
    protocol's endpoints on the shared HTTP listener. Both read the section with ``Settings.protocol``.
    ``node_bound`` names the listener kinds (keys of the section) a client must reach on the node that
    sent it there, never on another (TeamTalk's file server, which serves the tasks its node made):
    ``polyim serve --nodes`` gives each node its own port for them instead of sharing one."""

    name: str
    settings: type[ProtocolSection]
    start: Callable[[Core, Settings], Awaitable[list[Listener]]]
    routes: Callable[[Core, Settings], list[web.RouteDef]]
    node_bound: tuple[str, ...] = ()


class LimitsSection(Protocol):
    """The keys every listener of a protocol obeys (``config.ListenerLimits`` and the two deadlines)."""

    idle_timeout: float
    login_timeout: float
    max_pending_connections: int
    max_pending_per_address: int
    max_write_buffer: int


class StreamSection(LimitsSection, Protocol):
    """The keys of a protocol served on one TCP listener (OMTP, imlc)."""

    listen: str


async def serve_stream(
    name: str, cfg: StreamSection, channel: Callable[[Connection], StreamHandler]
) -> list[Listener]:
    """Bind the one TCP listener of a protocol whose section is ``cfg`` (OMTP, imlc)."""
    return [await serve_listener(name, "tcp", cfg.listen, cfg, channel)]


async def serve_listener(
    name: str,
    kind: str,
    listen: str,
    cfg: LimitsSection,
    channel: Callable[[Connection], StreamHandler],
    *,
    idle_timeout: float | None = None,
) -> Listener:
    """Bind one TCP listener of a protocol, named ``kind`` in its ``listening`` line (a protocol with
    several, like TeamTalk's login, msg and file servers, binds each): its deadlines (``idle_timeout``
    overrides the section's), its cap on connections not logged in, its slow-consumer limit."""
    from polyim.transport.admission import Admission
    from polyim.transport.connection import serve_tcp

    host, port = parse_hostport(listen)
    server, conns = await serve_tcp(
        host,
        port,
        channel,
        idle_timeout=cfg.idle_timeout if idle_timeout is None else idle_timeout,
        login_timeout=cfg.login_timeout,
        admission=Admission(
            f"{name} {kind} {listen}", cfg.max_pending_connections, cfg.max_pending_per_address
        ),
        max_write_buffer=cfg.max_write_buffer,
    )
    bound = server.sockets[0].getsockname()[1]
    return Listener(name, kind, host, bound, server, conns.close_all, conns)
