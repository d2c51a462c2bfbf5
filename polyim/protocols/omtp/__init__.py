"""OMTP (OTIM): 4-byte length + Tars-encoded OTIMPack over TCP (omtp.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyim.protocols.entry import ProtocolEntry, serve_stream
from polyim.protocols.omtp.settings import OmtpSettings
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core


async def start(core: Core, settings: Settings) -> list[Listener]:
    from polyim.protocols.omtp.adapter import OmtpChannel

    cfg = settings.protocol("omtp", OmtpSettings)
    return await serve_stream("omtp", cfg, lambda conn: OmtpChannel(core, conn, cfg))


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    from polyim.protocols.omtp.http import routes as omtp_routes

    return omtp_routes()


ENTRY = ProtocolEntry("omtp", OmtpSettings, start, routes)
