"""OMTP (OTIM): 4-byte length + Tars-encoded OTIMPack over TCP (omtp.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyim.config import parse_hostport
from polyim.protocols.entry import ProtocolEntry
from polyim.protocols.omtp.settings import OmtpSettings
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core


async def start(core: Core, settings: Settings) -> list[Listener]:
    from polyim.protocols.omtp.adapter import OmtpChannel
    from polyim.transport.admission import Admission
    from polyim.transport.connection import serve_tcp

    cfg = settings.protocol("omtp", OmtpSettings)
    host, port = parse_hostport(cfg.listen)
    server, conns = await serve_tcp(
        host,
        port,
        lambda conn: OmtpChannel(core, conn, cfg),
        idle_timeout=cfg.idle_timeout,
        login_timeout=cfg.login_timeout,
        admission=Admission(f"omtp {cfg.listen}", cfg.max_pending_connections, cfg.max_pending_per_address),
        max_write_buffer=cfg.max_write_buffer,
    )
    bound = server.sockets[0].getsockname()[1]
    return [Listener("omtp", "tcp", host, bound, server, conns.close_all, conns.__len__)]


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    from polyim.protocols.omtp.http import routes as omtp_routes

    return omtp_routes()


ENTRY = ProtocolEntry("omtp", OmtpSettings, start, routes)
