"""beehive: 52-byte header + proto2 bodies over TCP and WebSocket (beehive.md)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from polyim.config import parse_hostport
from polyim.protocols.beehive.settings import BeehiveSettings
from polyim.protocols.entry import ProtocolEntry
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core

log = logging.getLogger(__name__)


async def start(core: Core, settings: Settings) -> list[Listener]:
    # The room commands (0x04xx) register on the command table here, not at the package's import (see
    # polyim.protocols.teamtalk.start).
    from polyim.protocols.beehive import nodes, rooms  # noqa: F401
    from polyim.protocols.beehive.adapter import BeehiveChannel
    from polyim.protocols.beehive.codec import WS_PATH, WS_SUBPROTOCOL
    from polyim.transport.admission import Admission
    from polyim.transport.connection import serve_tcp
    from polyim.transport.websocket import serve_ws

    cfg = settings.protocol("beehive", BeehiveSettings)
    node_id = settings.server.node_id
    core.rooms.configure(
        group_capacity=cfg.room_group_capacity,
        autocreate=cfg.room_autocreate,
        count_interval=cfg.room_count_interval,
    )
    if cfg.iplist_without_auth:
        log.warning(
            "[beehive] iplist_without_auth is on: /im/iplist hands a login token for any user to anyone "
            "who can reach the HTTP listener; keep it off outside closed test networks"
        )
    listeners = []
    gateways: list[nodes.Gateway] = []
    if cfg.tcp:
        host, port = parse_hostport(cfg.tcp)
        server, conns = await serve_tcp(
            host,
            port,
            lambda conn: BeehiveChannel(core, conn, cfg, node_id, websocket=False),
            idle_timeout=cfg.idle_timeout,
            login_timeout=cfg.login_timeout,
            admission=Admission(
                f"beehive tcp {cfg.tcp}", cfg.max_pending_connections, cfg.max_pending_per_address
            ),
            max_write_buffer=cfg.max_write_buffer,
        )
        bound = server.sockets[0].getsockname()[1]
        listeners.append(Listener("beehive", "tcp", host, bound, server, conns.close_all, conns))
        ip, port = await nodes.advertised(cfg, settings.server, nodes.TYPE_TCP, host, bound)
        gateways.append(nodes.Gateway(nodes.TYPE_TCP, ip, port, conns))
    if cfg.ws:
        host, port = parse_hostport(cfg.ws)
        ws_server, ws_conns, stop = await serve_ws(
            host,
            port,
            WS_PATH,
            lambda conn: BeehiveChannel(core, conn, cfg, node_id, websocket=True),
            idle_timeout=cfg.idle_timeout,
            login_timeout=cfg.login_timeout,
            max_message=cfg.max_frame,
            subprotocols=(WS_SUBPROTOCOL,),
            request_timeout=cfg.ws_request_timeout,
            admission=Admission(
                f"beehive ws {cfg.ws}", cfg.max_pending_connections, cfg.max_pending_per_address
            ),
            max_write_buffer=cfg.max_write_buffer,
        )
        sockets = getattr(ws_server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        listeners.append(Listener("beehive", "ws", host, bound, ws_server, stop, ws_conns))
        ip, port = await nodes.advertised(cfg, settings.server, nodes.TYPE_WS, host, bound)
        gateways.append(nodes.Gateway(nodes.TYPE_WS, ip, port, ws_conns))
    core.nodes.add_reporter(nodes.reporter(cfg, settings.server, gateways))  # LSND-INFO, FRWD-INFO (§4.6)
    return listeners


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    from polyim.protocols.beehive.http import routes as im_routes
    from polyim.protocols.beehive.http_rooms import routes as room_routes

    return im_routes(settings) + room_routes()  # /im/* (§6.1–§6.5), /room/* and /im/room/* (§6.6)


ENTRY = ProtocolEntry("beehive", BeehiveSettings, start, routes)
