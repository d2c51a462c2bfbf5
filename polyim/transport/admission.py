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

# At most one "refused" line per listener in this many seconds (a flood must not flood the log too).
_LOG_EVERY = 10.0


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
        self._refused = 0
        self._logged_at = 0.0

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
        self._refused += 1
        now = time.monotonic()
        if now - self._logged_at < _LOG_EVERY:
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
            self._refused,
        )
        self._refused = 0
        self._logged_at = now


def host_of(peername: object) -> str:
    """The address part of a socket's peer name (the per-address cap ignores the port)."""
    return str(peername[0]) if isinstance(peername, tuple) else str(peername)


def peer_name(peername: object) -> str:
    """``host:port`` for the logs and for ``Session.peer_addr``."""
    return f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
