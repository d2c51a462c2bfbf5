"""The cap on connections that are not (yet) a logged-in session, per listener and per source address.

A socket costs a file descriptor whether or not its client ever logs in; a few thousand silent ones
would use up the process's descriptors and stop every listener (issue 16). So each listener admits at
most ``max_pending`` connections that have not logged in, and at most ``max_per_address`` of them from
one address. Past the cap a new connection is closed at once; a logged-in session holds no slot, so
sessions keep working. HTTP connections never log in: they hold their slot until they close.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class LogEvery:
    """A log line at most every ``seconds`` for a kind of event, saying how many it stands for: a flood
    of refused or cut connections must not flood the log too."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._count = 0
        self._at = 0.0

    def due(self) -> int:
        """Count one event; the events since the last line when a line is due now, else 0."""
        self._count += 1
        now = time.monotonic()
        if now - self._at < self.seconds:
            return 0
        count, self._count, self._at = self._count, 0, now
        return count


class Ticket:
    """One admitted connection's slot; :meth:`release` (at login or close) gives it back, once."""

    __slots__ = ("addr", "owner")

    def __init__(self, owner: Admission, addr: str) -> None:
        self.owner: Admission | None = owner
        self.addr = addr

    def release(self) -> None:
        owner, self.owner = self.owner, None
        if owner is not None:
            owner.release(self.addr)


class Admission:
    """The pending connections of one listener, counted in total and per source address."""

    def __init__(self, name: str, max_pending: int, max_per_address: int) -> None:
        self.name = name
        self.max_pending = max_pending
        self.max_per_address = max_per_address
        self.pending = 0
        self._by_addr: dict[str, int] = {}
        self._refusals = LogEvery()

    def admit(self, addr: str) -> Ticket | None:
        """A slot for a new connection from ``addr``, or None when it must be refused."""
        count = self._by_addr.get(addr, 0)
        if self.pending >= self.max_pending or count >= self.max_per_address:
            self._note_refusal(addr, count)
            return None
        self.pending += 1
        self._by_addr[addr] = count + 1
        return Ticket(self, addr)

    def release(self, addr: str) -> None:
        self.pending -= 1
        count = self._by_addr[addr] - 1
        if count:
            self._by_addr[addr] = count
        else:
            del self._by_addr[addr]

    def _note_refusal(self, addr: str, count: int) -> None:
        refused = self._refusals.due()
        if not refused:
            return
        log.warning(
            "%s: refusing connections over the cap of ones not logged in (%d pending, %d from %s; "
            "limits %d and %d per address); %d refused since the last such line",
            self.name,
            self.pending,
            count,
            addr,
            self.max_pending,
            self.max_per_address,
            refused,
        )


def host_of(peername: object) -> str:
    """The address part of a socket's peer name (the per-address cap ignores the port)."""
    return str(peername[0]) if isinstance(peername, tuple) else str(peername)


def peer_name(peername: object) -> str:
    """``host:port`` for the logs and for ``Session.peer_addr``."""
    return f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
