"""Live sessions: one per authenticated connection, whatever its protocol."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from polyim.core.events import Event, KickReason
from polyim.model import DeviceClass, Role

log = logging.getLogger(__name__)


class Sink(Protocol):
    """What the core needs from a connection: hand it an event, or tell it it has been kicked.

    Both are synchronous and must not block: the adapter encodes and queues a write.
    """

    def deliver(self, event: Event) -> None: ...

    def kick(self, reason: KickReason) -> None: ...

    @classmethod
    def deliver_all(cls, sinks: Sequence[Sink], event: Event) -> None:
        """``deliver`` to many sinks of this class at once (see :func:`fan_out`)."""


def fan_out(sessions: Iterable[Session], event: Event) -> int:
    """Hand ``event`` to many sessions (a room, a broadcast), grouped by adapter class: an adapter renders
    the frame once and writes it to all its connections in one tight loop (design.md §8)."""
    groups: dict[type[Sink], list[Sink]] = {}
    n = 0
    for s in sessions:
        sink = s.sink
        group = groups.get(type(sink))
        if group is None:
            groups[type(sink)] = [sink]
        else:
            group.append(sink)
        n += 1
    for kind, sinks in groups.items():
        kind.deliver_all(sinks, event)
    return n


_sids = itertools.count(1)


@dataclass(eq=False, slots=True)
class Session:
    uid: int
    device_id: str
    device_class: DeviceClass
    protocol: str
    sink: Sink
    role: Role = Role.USER
    device_type: int = 0
    peer_addr: str = ""
    app: str = ""  # the client application's own name and version, where its protocol reports them
    app_version: str = ""
    sid: int = field(default_factory=lambda: next(_sids))
    monitors: set[str] = field(default_factory=set)

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


class SessionRegistry:
    """uid → live sessions on this node, and conversation monitors.

    The kick policy lives here: a new session takes the slot of any older session of the same uid
    and device class (or the same device id), in any protocol.
    """

    def __init__(self) -> None:
        self._by_uid: dict[int, list[Session]] = {}
        self._monitors: dict[str, set[Session]] = {}
        self._on_detach: list[Callable[[Session], None]] = []

    def on_detach(self, hook: Callable[[Session], None]) -> None:
        """Call ``hook`` whenever a session ends, whatever ended it (close, OFFLINE, kick, disabling):
        every end passes through :meth:`detach`, so services holding sessions (rooms) clean up here."""
        self._on_detach.append(hook)

    def attach(self, session: Session) -> list[Session]:
        """Register ``session``; kick and return the sessions it replaces."""
        current = self._by_uid.get(session.uid, [])
        replaced = [
            s
            for s in current
            if s is not session
            and (s.device_class is session.device_class or s.device_id == session.device_id)
        ]
        for old in replaced:
            self.detach(old)
            old.sink.kick(KickReason.DUPLICATE_LOGIN)
        self._by_uid.setdefault(session.uid, []).append(session)
        return replaced

    def detach(self, session: Session) -> bool:
        """Forget ``session``; returns True when the user has no session left on this node."""
        sessions = self._by_uid.get(session.uid)
        if sessions is None or session not in sessions:
            return False
        sessions.remove(session)
        self._ended(session)
        for key in session.monitors:
            watchers = self._monitors.get(key)
            if watchers is not None:
                watchers.discard(session)
                if not watchers:
                    del self._monitors[key]
        session.monitors.clear()
        if sessions:
            return False
        del self._by_uid[session.uid]
        return True

    def _ended(self, session: Session) -> None:
        for hook in self._on_detach:
            try:
                hook(session)
            except Exception:  # one service's bug must not keep a dead session registered
                log.exception("session end hook failed for uid %d", session.uid)

    def of(self, uid: int) -> list[Session]:
        return self._by_uid.get(uid, [])

    def online(self, uid: int) -> bool:
        return uid in self._by_uid

    def count(self) -> int:
        return sum(len(v) for v in self._by_uid.values())

    def users(self) -> int:
        return len(self._by_uid)

    def all(self) -> list[Session]:
        return [s for group in self._by_uid.values() for s in group]

    def monitor(self, session: Session, conv_key: str) -> None:
        session.monitors.add(conv_key)
        self._monitors.setdefault(conv_key, set()).add(session)

    def unmonitor(self, session: Session, conv_key: str) -> None:
        session.monitors.discard(conv_key)
        watchers = self._monitors.get(conv_key)
        if watchers is not None:
            watchers.discard(session)
            if not watchers:
                del self._monitors[conv_key]

    def monitors_of(self, conv_key: str) -> set[Session]:
        return self._monitors.get(conv_key, set())

    def deliver(
        self, uids: Iterable[int], event: Event, *, skip: Session | None = None, conv_key: str = ""
    ) -> int:
        """Send ``event`` to every session of ``uids`` and to the monitors of
        ``conv_key``, each connection once, except ``skip``. Returns the number of connections."""
        seen: set[int] = set()
        n = 0
        for uid in uids:
            for s in self._by_uid.get(uid, ()):
                if s is not skip and s.sid not in seen:
                    seen.add(s.sid)
                    s.sink.deliver(event)
                    n += 1
        if conv_key:
            for s in self._monitors.get(conv_key, ()):
                if s is not skip and s.sid not in seen:
                    seen.add(s.sid)
                    s.sink.deliver(event)
                    n += 1
        return n
