"""imlc, the IM long-connection protocol (``../shared/protocols/imlc.md``): 12-byte header + protobuf
bodies over TCP. The package declares its ``[imlc]`` section and its listener; the wire layer is
``codec.py``, the session logic ``adapter.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyim.protocols.entry import ProtocolEntry, serve_stream
from polyim.protocols.imlc.settings import ImlcSettings
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core


async def start(core: Core, settings: Settings) -> list[Listener]:
    # ROOM and SYNC register on the command table here, not at the package's import (see
    # polyim.protocols.teamtalk.start).
    from polyim.protocols.imlc import rooms, sync  # noqa: F401
    from polyim.protocols.imlc.adapter import ImlcChannel

    cfg = settings.protocol("imlc", ImlcSettings)
    return await serve_stream("imlc", cfg, lambda conn: ImlcChannel(core, conn, cfg))


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    """imlc has no HTTP endpoints of its own (tokens come from ``/api/v1/tokens``)."""
    return []


ENTRY = ProtocolEntry("imlc", ImlcSettings, start, routes)
