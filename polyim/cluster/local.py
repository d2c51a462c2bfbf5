"""The cluster seams for nodes in one process: a single node in production, several in tests.

The shared state (the directory, the node records, the login throttle, the cache subscribers, the
inboxes) is a :class:`Hub` in memory; each node gets its own view of it through :func:`local_cluster`.
With one node the remote view stays empty and nothing is ever published; with several, envelopes travel
as bytes through the event loop, as they would through Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence

from polyim.cluster.base import (
    GONE_KEPT,
    CacheBus,
    CacheKind,
    Cluster,
    Directory,
    Drop,
    Inbox,
    Membership,
    NodeRecord,
    NodeRegistry,
    Router,
    SessionId,
    SessionRecord,
    Throttle,
)
from polyim.config import AccountSettings

log = logging.getLogger(__name__)


class LocalThrottle(Throttle):
    """Failed logins per key in a sliding window; past the limit the key is locked out for a while.

    Keys are ``"acct:<name>"`` (counted alike for unknown names, so the throttle reveals nothing) and
    ``"addr:<ip>"`` (with four times the limit).
    """

    def __init__(self, max_failed: int = 5, window_s: float = 300, lockout_s: float = 60) -> None:
        self.max_failed = max_failed
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def _limit(self, key: str) -> int:
        return self.max_failed * 4 if key.startswith("addr:") else self.max_failed

    async def locked(self, key: str, now: float | None = None) -> bool:
        current = now if now is not None else time.monotonic()
        until = self._locked_until.get(key)
        if until is None:
            return False
        if until > current:
            return True
        del self._locked_until[key]
        return False

    async def fail(self, key: str, now: float | None = None) -> None:
        current = now if now is not None else time.monotonic()
        times = self._failures.setdefault(key, deque())
        times.append(current)
        while times and times[0] < current - self.window_s:
            times.popleft()
        if len(times) >= self._limit(key):
            self._locked_until[key] = current + self.lockout_s
            times.clear()

    async def succeed(self, key: str) -> None:
        self._failures.pop(key, None)


class Hub:
    """What the nodes of one process share."""

    def __init__(self, settings: AccountSettings | None = None) -> None:
        s = settings or AccountSettings()
        self.throttle = LocalThrottle(s.max_failed_logins, s.failed_login_window, s.lockout)
        self.sessions: dict[SessionId, SessionRecord] = {}
        self.by_uid: dict[int, list[SessionRecord]] = {}
        self.views: dict[int, dict[int, list[SessionRecord]]] = {}  # node → uid → sessions elsewhere
        self.inboxes: dict[int, Inbox] = {}
        self.drops: list[Drop] = []
        self.records: dict[tuple[str, str], NodeRecord] = {}

    def view(self, node: int) -> dict[int, list[SessionRecord]]:
        """``node``'s view of the other nodes' sessions, made when it joins."""
        view = self.views.get(node)
        if view is None:
            view = self.views[node] = {}
            for record in self.sessions.values():
                if record.node != node:
                    _add(view, record)
        return view


class LocalDirectory(Directory):
    def __init__(self, hub: Hub, node_id: int) -> None:
        self.node_id = node_id
        self._hub = hub
        self._remote = hub.view(node_id)

    def add(self, record: SessionRecord) -> None:
        hub = self._hub
        hub.sessions[record.sid] = record
        _add(hub.by_uid, record)
        for node, view in hub.views.items():
            if node != record.node:
                _add(view, record)

    def remove(self, sid: SessionId) -> SessionRecord | None:
        hub = self._hub
        record = hub.sessions.pop(sid, None)
        if record is None:
            return None
        _remove(hub.by_uid, record)
        for node, view in hub.views.items():
            if node != record.node:
                _remove(view, record)
        return record

    def get(self, sid: SessionId) -> SessionRecord | None:
        return self._hub.sessions.get(sid)

    def of(self, uid: int) -> Sequence[SessionRecord]:
        return list(self._hub.by_uid.get(uid, ()))

    def online(self, uid: int) -> bool:
        return uid in self._hub.by_uid

    def remote(self) -> Mapping[int, Sequence[SessionRecord]]:
        return self._remote


def _add(view: dict[int, list[SessionRecord]], record: SessionRecord) -> None:
    view.setdefault(record.uid, []).append(record)


def _remove(view: dict[int, list[SessionRecord]], record: SessionRecord) -> None:
    records = view.get(record.uid)
    if records is not None and record in records:
        records.remove(record)
        if not records:
            del view[record.uid]


class LocalRouter(Router):
    """Envelopes reach another node of the process one loop turn later, as bytes; with one node there is
    no other node to publish to, so nothing is ever published."""

    def __init__(self, hub: Hub, node_id: int) -> None:
        self._hub = hub
        self._node_id = node_id

    def publish(self, node: int, envelope: bytes) -> None:
        inbox = self._hub.inboxes.get(node)
        if inbox is None:  # the node left: like a lost publish, repaired by seq sync on reconnect
            log.warning("node %d: no node %d to route to, dropped", self._node_id, node)
            return
        asyncio.get_running_loop().call_soon(inbox, envelope)

    def subscribe(self, inbox: Inbox) -> None:
        self._hub.inboxes[self._node_id] = inbox


class LocalNodeRegistry(NodeRegistry):
    def __init__(self, hub: Hub) -> None:
        self._records = hub.records

    def put(self, kind: str, key: str, value: bytes) -> None:
        self._records[(kind, key)] = NodeRecord(kind, key, value, time.monotonic())

    def records(self, kind: str) -> list[NodeRecord]:
        now = time.monotonic()
        for k in [k for k, r in self._records.items() if now - r.refreshed >= GONE_KEPT]:
            del self._records[k]
        return sorted((r for r in self._records.values() if r.kind == kind), key=lambda r: r.key)


class LocalCacheBus(CacheBus):
    """Every node of the process drops its entry at once."""

    def __init__(self, hub: Hub) -> None:
        self._drops = hub.drops

    def subscribe(self, drop: Drop) -> None:
        self._drops.append(drop)

    def drop(self, kind: CacheKind, keys: tuple[int, ...]) -> None:
        for drop in self._drops:
            drop(kind, keys)


class LocalMembership(Membership):
    def __init__(self, hub: Hub, directory: LocalDirectory) -> None:
        self._hub = hub
        self._directory = directory

    async def join(self) -> None:
        """Nothing to connect to: the directory's view was made with it."""

    async def leave(self) -> None:
        node = self._directory.node_id
        self._hub.inboxes.pop(node, None)
        for record in [r for r in self._hub.sessions.values() if r.node == node]:
            self._directory.remove(record.sid)
        self._hub.views.pop(node, None)


def local_cluster(node_id: int, settings: AccountSettings | None = None, hub: Hub | None = None) -> Cluster:
    """Node ``node_id``'s seams over ``hub`` (a new one: a single node)."""
    hub = hub or Hub(settings)
    directory = LocalDirectory(hub, node_id)
    return Cluster(
        directory=directory,
        router=LocalRouter(hub, node_id),
        throttle=hub.throttle,
        nodes=LocalNodeRegistry(hub),
        caches=LocalCacheBus(hub),
        membership=LocalMembership(hub, directory),
    )
