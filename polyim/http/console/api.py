"""What the web console asks of the admin API beyond ``http/admin.py`` and ``http/push.py``: a snapshot
of the node for its live view, ``GET /api/v1/stats``.

Its answer is bounded whatever the node holds (the console stays quick with 10,000 sessions online):
counts are grouped per node and protocol. The message rates are running totals sampled every
:data:`SAMPLE_S` seconds by the node's timer (the store's commits and the core's ``NodeStats``), never
counted per message here.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from aiohttp import web

from polyim.core.app import Core
from polyim.http.common import CORE_KEY, admin_only
from polyim.http.metrics import ConnectionCounts

SAMPLE_S = 2.0
KEPT = 300  # samples: the last ten minutes

Totals = Callable[[], dict[str, int]]


class Rates:
    """Running totals sampled every :data:`SAMPLE_S` seconds: per-second rates over the last minutes."""

    def __init__(self, totals: Totals, clock: Callable[[], float] = time.time) -> None:
        self._totals = totals
        self._clock = clock
        self._samples: deque[tuple[float, dict[str, int]]] = deque(maxlen=KEPT + 1)

    def sample(self) -> None:
        self._samples.append((self._clock(), self._totals()))

    def series(self) -> dict[str, Any]:
        """``{"interval": s, "t_ms": [...], name: [per-second rate, ...], ...}``, oldest first."""
        out: dict[str, Any] = {"interval": SAMPLE_S, "t_ms": []}
        for name in self._totals():
            out[name] = []
        for (t0, before), (t1, after) in pairwise(self._samples):
            out["t_ms"].append(int(t1 * 1000))
            for name in after:
                out[name].append(round((after[name] - before.get(name, 0)) / max(t1 - t0, 1e-3), 2))
        return out


RATES_KEY = web.AppKey("console_rates", Rates)
CONNECTIONS_KEY: web.AppKey[ConnectionCounts] = web.AppKey("console_connections")


def totals(core: Core) -> Totals:
    """The node's running totals the chart shows as rates: messages committed, and messages handed to
    sessions of this node (one per receiving session)."""

    def read() -> dict[str, int]:
        delivered = sum(core.stats.messages_out.values())
        return {"messages": core.store.metrics().messages_stored, "deliveries": delivered}

    return read


def _per_node(core: Core, connections: ConnectionCounts) -> list[dict[str, Any]]:
    """Connections and sessions per node and protocol: this node's live, the others' as reported."""
    here = core.nodes.node_id
    conns: Counter[tuple[int, str]] = Counter()
    for listener in connections():
        conns[here, listener.protocol] += listener.open
    for gateway in core.nodes.gateways():
        if gateway.nid != here:
            conns[gateway.nid, gateway.protocol] += gateway.connections
    sessions = Counter((here, s.protocol) for s in core.sessions.all())
    sessions.update(core.sessions.remote_counts())
    keys = sorted(set(conns) | set(sessions))
    return [
        {"node": n, "protocol": p, "connections": conns[n, p], "sessions": sessions[n, p]} for n, p in keys
    ]


async def stats(request: web.Request) -> web.Response:
    """``GET /api/v1/stats`` → this node's id, connections and sessions per node and protocol, users
    online, rooms with sessions here, and the message rates of the last minutes."""
    core = request.app[CORE_KEY]
    per_node = _per_node(core, request.app[CONNECTIONS_KEY])
    return web.json_response(
        {
            "node": core.nodes.node_id,
            "nodes": per_node,
            "sessions": sum(x["sessions"] for x in per_node),
            "users_online": core.sessions.users(),
            "rooms": len(core.rooms.node_stats()),
            "rates": request.app[RATES_KEY].series(),
        }
    )


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/stats", admin_only(stats))]
