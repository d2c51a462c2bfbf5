"""``GET /metrics``: the node's numbers in the Prometheus text format.

Everything is read from live state when the endpoint is scraped (session and room tables, listener
connection sets, the store's running totals), so the message path pays nothing for it. The page shows
counts, never who: it is served without the admin token, like any scrape target, on the HTTP listener
(loopback by default); ``[http] metrics_token``, when set, asks the scraper for it as a bearer token, for
a listener that is reachable from further away. Process figures (CPU seconds, resident memory, open fds) come from
``prometheus_client``'s own collectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from polyim.core.app import Core
from polyim.http.common import api_error, has_bearer

ConnectionCounts = Callable[[], Iterable[tuple[str, str, int]]]  # (protocol, kind, open connections)


class NodeCollector(Collector):
    def __init__(self, core: Core, connections: ConnectionCounts) -> None:
        self.core = core
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        conns = GaugeMetricFamily("polyim_connections", "Open connections", labels=["protocol", "kind"])
        for protocol, kind, n in self.connections():
            conns.add_metric([protocol, kind], n)
        yield conns
        yield from self._sessions()
        yield from self._rooms()
        yield from self._store()

    def _sessions(self) -> Iterator[Metric]:
        sessions = self.core.sessions
        by_protocol = GaugeMetricFamily("polyim_sessions", "Logged-in sessions", labels=["protocol"])
        for protocol, n in sorted(Counter(s.protocol for s in sessions.all()).items()):
            by_protocol.add_metric([protocol], n)
        yield by_protocol
        yield GaugeMetricFamily("polyim_users_online", "Users with a session", value=sessions.users())

    def _rooms(self) -> Iterator[Metric]:
        stats = self.core.rooms.node_stats()
        yield GaugeMetricFamily("polyim_rooms_active", "Rooms with sessions on this node", value=len(stats))
        yield GaugeMetricFamily(
            "polyim_room_sessions", "Sessions in rooms on this node", value=sum(s.num for s in stats)
        )

    def _store(self) -> Iterator[Metric]:
        m = self.core.store.metrics()
        yield CounterMetricFamily("polyim_messages_stored", "Messages committed", value=m.messages_stored)
        yield CounterMetricFamily("polyim_store_commits", "Write transactions committed", value=m.commits)
        yield CounterMetricFamily(
            "polyim_store_commit_seconds", "Wall time in write transactions", value=m.commit_seconds
        )
        yield GaugeMetricFamily(
            "polyim_store_write_queue", "Calls waiting for the writer", value=m.write_queue
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
