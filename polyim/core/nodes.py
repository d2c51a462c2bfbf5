"""The node registry (design.md §6): facts each node publishes about itself, refreshed periodically.

A protocol registers a *reporter* that writes its records (beehive LSND-INFO and FRWD-INFO, beehive.md
§4.6); the records are opaque bytes under a kind and a key, alive for :data:`~polyim.cluster.base.RECORD_TTL` seconds after
their last refresh and listed as gone for a while after that. Readers (beehive ``/im/iplist``,
``/im/config``) pick from them. The records live behind the cluster's
:class:`~polyim.cluster.base.NodeRegistry`: this process's memory on one node, shared by every node in
scaled mode; this class keeps what is the node's own (its listeners, reporters and timers).

The registry also knows this node's listeners (protocol, kind, host, bound port), which the server sets
once every listener is up; setting them runs every reporter at once, so records exist before the first
client can ask.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from polyim.cluster.base import NodeRecord, NodeRegistry

log = logging.getLogger(__name__)

REPORT_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    protocol: str
    kind: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Gateway:
    """A listener of some node as its clients are to be told: the address it advertises and how many
    connections it holds (the load a server-lookup command balances)."""

    nid: int
    protocol: str
    kind: str
    host: str
    port: int
    connections: int


GATEWAYS = "core.gateway"  # one record per listener of every node: a Gateway as JSON

Reporter = Callable[["Nodes"], None]


class Nodes:
    def __init__(self, node_id: int, registry: NodeRegistry) -> None:
        self.node_id = node_id
        self.listeners: list[ListenerInfo] = []
        self._registry = registry
        self._reporters: list[Reporter] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- records ------------------------------------------------------------------------------------
    def put(self, kind: str, key: str, value: bytes) -> None:
        self._registry.put(kind, key, value)

    def records(self, kind: str) -> list[NodeRecord]:
        """The records of ``kind`` still listed (alive or recently gone), by key."""
        return self._registry.records(kind)

    def put_gateway(self, gateway: Gateway) -> None:
        self.put(
            GATEWAYS, f"{gateway.nid}:{gateway.protocol}:{gateway.kind}", json.dumps(asdict(gateway)).encode()
        )

    def least_loaded(self, protocol: str, kind: str) -> Gateway | None:
        """The live listener of ``protocol`` and ``kind`` with the fewest connections, on any node (the
        lowest node id among equals): what the protocols' "which server" commands hand out (design.md §6)."""
        fitting = [g for g in self.gateways() if g.protocol == protocol and g.kind == kind]
        return min(fitting, key=lambda g: (g.connections, g.nid), default=None)

    def gateways(self) -> list[Gateway]:
        """Every live listener of every node, as last reported."""
        now = time.monotonic()
        return [Gateway(**json.loads(r.value)) for r in self.records(GATEWAYS) if r.alive(now)]

    def elsewhere(self, protocol: str, kind: str) -> Gateway | None:
        """:meth:`least_loaded` when it is another node's listener (None when it is this node's, or none is
        known), its host emptied when that node listens on a wildcard address (the asker keeps its own)."""
        best = self.least_loaded(protocol, kind)
        if best is None or best.nid == self.node_id:
            return None
        return replace(best, host="") if best.host in ("", "0.0.0.0", "::", "[::]") else best

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
