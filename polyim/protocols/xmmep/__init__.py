"""XMMEP, X-Messenger's message exchange protocol (``../shared/protocols/xmmep.md``): an 8-byte ASCII
header and delimited text bodies, over TCP and UDP on the same port number. The package declares its
``[xmmep]`` section and its two listeners; the wire layer is ``codec.py``, the session logic
``adapter.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyim.config import parse_hostport
from polyim.protocols.entry import ProtocolEntry
from polyim.protocols.xmmep.settings import XmmepSettings
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core


async def start(core: Core, settings: Settings) -> list[Listener]:
    """The TCP and the UDP listener; an empty ``tcp`` or ``udp`` key leaves that one off (§9 #19)."""
    from polyim.protocols.xmmep.adapter import Shared, XmmepChannel
    from polyim.transport.admission import Admission
    from polyim.transport.connection import serve_tcp
    from polyim.transport.udp import serve_udp

    cfg = settings.protocol("xmmep", XmmepSettings)
    shared = Shared(cfg, settings.server.advertise)
    listeners: list[Listener] = []
    if cfg.tcp:
        host, port = parse_hostport(cfg.tcp)
        server, conns = await serve_tcp(
            host,
            port,
            lambda conn: XmmepChannel(core, conn, shared, udp=False),
            idle_timeout=cfg.idle_timeout,
            login_timeout=cfg.login_timeout,
            admission=Admission(f"xmmep {cfg.tcp}", cfg.max_pending_connections, cfg.max_pending_per_address),
            max_write_buffer=cfg.max_write_buffer,
        )
        bound = server.sockets[0].getsockname()[1]
        shared.ports["tcp"] = bound
        listeners.append(Listener("xmmep", "tcp", host, bound, server, conns.close_all, conns))
    if cfg.udp:
        host, port = parse_hostport(cfg.udp)
        udp = await serve_udp(
            host,
            port,
            lambda peer: XmmepChannel(core, peer, shared, udp=True),
            idle_timeout=cfg.idle_timeout,
            login_timeout=cfg.login_timeout,
            admission=Admission(
                f"xmmep udp {cfg.udp}", cfg.max_pending_connections, cfg.max_pending_per_address
            ),
        )
        assert udp.transport is not None
        bound = udp.transport.get_extra_info("sockname")[1]
        shared.ports["udp"] = bound
        listeners.append(Listener("xmmep", "udp", host, bound, udp, udp.conns.close_all, udp.conns))
    return listeners


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    """XMMEP has no HTTP endpoints."""
    return []


ENTRY = ProtocolEntry("xmmep", XmmepSettings, start, routes)
