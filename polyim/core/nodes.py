"""The node registry (design.md §6): facts each node publishes about itself, refreshed periodically.

A protocol registers a *reporter* that writes its records (beehive LSND-INFO and FRWD-INFO, beehive.md
§4.6); the records are opaque bytes under a kind and a key, alive for :data:`RECORD_TTL` seconds after
their last refresh and listed as gone for a while after that. Readers (beehive ``/im/iplist``,
``/im/config``) pick from them. On one node the registry is this process's memory; scaled mode would keep
the same records in Redis.

The registry also knows this node's listeners (protocol, kind, host, bound port), which the server sets
once every listener is up; setting them runs every reporter at once, so records exist before the first
client can ask.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

RECORD_TTL = 30.0
GONE_KEPT = 600.0  # how long a record that stopped being refreshed is still listed (as gone)
REPORT_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    protocol: str
    kind: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class NodeRecord:
    kind: str
    key: str
    value: bytes
    refreshed: float  # time.monotonic() of the last write

    def alive(self, now: float) -> bool:
        return now - self.refreshed < RECORD_TTL


Reporter = Callable[["Nodes"], None]


class Nodes:
    def __init__(self, node_id: int) -> None:
        self.node_id = node_id
        self.listeners: list[ListenerInfo] = []
        self._records: dict[tuple[str, str], NodeRecord] = {}
        self._reporters: list[Reporter] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- records ------------------------------------------------------------------------------------
    def put(self, kind: str, key: str, value: bytes) -> None:
        self._records[(kind, key)] = NodeRecord(kind, key, value, time.monotonic())

    def records(self, kind: str) -> list[NodeRecord]:
        """The records of ``kind`` still listed (alive or recently gone), by key."""
        now = time.monotonic()
        for k in [k for k, r in self._records.items() if now - r.refreshed >= GONE_KEPT]:
            del self._records[k]
        return sorted((r for r in self._records.values() if r.kind == kind), key=lambda r: r.key)

    # -- listeners and reporters ----------------------------------------------------------------------
    def set_listeners(self, listeners: list[ListenerInfo]) -> None:
        self.listeners = list(listeners)
        self.refresh()

    def listener(self, protocol: str, kind: str) -> ListenerInfo | None:
        return next((x for x in self.listeners if x.protocol == protocol and x.kind == kind), None)

    def add_reporter(self, reporter: Reporter) -> None:
        """Run ``reporter`` now, every :data:`REPORT_INTERVAL` seconds and whenever the listeners change."""
        self._reporters.append(reporter)
        self._run(reporter)
        self.every(REPORT_INTERVAL, lambda: self._run(reporter))

    def refresh(self) -> None:
        for reporter in self._reporters:
            self._run(reporter)

    def _run(self, reporter: Reporter) -> None:
        try:
            reporter(self)
        except Exception:  # a broken report must not stop the others or the timer
            log.exception("node reporter failed")

    # -- periodic jobs ----------------------------------------------------------------------------------
    def every(self, interval: float, job: Callable[[], None]) -> None:
        """Call ``job`` every ``interval`` seconds until :meth:`stop` (needs a running loop)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    job()
                except Exception:
                    log.exception("periodic job failed")

        self._tasks.append(asyncio.ensure_future(loop()))

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
