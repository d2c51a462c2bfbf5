"""imlc, the IM long-connection protocol (``../shared/protocols/imlc.md``): 12-byte header + protobuf
bodies over TCP. The package declares its ``[imlc]`` section and its listener; the wire layer is
``codec.py``, the session logic ``adapter.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyim.config import parse_hostport
from polyim.protocols.entry import ProtocolEntry
from polyim.protocols.imlc.settings import ImlcSettings
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core


async def start(core: Core, settings: Settings) -> list[Listener]:
    from polyim.protocols.imlc.adapter import ImlcChannel
    from polyim.transport.admission import Admission
    from polyim.transport.connection import serve_tcp

    cfg = settings.protocol("imlc", ImlcSettings)
    host, port = parse_hostport(cfg.listen)
    server, conns = await serve_tcp(
        host,
        port,
        lambda conn: ImlcChannel(core, conn, cfg),
        idle_timeout=cfg.idle_timeout,
        login_timeout=cfg.login_timeout,
        admission=Admission(f"imlc {cfg.listen}", cfg.max_pending_connections, cfg.max_pending_per_address),
        max_write_buffer=cfg.max_write_buffer,
    )
    bound = server.sockets[0].getsockname()[1]
    return [Listener("imlc", "tcp", host, bound, server, conns.close_all, conns.__len__)]


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    """imlc has no HTTP endpoints of its own (tokens come from ``/api/v1/tokens``)."""
    return []


ENTRY = ProtocolEntry("imlc", ImlcSettings, start, routes)
