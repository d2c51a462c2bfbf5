"""The server side of a bench run: start a server (or find a running one), pin it, read its CPU and memory
from ``/proc``, and create the accounts the load logs in with.

* Own server (the default): ``polyim serve`` on a temporary data dir with every listener on port 0.
  Accounts are written through polyim's own store before the server starts (one argon2 hash shared by
  all of them), so 20,000 accounts take seconds, not the 20 ms of hashing each would cost over HTTP.
* ``--target``: a running server. Accounts are made through ``POST /api/v1/users`` and tokens through
  ``POST /api/v1/tokens`` with the admin token, or read from an ``--accounts`` file.
* The baseline echo server: ``python -m polyim.bench.echo --port 0``.

CPU seconds are utime + stime of ``/proc/<pid>/stat`` (all threads); peak RSS is ``VmHWM`` of
``/proc/<pid>/status``, reset at the start of the measured window where the kernel allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from polyim.runtime import raise_nofile as raise_nofile  # the load processes import it from here

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_START_TIMEOUT = 30.0


# -- this process -------------------------------------------------------------------------------------
def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of ``pid`` and of its child processes (threads they start later inherit the
    mask): the node processes of ``polyim serve --nodes`` are the supervisor's children."""
    for proc in process_tree(pid):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{proc}/task")]
        except OSError:
            tids = [proc]
        for tid in tids:
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(tid, cpus)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, alive now. The server's figures are the whole tree's: one process
    for a single node, the supervisor and its nodes for ``polyim serve --nodes``."""
    tree, todo = [], [pid]
    while todo:
        proc = todo.pop()
        tree.append(proc)
        with contextlib.suppress(OSError):
            todo += [int(c) for c in Path(f"/proc/{proc}/task/{proc}/children").read_text().split()]
    return tree


# -- /proc figures ------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the process and its child processes, all threads, in seconds."""
    found = [_cpu_seconds(p) for p in process_tree(pid)]
    return None if found[0] is None else sum(x for x in found if x is not None)


def _cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields_ = stat.rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / _TICK  # fields 14 and 15 of proc(5)


