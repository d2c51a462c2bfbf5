"""``polyim bench --nodes N``: the bench's own server as N nodes of a scaled cluster on this machine.

The bench starts a throw-away PostgreSQL (fsync on, as a deployment runs it) and Redis from the
installed binaries (:mod:`polyim.bench.engines`), points its server's configuration at them, seeds the
accounts into PostgreSQL, and starts ``polyim serve --nodes N`` (``--nodes 1``: one plain node on the
same engines, the 1-node PostgreSQL figures). The load connects to the one set of ports, and the kernel
spreads the connections over the nodes (SO_REUSEPORT), so a chat pair lands on two nodes as often as
it would in a deployment ((N-1)/N of the pairs): cross-node traffic is part of every figure.

The server figures (CPU, RSS) are the supervisor's and its nodes' together (``runner.process_tree``);
PostgreSQL's and Redis's CPU over the same window are reported beside them, with the sessions each node
holds and the share of chat pairs split over two nodes, read from the session directory in Redis.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field

from polyim.bench import engines, runner
from polyim.bench.load import SessionSpec


@dataclass
class Cluster:
    """The engines under the bench's nodes, and what the report says of them."""

    nodes: int
    postgres: engines.PostgresServer
    redis: engines.RedisServer
    cpu_marks: dict[str, float] = field(default_factory=dict)

    def _pids(self) -> dict[str, int]:
        pids = {}
        for name, proc in (("postgres", self.postgres.proc), ("redis", self.redis.proc)):
            if proc is not None:
                pids[name] = proc.pid
        return pids

    def mark(self) -> None:
        """The engines' CPU now: the start of the measured window."""
        for name, pid in self._pids().items():
            self.cpu_marks[name] = runner.cpu_seconds(pid) or 0.0

    async def figures(self, sessions: list[SessionSpec]) -> dict[str, object]:
        """The engines' CPU since :meth:`mark`, and where the sessions are (while they are logged in)."""
        out: dict[str, object] = {"nodes": self.nodes}
        for name, pid in self._pids().items():
            now = runner.cpu_seconds(pid)
            if now is not None and name in self.cpu_marks:
                out[f"{name}_cpu_s"] = round(now - self.cpu_marks[name], 2)
        where, per_node = await _directory(self.redis.url)
        out["sessions_per_node"] = {str(n): per_node[n] for n in sorted(per_node)}
        pairs = [s for s in sessions if s.to_uid and s.initiator and s.uid in where and s.to_uid in where]
        if pairs:
            split = sum(where[s.uid] != where[s.to_uid] for s in pairs)
            out["cross_node_pairs_pct"] = round(100.0 * split / len(pairs), 1)
        return out

    def close(self) -> None:
        self.redis.close()
        self.postgres.close()


def note(figures: dict[str, object]) -> str:
    """The report's line about the cluster."""
    per_node = figures.get("sessions_per_node") or {}
    assert isinstance(per_node, dict)
    spread = " / ".join(f"{v:,}" for v in per_node.values())
    text = f"{figures['nodes']} node(s) on PostgreSQL + Redis: sessions per node {spread or '?'}"
    if "cross_node_pairs_pct" in figures:
        text += f", {figures['cross_node_pairs_pct']} % of the pairs across two nodes"
    cpu = [
        f"{name} {figures[f'{name}_cpu_s']} cpu-s"
        for name in ("postgres", "redis")
        if f"{name}_cpu_s" in figures
    ]
    return text + (f"; in the window {', '.join(cpu)} (not in the server figures)" if cpu else "")


def prepare(server: runner.Server, nodes: int) -> Cluster:
    """Start the engines and point the own server's configuration (not started yet) at them."""
    assert server.config is not None
    postgres = engines.PostgresServer(fsync=True)
    try:
        redis = engines.RedisServer()
    except BaseException:
        postgres.close()
        raise
    url = postgres.database()
    text = server.config.read_text(encoding="utf-8")
    text += f'\n[storage]\nurl = "{url}"\n[cluster]\nredis_url = "{redis.url}"\n'
    server.config.write_text(text, encoding="utf-8")
    return Cluster(nodes, postgres, redis)


def start(server: runner.Server, cluster: Cluster) -> None:
    """``polyim serve`` on the configuration, with ``--nodes`` when there are several."""
    assert server.config is not None
    argv = [sys.executable, "-m", "polyim.cli", "serve", "--config", str(server.config)]
    if cluster.nodes > 1:
        argv += ["--nodes", str(cluster.nodes)]
    runner.launch(server, argv, "http tcp")


async def _directory(url: str) -> tuple[dict[int, int], Counter[int]]:
    """From the session directory: uid → node (a user with sessions on two nodes: one of them), and the
    sessions each node holds."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    try:
        where: dict[int, int] = {}
        per_node: Counter[int] = Counter()
        for key in await client.keys("polyim:sessions:*"):
            for record in (await client.hgetall(key)).values():
                data = json.loads(record)
                where[int(data["uid"])] = int(data["node"])
                per_node[int(data["node"])] += 1
        return where, per_node
    finally:
        await client.aclose()
