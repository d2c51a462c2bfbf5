"""What a protocol package declares about itself: its ``ENTRY``, one line of ``protocols/registry.py``.

Its own module, so that the packages import it and the registry imports the packages, never back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core
    from polyim.transport.listener import Listener


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