def status_mb(pid: int, key: str) -> float | None:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``) in MB, summed over the process and
    its child processes (for ``VmHWM``: the sum of each one's peak)."""
    found = [_status_mb(p, key) for p in process_tree(pid)]
    return None if found[0] is None else sum(x for x in found if x is not None)


def _status_mb(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (``clear_refs`` 5), the child processes' too; False when not
    permitted."""
    try:
        for proc in process_tree(pid):
            Path(f"/proc/{proc}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def listener_pid(port: int) -> int | None:
    """The pid of the process listening on TCP ``port`` on this machine, if this user can see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{cols[9]}]")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return int(pid)
    return None


# -- servers ------------------------------------------------------------------------------------------
@dataclass
class Server:
    """The server under test: where its listeners are and, when known, its pid."""

    host: str
    ports: dict[str, int]
    http: tuple[str, int] | None = None
    admin_token: str = ""
    pid: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    tmp: tempfile.TemporaryDirectory[str] | None = None
    config: Path | None = None
    log: Path | None = None

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            tree = process_tree(proc.pid)  # polyim serve --nodes: the supervisor and its nodes
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in tree:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                proc.wait()
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None

    def tail_log(self, lines: int = 20) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# Every bench client connects from 127.0.0.1, and a login storm reconnects thousands at once: the caps on
# connections not logged in (sane for a deployment, see config.ListenerLimits) would refuse most of them.
_BENCH_CAPS = "max_pending_connections = 1000000\nmax_pending_per_address = 1000000\n"


def _config_text(data_dir: Path, token: str) -> str:
    from polyim.protocols.registry import entries

    parts = [
        f'[server]\ndata_dir = "{data_dir}"\nlog_level = "WARNING"\n',
        f'[http]\nlisten = "127.0.0.1:0"\nadmin_token = "{token}"\n{_BENCH_CAPS}',
    ]
    for entry in entries():
        if entry.name == "omtp":
            parts.append(f'[omtp]\nlisten = "127.0.0.1:0"\n{_BENCH_CAPS}')
        elif entry.name == "beehive":
            parts.append(f'[beehive]\ntcp = "127.0.0.1:0"\nws = "127.0.0.1:0"\n{_BENCH_CAPS}')
        elif entry.name == "xmmep":  # its per-peer rate limit would cap a load connection at 50/s
            limits = "rate_limit = 1000000\nrate_burst = 1000000\n"
            parts.append(f'[xmmep]\ntcp = "127.0.0.1:0"\nudp = "127.0.0.1:0"\n{limits}{_BENCH_CAPS}')
        elif entry.name == "teamtalk":  # its 20 messages/s per connection would cap an unpaced load
            listeners = 'login = "127.0.0.1:0"\nmsg = "127.0.0.1:0"\nfile = "127.0.0.1:0"\n'
            parts.append(f"[teamtalk]\n{listeners}max_msgs_per_second = 1000000\n{_BENCH_CAPS}")
        elif entry.name == "imlc":  # its 50 frames/s per connection would cap an unpaced load
            limits = "rate_limit = 1000000\nrate_burst = 1000000\n"
            parts.append(f'[imlc]\nlisten = "127.0.0.1:0"\n{limits}{_BENCH_CAPS}')
        else:  # a protocol without a load client yet: keep it off its default ports
            parts.append(f"[{entry.name}]\nenabled = false\n")
    return "\n".join(parts)


def prepare_own_server() -> Server:
    """A temp data dir and config for ``polyim serve``; :func:`launch` starts it (after seeding)."""
    tmp = tempfile.TemporaryDirectory(prefix="polyim-bench-")
    root = Path(tmp.name)
    token = secrets.token_urlsafe(24)
    config = root / "polyim.toml"
    config.write_text(_config_text(root / "data", token), encoding="utf-8")
    return Server("127.0.0.1", {}, admin_token=token, tmp=tmp, config=config, log=root / "server.log")


def _read_listening(proc: subprocess.Popen[bytes], last: str, log: Path | None) -> dict[str, int]:
    """Parse ``listening <protocol> <kind> <host>:<port>`` lines until the ``last`` one."""
    ports: dict[str, int] = {}
    out: IO[bytes] | None = proc.stdout
    assert out is not None
    while True:
        line = out.readline().decode(errors="replace")
        if not line:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited before listening (code {proc.poll()}):\n{tail}")
        parts = line.split()
        if parts[:1] == ["listening"] and len(parts) >= 4:
            key = parts[1] if parts[2] == "tcp" else f"{parts[1]} {parts[2]}"
            ports[key] = int(parts[3].rsplit(":", 1)[1])
            if f"{parts[1]} {parts[2]}" == last:
                return ports


def launch(server: Server, argv: list[str], last: str) -> None:
    """Start the server process and wait (bounded) for its listening lines."""
    log = server.log.open("ab") if server.log else subprocess.DEVNULL
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    server.proc = proc
    server.pid = proc.pid
    killer = threading.Timer(_START_TIMEOUT, proc.kill)
    killer.start()
    try:
        server.ports = _read_listening(proc, last, server.log)
    finally:
        killer.cancel()
    if "http" in server.ports:
        server.http = (server.host, server.ports["http"])


def start_polyim(server: Server) -> None:
    assert server.config is not None
    launch(server, [sys.executable, "-m", "polyim.cli", "serve", "--config", str(server.config)], "http tcp")


def start_echo(fanout: bool = False, durable: bool = False) -> Server:
    tmp = tempfile.TemporaryDirectory(prefix="polyim-bench-echo-")
    server = Server("127.0.0.1", {}, tmp=tmp, log=Path(tmp.name) / "echo.log")
    argv = [sys.executable, "-m", "polyim.bench.echo", "--port", "0"] + (["--fanout"] if fanout else [])
    if durable:
        argv += ["--store", str(Path(tmp.name) / "echo.db")]
    launch(server, argv, "echo tcp")
    return server


def parse_targets(items: list[str], admin_token: str, server_pid: int | None) -> Server:
    """``omtp=HOST:PORT http=HOST:PORT beehive=HOST:PORT imlc=HOST:PORT`` → a :class:`Server` (pid found
    if local)."""
    ports: dict[str, int] = {}
    host = ""
    http: tuple[str, int] | None = None
    for item in items:
        name, sep, addr = item.partition("=")
        h, _, p = addr.rpartition(":")
        if (
            not sep
            or not p.isdigit()
            or name not in ("omtp", "beehive", "imlc", "xmmep", "xmmep-udp", "http", "echo")
        ):
            raise ValueError(
                f"bad --target {item!r}: want omtp|beehive|imlc|xmmep|xmmep-udp|http|echo=HOST:PORT"
            )
        ports["xmmep udp" if name == "xmmep-udp" else name] = int(p)
        if name == "http":
            http = (h or "127.0.0.1", int(p))
        else:
            host = h or "127.0.0.1"
    if not host:
        raise ValueError("--target needs a protocol listener (omtp=HOST:PORT)")
    pid = server_pid
    if pid is None and host in ("127.0.0.1", "localhost", "::1"):
        pid = listener_pid(ports.get("omtp") or next(iter(ports.values())))
    return Server(host, ports, http=http, admin_token=admin_token, pid=pid)


# -- accounts -----------------------------------------------------------------------------------------
@dataclass
class Account:
    username: str
    uid: int
    secrets: dict[str, str] = field(default_factory=dict)  # device id → token (or the password)


async def seed_accounts(
    config: Path, names: list[str], password: str, devices: list[list[str]], tokens: bool = True
) -> list[Account]:
    """Write accounts (and a token per device, or the password) through polyim's store; the server must
    not run yet."""
    from polyim import config as cfg
    from polyim.core import auth
    from polyim.protocols import registry
    from polyim.server import adopt_shared_secret, make_core

    settings = cfg.load(str(config), registry.sections())
    core = make_core(settings)
    await core.start()
    try:
        if settings.cluster.redis_url:  # the tokens of a scaled server are signed with the cluster's secret
            await adopt_shared_secret(core)
        pw_hash = await asyncio.get_running_loop().run_in_executor(None, auth.hash_password, password)
        accounts: list[Account] = []
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            made = await asyncio.gather(*(core.store.create_account(n, pw_hash) for n in batch))
            accounts += [Account(a.username, a.uid) for a in made]
        for account, devs in zip(accounts, devices, strict=True):
            account.secrets = {
                d: core.accounts.issue_token(account.uid, d) if tokens else password for d in devs
            }
        return accounts
    finally:
        await core.stop()


async def http_accounts(
    server: Server,
    names: list[str],
    password: str,
    devices: list[list[str]],
    tokens: bool = True,
    concurrency: int = 16,
) -> list[Account]:
    """Create accounts with ``POST /api/v1/users`` and tokens with ``POST /api/v1/tokens``."""
    import aiohttp

    assert server.http is not None
    base = f"http://{server.http[0]}:{server.http[1]}/api/v1"
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    limit = asyncio.Semaphore(concurrency)

    async def post(session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with limit, session.post(base + path, json=body, headers=headers) as resp:
            data: dict[str, Any] = await resp.json(content_type=None)
            if resp.status not in (200, 201):
                raise RuntimeError(f"POST {path} {body.get('username', '')}: {resp.status} {data}")
            return data

    async def one(session: aiohttp.ClientSession, name: str, devs: list[str]) -> Account:
        made = await post(session, "/users", {"username": name, "password": password})
        uid = int(made["uid"])
        if not tokens:
            return Account(name, uid, dict.fromkeys(devs, password))
        made_tokens = [await post(session, "/tokens", {"uid": uid, "device": d}) for d in devs]
        return Account(name, uid, {d: str(t["token"]) for d, t in zip(devs, made_tokens, strict=True)})

    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(one(session, n, d) for n, d in zip(names, devices, strict=True))))


def file_accounts(path: str, names: list[str], devices: list[list[str]]) -> list[Account]:
    """Accounts listed as ``username uid password`` lines (for a target without the admin token)."""
    rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(rows) < len(names):
        raise ValueError(f"{path} lists {len(rows)} accounts, the scenario needs {len(names)}")
    return [
        Account(row[0], int(row[1]), dict.fromkeys(devs, row[2]))
        for row, devs in zip(rows, devices, strict=False)
    ]
