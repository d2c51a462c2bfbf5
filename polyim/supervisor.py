"""``polyim serve --nodes N``: N nodes of one scaled cluster on one machine, behind the same listeners.

One Python process uses one core, so a machine with N cores runs N nodes. They are the nodes of
``docs/scaling.md`` (PostgreSQL and Redis shared, nothing else), started and watched by this process:

* Each node is a child process (``multiprocessing``, forked: this process has no threads and no event
  loop, and a fork starts no helper process) running ``server.run`` with its own node id,
  ``[server] node_id`` + 0 … N-1, and every listener bound with ``SO_REUSEPORT``: the nodes listen on
  the same ports and the kernel spreads new connections over them (UDP peers by address, so a peer
  stays on one node). A listener kind a client must reach on the node that sent it there (a protocol's
  ``node_bound``: TeamTalk's file server) gets a port per node instead: the configured one plus the
  node's index, or a free one for port 0.
* A port 0 is resolved by the first node; the others bind the ports it got. The ``listening`` lines
  are printed once every node serves, after one ``node <id> pid <pid>`` line per node.
* Only the scaled configuration can be shared by processes: SQLite has one writer and no session
  directory, so ``--nodes`` with it is refused (a :class:`ConfigError`), as on a platform whose
  ``SO_REUSEPORT`` does not spread connections (there, run one ``polyim serve`` per node on its own ports).
* SIGTERM or SIGINT stops every node the way a single node stops (SIGTERM: sessions leave the
  directory, the store is flushed) and exits 0 once all have stopped cleanly (1 if one had to be
  killed after :data:`STOP_TIMEOUT`). A node that fails to start at start-up stops the others (exit 1).
* A node that exits on its own later is logged and restarted with the same node id, after 1 s, or after
  twice the last pause (at most 30 s) while it keeps dying within a minute of its start. Its clients
  reconnect meanwhile and land on the other nodes. The nodes die with this process even when it is
  killed with ``kill -9`` (``PR_SET_PDEATHSIG``), so no node outlives its supervisor.
"""

from __future__ import annotations

import asyncio
import copy
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

from polyim import runtime, server
from polyim.config import ConfigError, Settings, parse_hostport
from polyim.core.nodes import ListenerInfo
from polyim.protocols.registry import entries
from polyim.transport.listener import ports_shareable

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # a node restarted after kill -9 waits up to 16 s for its old heartbeat to lapse
STOP_TIMEOUT = 30.0
RESTART_FIRST, RESTART_MAX, STABLE_S = 1.0, 30.0, 60.0
_PR_SET_PDEATHSIG = 1


def check(settings: Settings, count: int) -> None:
    """Refuse what ``--nodes`` cannot run, saying why and what to do instead."""
    if count < 1:
        raise ConfigError("--nodes must be at least 1")
    scheme = settings.storage.url.partition("://")[0]
    if scheme not in ("postgresql", "postgres") or not settings.cluster.redis_url:
        raise ConfigError(
            "--nodes N runs N nodes of one scaled cluster: it needs [storage] url = "
            '"postgresql://…" and [cluster] redis_url = "redis://…" (a SQLite database has one writer '
            "process; move it with `polyim db copy`, see docs/scaling.md), or run one node without --nodes"
        )
    if not ports_shareable():
        raise ConfigError(
            "--nodes shares the listening ports with SO_REUSEPORT, which spreads connections on Linux "
            "only; here, run one `polyim serve` per node with its own ports (docs/scaling.md)"
        )


def node_settings(settings: Settings, index: int) -> Settings:
    """The settings of the node at ``index``: its own node id, shared ports, its own node-bound ports."""
    mine = copy.deepcopy(settings)
    mine.server.node_id += index
    mine.server.reuse_port = True
    for entry in entries():
        section = mine.protocol(entry.name, entry.settings)
        for kind in entry.node_bound:
            value = getattr(section, kind, "")
            if isinstance(value, str) and value:
                port = parse_hostport(value)[1]
                if port:
                    setattr(section, kind, f"{value.rpartition(':')[0]}:{port + index}")
    return mine


def pin_ports(settings: Settings, bound: list[ListenerInfo]) -> None:
    """Give every shared listener configured on port 0 the port the first node bound."""
    node_bound = {(e.name, kind) for e in entries() for kind in e.node_bound}
    for x in bound:
        if (x.protocol, x.kind) in node_bound:
            continue
        section = settings.http if x.protocol == "http" else settings.protocols.get(x.protocol)
        key = x.kind if isinstance(getattr(section, x.kind, None), str) else "listen"
        value = getattr(section, key, None)
        if isinstance(value, str) and parse_hostport(value)[1] == 0:
            setattr(section, key, f"{value.rpartition(':')[0]}:{x.port}")


