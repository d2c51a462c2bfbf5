"""Assembles a running polyim node from its settings: store, core, protocol listeners, HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from polyim import build
from polyim.config import Settings, parse_hostport
from polyim.core.app import Core
from polyim.core.auth import TokenSigner
from polyim.core.nodes import Gateway, ListenerInfo, Nodes
from polyim.http.metrics import ListenerCounts
from polyim.http.server import build_app
from polyim.protocols.registry import entries
from polyim.runtime import tune_gc
from polyim.store.factory import make_file_store, make_store
from polyim.transport.admission import Admission
from polyim.transport.httpguard import GuardLimits, serve_app
from polyim.transport.listener import Listener, share_ports

log = logging.getLogger(__name__)


def _secret_file(data_dir: Path, name: str, make: bool = True) -> str:
    """A random value kept in ``data_dir/name`` (0600), made at first start."""
    path = data_dir / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(32)
    if make:
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n", encoding="utf-8")
        path.chmod(0o600)
    return value


def make_core(settings: Settings, *, serving: bool = False) -> Core:
    """The core on the configured store. Only a serving node joins the cluster (``serving``): a CLI
    command or the bench's seeding on the same configuration must not pose as that node in Redis."""
    data_dir = Path(settings.server.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings.storage.url, data_dir)
    secret = _secret_file(data_dir, "token_secret").encode()
    files = make_file_store(data_dir, settings.files.max_file_bytes, settings.storage.url, settings.files.dir)
    cluster = None
    if serving and settings.cluster.redis_url:
        from polyim.cluster.redis import redis_cluster  # Redis's client, for a scaled node only

        cluster = redis_cluster(settings.server.node_id, settings.cluster.redis_url, settings.accounts)
    return Core(store, settings.accounts, secret, settings.server.node_id, files=files, cluster=cluster)


async def _shared_secret(core: Core, name: str) -> tuple[str, bool]:
    """A random value every node of a cluster shares, kept in the database (the first node's wins):
    (the value, whether this node made it)."""
    mine = secrets.token_urlsafe(32)
    kept = await core.once(f"polyim:{name}", lambda: mine)
    return kept, kept == mine


class Node:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.core = make_core(settings, serving=True)
        self.listeners: list[Listener] = []
        self._runner: web.AppRunner | None = None
        self.http_app: web.Application | None = None

    @property
    def scaled(self) -> bool:
        """Nodes share the database and Redis: secrets come from the database, not the data dir."""
        return bool(self.settings.cluster.redis_url)

    async def start(self) -> None:
        await self.core.start()
        if self.scaled:
            await adopt_shared_secret(self.core)
        routes = []
        for entry in entries():
            if not self.settings.protocol(entry.name, entry.settings).enabled:
                continue
            self.listeners += await entry.start(self.core, self.settings)
            routes += entry.routes(self.core, self.settings)
        if self.settings.http.enabled:
            await self._start_http(routes)
        self.core.nodes.add_reporter(self._report_gateways)
        # the node registry learns every bound port (beehive's node reports name the HTTP one too)
        self.core.nodes.set_listeners(self.bound())

    def bound(self) -> list[ListenerInfo]:
        """Every bound listener, as the ``listening`` lines name it."""
        return [ListenerInfo(x.protocol, x.kind, x.host, x.port) for x in self.listeners]

    async def _start_http(self, routes: list[web.RouteDef]) -> None:
        data_dir = Path(self.settings.server.data_dir)
        token = self.settings.http.admin_token
        if not token and self.scaled:
            token, fresh = await _shared_secret(self.core, "admin_token")
            if fresh:
                print(f"admin token (kept in the database, shared by every node): {token}", flush=True)
        if not token:
            fresh = not (data_dir / "admin_token").exists()
            token = _secret_file(data_dir, "admin_token")
            if fresh:
                print(f"admin token (kept in {data_dir / 'admin_token'}): {token}", flush=True)
        cfg = self.settings.http
        app = self.http_app = build_app(self.core, token, routes, self._connection_counts, cfg.metrics_token)
        host, port = parse_hostport(cfg.listen)
        server, self._runner = await serve_app(
            app,
            host,
            port,
            name=f"http {cfg.listen}",
            limits=GuardLimits(cfg.header_timeout, cfg.body_timeout, cfg.idle_timeout),
            admission=Admission(
                f"http {cfg.listen}", cfg.max_pending_connections, cfg.max_pending_per_address
            ),
        )
        sock_port = server.sockets[0].getsockname()[1]
        self.listeners.append(Listener("http", "tcp", host, sock_port, server, lambda: None))

    def _report_gateways(self, nodes: Nodes) -> None:
        """Every listener's advertised address and connections, for the server-lookup commands."""
        advertise = self.settings.server.advertise
        for x in self.listeners:
            if x.conns is None:
                continue
            host = advertise.rsplit(":", 1)[0] if advertise else x.host
            nodes.put_gateway(Gateway(nodes.node_id, x.protocol, x.kind, host, x.port, len(x.conns)))

    def _connection_counts(self) -> list[ListenerCounts]:
        return [
            ListenerCounts(x.protocol, x.kind, len(x.conns), x.conns.slow_consumers)
            for x in self.listeners
            if x.conns is not None
        ]

    async def stop(self) -> None:
        for lst in self.listeners:
            lst.server.close()
            lst.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.sleep(0)
        await self.core.stop()


# A clean stop takes seconds; past this, the process exits anyway (exit code 1), as after kill -9:
# nothing acknowledged is lost (acked = committed), and a stop that waits on an engine gone away
# (PostgreSQL or Redis stopped first, say) must not leave the process running for ever.
SHUTDOWN_LIMIT = 25.0


def _bound_shutdown() -> None:
    def give_up() -> None:
        log.error("shutdown took longer than %.0f s: exiting without waiting further", SHUTDOWN_LIMIT)
        logging.shutdown()
        os._exit(1)

    watchdog = threading.Timer(SHUTDOWN_LIMIT, give_up)
    watchdog.daemon = True
    watchdog.start()


async def adopt_shared_secret(core: Core) -> None:
    """Sign tokens (and file links) with the secret every node of the cluster shares, kept in the
    database: a token issued by one node is accepted by every other. The bench's seeding calls it too."""
    secret, _ = await _shared_secret(core, "token_secret")
    core.use_token_signer(TokenSigner(secret.encode()))


def print_listening(listeners: list[ListenerInfo]) -> None:
    """The start-up lines tools wait for: the build, then one ``listening`` line per listener."""
    print(f"build {build.describe()}", flush=True)  # compiled (mypyc) or pure-python, as imported
    for x in listeners:
        print(f"listening {x.protocol} {x.kind} {x.host}:{x.port}", flush=True)


async def run(settings: Settings, ready: Callable[[list[ListenerInfo]], None] = print_listening) -> None:
    """Serve until SIGTERM or SIGINT. ``ready`` is told the bound listeners once the node serves (by
    default it prints them; a node of ``polyim serve --nodes`` tells its supervisor instead)."""
    if settings.server.reuse_port:
        share_ports()
    # Handlers first: a signal that arrives right after the "listening" lines (which tools wait for)
    # must still shut down cleanly rather than interrupt the interpreter.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node = Node(settings)
    await node.start()
    ready(node.bound())
    tune_gc()
    await stop.wait()
    log.info("shutting down")
    _bound_shutdown()
    await node.stop()
