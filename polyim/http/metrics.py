"""``GET /metrics``: the node's numbers in the Prometheus text format.

Live state is read when the endpoint is scraped (session and room tables, listener connection sets,
the store's running totals); what live state cannot tell afterwards (logins, refused logins, messages in
and out, fan-out sizes, errors) the core counts in plain dicts (``core/stats.py``), one update per event,
and the store's writer keeps its commit histograms (``polyim/histogram.py``) once per transaction. No
metrics library is called on the message path. The page shows counts, never who: it is served without
the admin token, like any scrape target, on the HTTP listener (loopback by default); ``[http]
metrics_token``, when set, asks the scraper for it as a bearer token, for a listener that is reachable
from further away. Process figures (CPU seconds, resident memory, open fds) come from
``prometheus_client``'s own collectors. Every polyim family carries the ``node`` label (``[server]
node_id``); ``docs/grafana-dashboard.json`` charts them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from polyim import build
from polyim.core.app import Core
from polyim.histogram import Histogram
from polyim.http.common import api_error, has_bearer


class ListenerCounts(NamedTuple):
    protocol: str
    kind: str
    open: int  # connections open now
    slow_consumers: int  # connections cut since start for not reading what was written to them


ConnectionCounts = Callable[[], Iterable[ListenerCounts]]

#: The kinds of ``polyim_errors_total`` each protocol shows from the start (at 0, so a rate exists).
ERROR_KINDS = ("bad_frame", "handler", "commit", "render")


def _histogram(name: str, doc: str, node: str, h: Histogram) -> Metric:
    family = HistogramMetricFamily(name, doc, labels=["node"])
    family.add_metric([node], h.cumulative(), h.sum)
    return family


class NodeCollector(Collector):
    def __init__(self, core: Core, connections: ConnectionCounts) -> None:
        self.core = core
        self.connections = connections
        self.node = str(core.clock.node_id)

    def collect(self) -> Iterator[Metric]:
        listeners = list(self.connections())
        info = GaugeMetricFamily("polyim_node_info", "This node (1) and its build", labels=["node", "build"])
        info.add_metric([self.node, build.kind()], 1)
        yield info
        yield from self._listeners(listeners)
        protocols = sorted({x.protocol for x in listeners} - {"http"})
        yield from self._sessions(protocols)
        yield from self._traffic(protocols)
        yield from self._rooms()
        yield from self._store()

    def _one(
        self, kind: type[GaugeMetricFamily] | type[CounterMetricFamily], name: str, doc: str, value: float
    ) -> Metric:
        family = kind(name, doc, labels=["node"])
        family.add_metric([self.node], value)
        return family

    def _per_protocol(
        self, family: GaugeMetricFamily | CounterMetricFamily, counts: dict[str, int]
    ) -> Metric:
        for protocol, n in sorted(counts.items()):
            family.add_metric([protocol, self.node], n)
        return family

    def _listeners(self, listeners: list[ListenerCounts]) -> Iterator[Metric]:
        labels = ["protocol", "kind", "node"]
        conns = GaugeMetricFamily("polyim_connections", "Open connections", labels=labels)
        cut = CounterMetricFamily(
            "polyim_slow_consumers", "Connections cut for not reading what was written to them", labels=labels
        )
        for x in listeners:
            conns.add_metric([x.protocol, x.kind, self.node], x.open)
            cut.add_metric([x.protocol, x.kind, self.node], x.slow_consumers)
        yield conns
        yield cut

    def _sessions(self, protocols: list[str]) -> Iterator[Metric]:
        sessions = self.core.sessions
        counts = dict.fromkeys(protocols, 0) | Counter(s.protocol for s in sessions.all())
        family = GaugeMetricFamily("polyim_sessions", "Logged-in sessions", labels=["protocol", "node"])
        yield self._per_protocol(family, counts)
        yield self._one(GaugeMetricFamily, "polyim_users_online", "Users with a session", sessions.users())

    def _traffic(self, protocols: list[str]) -> Iterator[Metric]:
        stats, zero = self.core.stats, dict.fromkeys(protocols, 0)
        labels = ["protocol", "node"]
        for name, doc, counts in (
            ("polyim_logins", "Sessions that logged in", stats.logins),
            ("polyim_messages_in", "Messages clients sent, accepted for commit", stats.messages_in),
            ("polyim_messages_out", "Messages handed to sessions, one per session", stats.messages_out),
        ):
            yield self._per_protocol(CounterMetricFamily(name, doc, labels=labels), zero | counts)
        failed = CounterMetricFamily(
            "polyim_login_failures", "Refused logins by reason", labels=["protocol", "reason", "node"]
        )
        refused = dict.fromkeys(((p, "auth_failed") for p in protocols), 0) | stats.login_failures
        for (protocol, reason), n in sorted(refused.items()):
            failed.add_metric([protocol, reason, self.node], n)
        yield failed
        errors = CounterMetricFamily("polyim_errors", "Errors by kind", labels=["protocol", "kind", "node"])
        seen = {(p, k): 0 for p in protocols for k in ERROR_KINDS} | stats.errors
        for (protocol, kind), n in sorted(seen.items()):
            errors.add_metric([protocol, kind, self.node], n)
        yield errors
        yield _histogram("polyim_fanout_sessions", "Sessions one message reached", self.node, stats.fanout)

    def _rooms(self) -> Iterator[Metric]:
        stats = self.core.rooms.node_stats()
        gauge = GaugeMetricFamily
        yield self._one(gauge, "polyim_rooms_active", "Rooms with sessions on this node", len(stats))
        yield self._one(
            gauge, "polyim_room_sessions", "Sessions in rooms on this node", sum(s.num for s in stats)
        )

    def _store(self) -> Iterator[Metric]:
        m = self.core.store.metrics()
        counter = CounterMetricFamily
        yield self._one(counter, "polyim_messages_stored", "Messages committed", m.messages_stored)
        yield self._one(counter, "polyim_store_commits", "Write transactions committed", m.commits)
        yield self._one(
            counter, "polyim_store_commit_seconds", "Wall time in write transactions", m.commit_seconds
        )
        yield self._one(
            counter, "polyim_store_linger_seconds", "Time the writer waited for more work", m.linger_seconds
        )
        yield self._one(
            GaugeMetricFamily, "polyim_store_write_queue", "Calls waiting for the writer", m.write_queue
        )
        yield _histogram(
            "polyim_store_commit_batch_calls", "Calls per write transaction", self.node, m.commit_batch
        )
        yield _histogram(
            "polyim_store_commit_latency_seconds",
            "Write transaction time, BEGIN to COMMIT",
            self.node,
            m.commit_latency,
        )


def metrics_route(core: Core, connections: ConnectionCounts, token: str = "") -> web.RouteDef:
    """``token`` empty: open to any scraper; else ``Authorization: Bearer <token>`` is required."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(core, connections))
    for shared in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(shared)

    async def metrics(request: web.Request) -> web.Response:
        if token and not has_bearer(request, token):
            return api_error(401, "unauthorized")
        resp = web.Response(body=generate_latest(registry))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    return web.get("/metrics", metrics)
