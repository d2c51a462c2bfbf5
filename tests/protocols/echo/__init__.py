"""A sixth protocol as a newcomer would add it, for ``tests/protocols/test_registry.py``: this one folder
declares its ``[echo]`` section and its listener, and the test registers its ``ENTRY`` the way a line in
``polyim/protocols/registry.py`` does. Each connection gets back what it sends, after ``greeting``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

from aiohttp import web

from polyim.config import Settings, parse_hostport
from polyim.core.app import Core
from polyim.protocols.entry import ProtocolEntry
from polyim.transport.listener import Listener


@dataclass
class EchoSettings:
    enabled: bool = True
    listen: str = "127.0.0.1:7007"
    greeting: str = "echo: "


class _Echo(asyncio.Protocol):
    transport: asyncio.Transport

    def __init__(self, greeting: bytes, live: set[asyncio.BaseTransport]) -> None:
        self.greeting = greeting
        self.live = live

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.live.add(transport)

    def data_received(self, data: bytes) -> None:
        self.transport.write(self.greeting + data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.live.discard(self.transport)


async def start(core: Core, settings: Settings) -> list[Listener]:
    cfg = settings.protocol("echo", EchoSettings)
    host, port = parse_hostport(cfg.listen)
    live: set[asyncio.BaseTransport] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Echo(cfg.greeting.encode(), live), host, port)

    def close_all() -> None:
        for transport in list(live):
            transport.close()

    bound = server.sockets[0].getsockname()[1]
    return [Listener("echo", "tcp", host, bound, server, close_all, live.__len__)]


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    greeting = settings.protocol("echo", EchoSettings).greeting

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=greeting)

    return [web.get("/echo", hello)]


ENTRY = ProtocolEntry("echo", EchoSettings, start, routes)
