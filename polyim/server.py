"""Assembles a running polyim node from its settings: store, core, protocol listeners, HTTP."""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from pathlib import Path

from aiohttp import web

from polyim import build
from polyim.config import Settings, parse_hostport
from polyim.core.app import Core
from polyim.core.nodes import ListenerInfo
from polyim.http.server import build_app
from polyim.protocols.registry import entries
from polyim.runtime import tune_gc
from polyim.store.factory import make_file_store, make_store
from polyim.transport.admission import Admission
from polyim.transport.httpguard import GuardLimits, serve_app
from polyim.transport.listener import Listener

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


def make_core(settings: Settings) -> Core:
    data_dir = Path(settings.server.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(settings.storage.url, data_dir)
    secret = _secret_file(data_dir, "token_secret").encode()
    files = make_file_store(data_dir, settings.files.max_file_bytes)
    return Core(store, settings.accounts, secret, settings.server.node_id, files=files)


class Node:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.core = make_core(settings)
        self.listeners: list[Listener] = []
        self._runner: web.AppRunner | None = None
        self.http_app: web.Application | None = None

    async def start(self) -> None:
        await self.core.start()
        routes = []
        for entry in entries():
            if not self.settings.protocol(entry.name, entry.settings).enabled:
                continue
            self.listeners += await entry.start(self.core, self.settings)
            routes += entry.routes(self.core, self.settings)
        if self.settings.http.enabled:
            await self._start_http(routes)
        # the node registry learns every bound port (beehive's node reports name the HTTP one too)
        self.core.nodes.set_listeners(
            [ListenerInfo(x.protocol, x.kind, x.host, x.port) for x in self.listeners]
        )
        print(f"build {build.describe()}", flush=True)  # compiled (mypyc) or pure-python, as imported
        for lst in self.listeners:
            print(f"listening {lst.protocol} {lst.kind} {lst.host}:{lst.port}", flush=True)

    async def _start_http(self, routes: list[web.RouteDef]) -> None:
        data_dir = Path(self.settings.server.data_dir)
        token = self.settings.http.admin_token
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

    def _connection_counts(self) -> list[tuple[str, str, int]]:
        return [(x.protocol, x.kind, x.connections()) for x in self.listeners if x.connections is not None]

    async def stop(self) -> None:
        for lst in self.listeners:
            lst.server.close()
            lst.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.sleep(0)
        await self.core.stop()


async def run(settings: Settings) -> None:
    # Handlers first: a signal that arrives right after the "listening" lines (which tools wait for)
    # must still shut down cleanly rather than interrupt the interpreter.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node = Node(settings)
    await node.start()
    tune_gc()
    await stop.wait()
    log.info("shutting down")
    await node.stop()
