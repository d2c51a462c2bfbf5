"""The protocols polyim speaks. Adding one means a package under ``protocols/`` and one line here."""

from __future__ import annotations

from polyim.protocols import beehive, imlc, omtp, teamtalk, xmmep
from polyim.protocols.entry import ProtocolEntry, ProtocolSection

ENTRIES: tuple[ProtocolEntry, ...] = (
    omtp.ENTRY,
    beehive.ENTRY,
    imlc.ENTRY,
    xmmep.ENTRY,
    teamtalk.ENTRY,
)


def entries() -> tuple[ProtocolEntry, ...]:
    """Every registered protocol, in start order; read at each call, so a test can register one more."""
    return ENTRIES


def sections() -> dict[str, type[ProtocolSection]]:
    """Each protocol's settings dataclass by its section name: what ``config.load`` fills."""
    return {entry.name: entry.settings for entry in entries()}