def _die_with_parent(parent: int) -> None:
    """SIGTERM this process when its supervisor dies, however it dies (Linux ``prctl``)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the call
        os._exit(1)


def _node_main(settings: Settings, conn: Connection, parent: int) -> None:
    """A node process: the same ``server.run`` as ``polyim serve``, telling its listeners to ``conn``."""
    _die_with_parent(parent)
    for sig in (signal.SIGTERM, signal.SIGINT):  # the supervisor's handlers, until the node sets its own
        signal.signal(sig, signal.SIG_DFL)
    cfg = settings.server
    runtime.setup_logging(cfg.log_level, cfg.log_format, cfg.node_id)
    runtime.raise_nofile()
    runtime.install_loop()
    asyncio.run(server.run(settings, ready=conn.send))


@dataclass
class _Node:
    index: int
    settings: Settings
    process: BaseProcess | None = None
    conn: Connection | None = None
    started: float = 0.0
    bound: list[ListenerInfo] | None = None
    pause: float = 0.0
    restart_at: float | None = None  # when a dead node is started again

    @property
    def node_id(self) -> int:
        return self.settings.server.node_id

    @property
    def pid(self) -> int:
        return self.process.pid or 0 if self.process is not None else 0

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()


class Supervisor:
    def __init__(self, settings: Settings, count: int) -> None:
        self._spawner = multiprocessing.get_context("fork")
        self.settings = settings
        self.nodes = [_Node(i, node_settings(settings, i)) for i in range(count)]
        self.stopping = False

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        first = self.nodes[0]
        self._spawn(first)
        if not self._await_ready([first]) or first.bound is None:
            return self._shutdown(0 if self.stopping else 1)  # stopped while starting: a clean stop
        for node in self.nodes[1:]:
            pin_ports(node.settings, first.bound)
            self._spawn(node)
        if not self._await_ready(self.nodes[1:]):
            return self._shutdown(0 if self.stopping else 1)
        for node in self.nodes:
            print(f"node {node.node_id} pid {node.pid}", flush=True)
        server.print_listening(first.bound)
        self._supervise()
        return self._shutdown(0)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping %d nodes", signum, len(self.nodes))
        self.stopping = True

    def _spawn(self, node: _Node) -> None:
        ours, theirs = self._spawner.Pipe(duplex=False)
        node.process = self._spawner.Process(
            target=_node_main,
            args=(node.settings, theirs, os.getpid()),
            name=f"polyim-node-{node.node_id}",
        )
        node.process.start()
        theirs.close()
        node.conn, node.bound, node.started, node.restart_at = ours, None, time.monotonic(), None

    def _await_ready(self, nodes: list[_Node]) -> bool:
        """Wait until every node of ``nodes`` serves; False when one exits first, on a stop signal,
        or after :data:`START_TIMEOUT`."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.stopping and time.monotonic() < deadline:
            waiting = [n for n in nodes if n.bound is None]
            if not waiting:
                return True
            self._wait(waiting)
            for node in waiting:
                self._hear(node)
                if node.bound is None and not node.alive():
                    log.error("node %d exited while starting (code %s)", node.node_id, _code(node))
                    return False
        if not self.stopping:
            log.error("nodes did not start within %.0f s", START_TIMEOUT)
        return False

    def _wait(self, nodes: list[_Node]) -> None:
        handles: list[Connection | int] = []
        for node in nodes:
            if node.process is not None and node.restart_at is None:
                handles.append(node.process.sentinel)
                if node.conn is not None and node.bound is None:
                    handles.append(node.conn)
        if handles:
            wait(handles, timeout=0.5)
        else:
            time.sleep(0.5)

    def _hear(self, node: _Node) -> None:
        """Read a node's ready report (its bound listeners), if it sent it."""
        if node.conn is None or node.bound is not None:
            return
        try:
            if node.conn.poll():
                node.bound = node.conn.recv()
        except (EOFError, OSError):
            node.conn = None

    def _supervise(self) -> None:
        """Until a stop signal: restart every node that exits, after a pause that grows while it keeps
        failing soon after its start."""
        while not self.stopping:
            self._wait(self.nodes)
            now = time.monotonic()
            for node in self.nodes:
                if node.restart_at is None and node.alive():
                    restarted = node.bound is None and node.pause
                    self._hear(node)
                    if restarted and node.bound is not None:
                        log.warning("node %d is back (pid %d)", node.node_id, node.pid)
                elif node.restart_at is None:
                    stable = now - node.started >= STABLE_S
                    node.pause = (
                        RESTART_FIRST if stable or not node.pause else min(node.pause * 2, RESTART_MAX)
                    )
                    node.restart_at = now + node.pause
                    log.error(
                        "node %d (pid %d) exited with code %s; restarting it in %.0f s",
                        node.node_id,
                        node.pid,
                        _code(node),
                        node.pause,
                    )
                elif now >= node.restart_at:
                    self._spawn(node)

    def _shutdown(self, code: int) -> int:
        """SIGTERM every running node, wait for them, kill what is left after :data:`STOP_TIMEOUT`."""
        running = [n for n in self.nodes if n.alive()]
        for node in running:
            assert node.process is not None
            node.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for node in running:
            assert node.process is not None
            node.process.join(max(0.0, deadline - time.monotonic()))
            if node.process.is_alive():
                log.error("node %d did not stop within %.0f s: killed", node.node_id, STOP_TIMEOUT)
                node.process.kill()
                node.process.join()
                code = 1
            elif node.process.exitcode != 0:
                log.error("node %d stopped with code %s", node.node_id, node.process.exitcode)
                code = 1
        return code


def _code(node: _Node) -> int | None:
    return node.process.exitcode if node.process is not None else None


def run(settings: Settings, count: int) -> int:
    check(settings, count)
    return Supervisor(settings, count).run()
