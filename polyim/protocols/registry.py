"""The protocols polyim speaks. Adding one means a package under ``protocols/`` and one line here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from polyim.config import Settings
    from polyim.core.app import Core


@dataclass
class Listener:
    protocol: str
    kind: str
    host: str
    port: int
    server: asyncio.AbstractServer
    close_all: Callable[[], None]
    connections: Callable[[], int] | None = None  # open connections, for /metrics


@dataclass(frozen=True)
class ProtocolEntry:
    name: str
    start: Callable[[Core, Settings], Awaitable[list[Listener]]]
    routes: Callable[[Core, Settings], list[web.RouteDef]]


def entries() -> list[ProtocolEntry]:
    from polyim.protocols import beehive, omtp

    return [omtp.ENTRY, beehive.ENTRY]
