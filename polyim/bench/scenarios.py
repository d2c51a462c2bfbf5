"""The scenarios of ``polyim bench`` and the run around them: set up, log in, measure, report.

======== ===============================================================================================
chat     ``--pairs`` N pairs of users, 1:1 messages both ways: ``--pattern stream`` (each sender keeps a
         window of sends in flight, or paces ``--rate``) or ``pingpong`` (one message per pair in flight;
         the receiver answers each delivery). ``--protocol omtp|beehive|imlc|xmmep|xmmep-udp|teamtalk|mixed``
         (mixed: the users speak OMTP, beehive, XMMEP, TeamTalk and imlc in turn, so pairs cross protocols).
group    a ``--group-size`` (500) member group, half of it online, every online member sending.
room     one room of ``--sessions`` (5,000) beehive sessions; ``--senders`` (5) of them send ROOM-CHAT
         (window or ``--rate``) and the bench process pushes ``--bc-rate`` ROOM-BCs per second through
         ``POST /room/push``. Each acked ROOM-CHAT and each pushed ROOM-BC must reach every session in
         the room (the sender's own included): expected deliveries = messages × sessions in the room.
idle     ``--sessions`` M logged-in sessions, a heartbeat every ``--heartbeat`` seconds, no traffic.
         Sessions are spread over several loopback source addresses (127.0.0.1, 127.0.0.2 …) to go past
         one address's ephemeral ports.
login    a reconnect storm: M sessions drop (RST) and log in again at once, round after round.
baseline the load of ``--of`` against a bare echo server built from polyim's transport layer: ``chat``,
         ``idle`` and ``login`` get each frame straight back; ``room`` has every frame sent to every
         connection (``--sessions`` connections, ``--senders`` of them sending, no receipts).
         ``chat --durable``: each frame is committed to SQLite (polyim's schema and grouped commits)
         before it is echoed: the floor of a durable message, socket layer and storage alone.
======== ===============================================================================================

In every scenario a session that has written nothing for ``--heartbeat`` seconds pings, as a client's
heartbeat does, so that receivers and a long join phase stay inside the server's idle timeout.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from polyim.bench import growth, nodes, runner
from polyim.bench.errors import Unavailable
from polyim.bench.file_load import run_files
from polyim.bench.load import Plan, SessionSpec, now_us
from polyim.bench.names import GROWTH, SCENARIOS
from polyim.bench.omtp_load import create_group
from polyim.bench.stats import Histogram, LoadReport, Result, ServerFigures, merged
from polyim.bench.teamtalk_load import MOBILE_CLIENT, PC_CLIENT
from polyim.bench.worker import Worker

PASSWORD = "bench-pw"
_PER_PROCESS_SESSIONS = 15_000  # below the usual 20k-ish RLIMIT_NOFILE hard limits
_PER_ADDRESS_SESSIONS = 16_000  # well inside one source address's ~28k ephemeral ports
_OMTP_ANDROID, _OMTP_LINUX = 2, 5
_MIXED = ("omtp", "beehive", "xmmep", "teamtalk", "imlc")  # --protocol mixed: user i speaks _MIXED[i % 5]
_BEEHIVE_PC, _BEEHIVE_PHONE = 1, 3
_IMLC_DESKTOP, _IMLC_MOBILE = 1, 2  # imlc DeviceClass
_ROOM_SESSIONS = 5000  # the default of the room and of its baseline; every other scenario: 1000


@dataclass
class Options:
    scenario: str
    duration: float = 10.0
    json_path: str | None = None
    pairs: int = 10
    sessions: int = 0  # 0: the scenario's default (room 5,000, else 1,000)
    rate: float = 0.0
    window: int | None = None
    server_cpu: int | None = None
    load_cpu: int | None = None
    target: list[str] = field(default_factory=list)
    protocol: str = "omtp"
    pattern: str = "stream"
    group_size: int = 500
    group_online: int = 0
    heartbeat: float = 25.0
    msg_size: int = 64
    receipts: bool = True
    procs: int = 0
    drain: float = 5.0
    auth: str = "token"
    admin_token: str = ""
    accounts: str | None = None
    server_pid: int | None = None
    source_addrs: int = 0
    login_timeout: float = 60.0
    progress: float | None = None
    quiet: bool = False
    profile: str | None = None
    of: str = "chat"
    durable: bool = False
    senders: int = 5
    bc_rate: float = 2.0
    transfers: int = 20
    file_mb: int = 100
    prefill: int = 0  # the growth options (polyim/bench/growth.py)
    depth: int = 10_000
    offline: int = 1000
    convs: int = 0
    samples: int = 0
    nodes: int | None = None  # None: one node on SQLite; N: N nodes on PostgreSQL + Redis (bench/nodes.py)

    def __post_init__(self) -> None:
        if self.sessions <= 0:
            room = self.scenario == "room" or (self.scenario == "baseline" and self.of == "room")
            self.sessions = _ROOM_SESSIONS if room else 1000


@dataclass
class Setup:
    """What a scenario hands to the measuring part."""

    kind: str
    sessions: list[SessionSpec]
    describe: str
    senders: int = 0
    window: int = 8
    room: int = 0  # the rid of the room scenario (its ROOM-BCs are pushed to it)
    everyone: bool = False  # every acked message must reach every session (a room, or the echo fan-out)


def say(opts: Options, text: str) -> None:
    if not opts.quiet:
        print(text, file=sys.stderr, flush=True)


class Env:
    """The server under test and the way accounts are made for it."""

    def __init__(self, opts: Options, all_cpus: set[int]) -> None:
        self.opts = opts
        self.all_cpus = all_cpus
        self.run_id = "b" + secrets.token_hex(3)
        self.sid_base = 1_000_000_000 + secrets.randbelow(1_000_000) * 1000
        self.started = False
        if opts.scenario == "baseline":
            self.server = runner.Server("127.0.0.1", {})
        elif opts.target:
            self.server = runner.parse_targets(opts.target, opts.admin_token, opts.server_pid)
            self.started = True
        else:
            self.server = runner.prepare_own_server()
        self.cluster = nodes.prepare(self.server, opts.nodes) if opts.nodes and not self.started else None

    async def accounts(self, n: int, devices: list[list[str]]) -> list[runner.Account]:
        names = [f"{self.run_id}u{i}" for i in range(n)]
        tokens = self.opts.auth == "token"
        if n >= 2000:
            say(self.opts, f"creating {n:,} accounts …")
        if not self.started and self.server.config is not None:
            return await runner.seed_accounts(self.server.config, names, PASSWORD, devices, tokens)
        if self.opts.accounts:
            return runner.file_accounts(self.opts.accounts, names, devices)
        if self.server.http is not None and self.opts.admin_token:
            return await runner.http_accounts(self.server, names, PASSWORD, devices, tokens)
        raise Unavailable(
            "no way to make accounts on the target: give http=HOST:PORT and --admin-token, or --accounts FILE"
        )

    async def start(self) -> None:
        """Start the own server (or the echo server) and pin it."""
        if self.started:
            return
        self.started = True
        loop = asyncio.get_running_loop()
        if self.opts.scenario == "baseline":
            fanout = self.opts.of == "room"
            self.server = await loop.run_in_executor(None, runner.start_echo, fanout, self.opts.durable)
        elif self.cluster is not None:
            await loop.run_in_executor(None, nodes.start, self.server, self.cluster)
        else:
            await loop.run_in_executor(None, runner.start_polyim, self.server)
        assert self.server.pid is not None
        cpus = {self.opts.server_cpu} if self.opts.server_cpu is not None else self.all_cpus
        runner.pin(self.server.pid, cpus)

    def pin_target(self) -> None:
        if self.server.proc is None and self.server.pid is not None and self.opts.server_cpu is not None:
            runner.pin(self.server.pid, {self.opts.server_cpu})

    def port(self, name: str) -> int:
        port = self.server.ports.get(name)
        if port is None:
            raise Unavailable(f"the server has no {name} listener (give {name}=HOST:PORT in --target)")
        return port

    def close(self) -> None:
        self.server.stop()
        if self.cluster is not None:
            self.cluster.close()


# -- scenario layouts -----------------------------------------------------------------------------------
def _protocol_of(opts: Options, user: int) -> str:
    """``mixed``: user k speaks the k-th load protocol, round robin (with three, the pairs (2j, 2j+1)
    are OMTP ↔ beehive, imlc ↔ OMTP, beehive ↔ imlc, and again)."""
    if opts.protocol == "mixed":
        return _MIXED[user % len(_MIXED)]
    return opts.protocol


def _device(env: Env, index: int, protocol: str, mobile: bool) -> tuple[str, int]:
    """(device id, device type) of session ``index``: a sid for beehive, a name for the others."""
    if protocol == "beehive":
        return str(env.sid_base + index), _BEEHIVE_PHONE if mobile else _BEEHIVE_PC
    if protocol == "teamtalk":
        return f"{env.run_id}-d{index}", MOBILE_CLIENT if mobile else PC_CLIENT
    if protocol == "imlc":
        return f"{env.run_id}-d{index}", _IMLC_MOBILE if mobile else _IMLC_DESKTOP
    return f"{env.run_id}-d{index}", _OMTP_ANDROID if mobile else _OMTP_LINUX


def _source_addr(env: Env, index: int, total: int) -> str:
    """127.0.0.1, 127.0.0.2 … for a loopback target: each source address has its own ephemeral ports."""
    if not env.server.host.startswith("127."):
        return ""
    count = env.opts.source_addrs or max(1, math.ceil(total / _PER_ADDRESS_SESSIONS))
    return f"127.0.0.{1 + index % count}" if count > 1 else ""


def _spec(
    index: int, protocol: str, account: runner.Account, device: tuple[str, int], **kw: Any
) -> SessionSpec:
    dev_id, dev_type = device
    return SessionSpec(
        index, protocol, account.username, account.uid, account.secrets[dev_id], dev_type, dev_id, **kw
    )


def _describe_traffic(opts: Options, what: str, window: int) -> str:
    pace = f"rate {opts.rate:g}/s" if opts.rate else f"window {window}"
    receipts = "receipts on" if opts.receipts else "receipts off"
    return f"({what}, {opts.pattern}, {pace}, {opts.msg_size}-byte messages, {receipts})"


async def chat(env: Env) -> Setup:
    o = env.opts
    n = 2 * o.pairs
    protos = [_protocol_of(o, i) for i in range(n)]
    devices = [_device(env, i, protos[i], mobile=True) for i in range(n)]
    accounts = await env.accounts(n, [[d[0]] for d in devices])
    specs = [
        _spec(
            i,
            protos[i],
            accounts[i],
            devices[i],
            to=accounts[i ^ 1].username if protos[i].startswith("xmmep") else str(accounts[i ^ 1].uid),
            to_uid=accounts[i ^ 1].uid,
            peer=i ^ 1,
            initiator=i % 2 == 0,
        )
        for i in range(n)
    ]
    window = o.window or 8
    return Setup("traffic", specs, _describe_traffic(o, f"{o.protocol}, {o.pairs} pairs", window), n, window)


def _echo_spec(env: Env, i: int, total: int, sender: bool) -> SessionSpec:
    to = str(i + 1) if sender else ""
    addr = _source_addr(env, i, total)
    return SessionSpec(
        i,
        "echo",
        f"echo{i}",
        i + 1,
        "x",
        _OMTP_ANDROID,
        f"d{i}",
        to,
        i + 1,
        peer=i,
        initiator=True,
        local_addr=addr,
    )


async def baseline(env: Env) -> Setup:
    """The load of ``--of`` against the echo server: every frame comes straight back, so a message's echo
    is its ack and its delivery, and a LOGIN's echo is the login. ``--of room``: the server sends every
    frame to every connection, so a sender's own copy is its ack and each copy is a delivery."""
    o = env.opts
    if o.of in ("idle", "login"):
        specs = [_echo_spec(env, i, o.sessions, sender=False) for i in range(o.sessions)]
        return Setup(o.of, specs, f"({o.of} load: {o.sessions:,} sessions against the echo server)")
    if o.of == "room":
        return _echo_room(env)
    n = 2 * o.pairs
    specs = [_echo_spec(env, i, n, sender=True) for i in range(n)]
    window = o.window or 8
    what = f"chat load: {'durable ' if o.durable else ''}echo server, {n} connections"
    return Setup("traffic", specs, _describe_traffic(o, what, window), n, window)


def _echo_room(env: Env) -> Setup:
    o = env.opts
    n = o.sessions
    senders = max(0, min(o.senders, n))
    specs = [
        replace(_echo_spec(env, i, n, sender=i < senders), fanout=0, room=1)  # measure() counts the room
        for i in range(n)
    ]
    window = o.window or 1
    pace = f"rate {o.rate:g}/s" if o.rate else f"window {window}"
    what = f"(room load: echo server sending every frame to all {n:,} connections, {senders} senders, "
    what += f"{pace}, {o.msg_size}-byte messages, no receipts)"
    return Setup("traffic", specs, what, senders, window, everyone=True)


async def group(env: Env) -> Setup:
    o = env.opts
    if o.protocol != "omtp":
        raise Unavailable(
            "the group scenario speaks OMTP only (no beehive GROUP-CHAT in the load client yet)"
        )
    size = o.group_size
    online = o.group_online or size // 2
    devices = [_device(env, i, "omtp", mobile=True) for i in range(size)]
    accounts = await env.accounts(size, [[d[0]] for d in devices])
    await env.start()
    creator = _spec(0, "omtp", accounts[0], devices[0])
    say(o, f"creating a {size}-member group …")
    gid = await create_group(
        env.server.host, env.port("omtp"), creator, [a.uid for a in accounts[1:]], "bench"
    )
    specs = [
        _spec(i, "omtp", accounts[i], devices[i], to=f"GC_{gid}", msg_type=15, fanout=online - 1)
        for i in range(online)
    ]
    window = o.window or 1
    what = f"{size} members, {online} online and sending, fan-out {online - 1}"
    return Setup("traffic", specs, _describe_traffic(o, what, window), online, window)


async def room(env: Env) -> Setup:
    """One room of ``--sessions`` beehive sessions (one account each), every one of them joined to a fresh
    rid (created by the first ROOM-JOIN: ``room_autocreate``, beehive.md §4.4); the first ``--senders``
    send ROOM-CHAT to the whole room. The ROOM-BC stream comes from :func:`_room_pushes`."""
    o = env.opts
    n = o.sessions
    senders = max(0, min(o.senders, n))
    rid = 3_000_000_000 + secrets.randbelow(1_000_000_000)
    devices = [_device(env, i, "beehive", mobile=i % 2 == 0) for i in range(n)]
    accounts = await env.accounts(n, [[d[0]] for d in devices])
    specs = [
        _spec(
            i,
            "beehive",
            accounts[i],
            devices[i],
            to=str(rid) if i < senders else "",
            fanout=0,  # the room's size is known after the logins: measure() computes the expected count
            local_addr=_source_addr(env, i, n),
            room=rid,
        )
        for i in range(n)
    ]
    window = o.window or 1
    pace = f"rate {o.rate:g}/s" if o.rate else f"window {window}"
    bc = f"ROOM-BC {o.bc_rate:g}/s via /room/push" if o.bc_rate else "no ROOM-BC"
    receipts = "receipts on" if o.receipts else "receipts off"
    what = f"(beehive, {n:,} sessions in one room, {senders} ROOM-CHAT senders, {pace}, {bc}, "
    what += f"{o.msg_size}-byte messages, {receipts})"
    return Setup("traffic", specs, what, senders, window, room=rid, everyone=True)


async def _sessions_layout(env: Env, per_user: int) -> list[SessionSpec]:
    """``--sessions`` M sessions, ``per_user`` of them per account (mobile, then desktop)."""
    o = env.opts
    m = o.sessions
    users = math.ceil(m / per_user)
    protos = [_protocol_of(o, j // per_user) for j in range(m)]
    devices = [_device(env, j, protos[j], mobile=j % per_user == 0) for j in range(m)]
    per = [[devices[j][0] for j in range(u * per_user, min(m, (u + 1) * per_user))] for u in range(users)]
    accounts = await env.accounts(users, per)
    return [
        _spec(j, protos[j], accounts[j // per_user], devices[j], local_addr=_source_addr(env, j, m))
        for j in range(m)
    ]


async def idle(env: Env) -> Setup:
    o = env.opts
    specs = await _sessions_layout(env, per_user=2)
    addrs = len({s.local_addr for s in specs})
    what = f"({o.protocol}, {o.sessions:,} sessions, heartbeat every {o.heartbeat:g} s, {addrs} source address(es))"
    return Setup("idle", specs, what)


async def login(env: Env) -> Setup:
    o = env.opts
    specs = await _sessions_layout(env, per_user=1)
    return Setup(
        "login", specs, f"({o.protocol}, {o.sessions:,} sessions reconnecting at once, {o.auth} auth)"
    )


SCENARIO_SETUP: dict[str, Callable[[Env], Awaitable[Setup]]] = {
    "chat": chat,
    "group": group,
    "room": room,
    "idle": idle,
    "login": login,
    "baseline": baseline,
}


# -- load processes -------------------------------------------------------------------------------------
class LocalLoad:
    """The load in this process."""

    def __init__(self, plan: Plan) -> None:
        self.worker = Worker(plan)

    async def ready(self) -> int:
        return await self.worker.setup()

    async def run(self, t0: float) -> LoadReport:
        return await self.worker.run(t0)

    def snapshot(self) -> dict[str, Any]:
        return self.worker.snapshot()

    async def close(self) -> None:
        self.worker.close()


class ProcessLoad:
    """The load in a ``python -m polyim.bench.worker`` process."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.proc: asyncio.subprocess.Process | None = None
        self.latest: dict[str, Any] = {}

    async def _event(self, name: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"load process exited (code {await self.proc.wait()})")
            msg: dict[str, Any] = json.loads(line)
            if msg.get("event") == "progress":
                self.latest = msg
            if msg.get("event") == name:
                return msg

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())

    async def ready(self) -> int:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "polyim.bench.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,
        )
        self._send(self.plan.to_dict())
        return int((await self._event("ready"))["online"])

    async def run(self, t0: float) -> LoadReport:
        self._send({"go": t0})
        return LoadReport.from_dict((await self._event("result"))["report"])

    def snapshot(self) -> dict[str, Any]:
        return self.latest

    async def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


Load = LocalLoad | ProcessLoad


def _procs(opts: Options, setup: Setup) -> int:
    if opts.procs:
        return max(1, min(opts.procs, len(setup.sessions)))
    return max(1, math.ceil(len(setup.sessions) / _PER_PROCESS_SESSIONS))


def _plans(env: Env, setup: Setup, procs: int) -> list[Plan]:
    o = env.opts
    rate = o.rate / setup.senders if o.rate and setup.senders else 0.0
    window = o.window or (10_000 if rate else setup.window)
    progress = _progress_interval(o)
    shares: list[list[SessionSpec]] = [[] for _ in range(procs)]
    for s in setup.sessions:  # a chat pair stays in one process
        shares[(s.index // 2 if setup.kind == "traffic" else s.index) % procs].append(s)
    ports = {**env.server.ports}
    return [
        Plan(
            setup.kind,
            env.server.host,
            ports,
            share,
            env.run_id,
            o.pattern,
            o.duration,
            o.drain,
            rate,
            window,
            o.heartbeat,
            o.msg_size,
            o.receipts,
            login_timeout=o.login_timeout,
            progress=progress,
        )
        for share in shares
    ]


def _progress_interval(opts: Options) -> float:
    if opts.progress is not None:
        return opts.progress
    return 0.0 if opts.quiet or opts.duration < 10 else 5.0


async def _progress(opts: Options, loads: list[Load], t0: float, interval: float) -> None:
    await asyncio.sleep(max(0.0, t0 - time.monotonic()) + interval + 0.3)  # just after the workers' reports
    while True:
        snaps = [load.snapshot() for load in loads]
        total = {
            k: sum(int(s.get(k, 0)) for s in snaps)
            for k in ("sent", "acked", "delivered", "logins", "pongs", "errors", "online")
        }
        say(opts, f"  … {time.monotonic() - t0:6.1f} s  " + "  ".join(f"{k} {v:,}" for k, v in total.items()))
        await asyncio.sleep(interval)


# -- the run ------------------------------------------------------------------------------------------
async def run(opts: Options) -> Result:
    if opts.scenario not in SCENARIO_SETUP and opts.scenario not in ("file", *GROWTH):
        raise Unavailable(f"unknown scenario {opts.scenario!r}; one of {', '.join(SCENARIOS)}")
    if opts.durable and (opts.scenario != "baseline" or opts.of != "chat" or opts.target):
        raise Unavailable("--durable is for the echo server that baseline --of chat starts")
    if opts.prefill and (opts.target or opts.scenario not in ("chat", *GROWTH)):
        raise Unavailable("--prefill fills the bench's own server's store: chat, history, catchup, manyconv")
    if opts.nodes is not None and (opts.nodes < 1 or opts.target or opts.scenario in ("baseline", "file")):
        raise Unavailable("--nodes N (≥ 1) starts its own cluster: not with --target, baseline or file")
    runner.raise_nofile()
    all_cpus = os.sched_getaffinity(0)
    if opts.load_cpu is not None:
        os.sched_setaffinity(0, {opts.load_cpu})
    env = Env(opts, all_cpus)
    try:
        if opts.scenario == "file":
            return await run_files(env, lambda text: say(opts, text))
        if opts.scenario in GROWTH:
            return await growth.run(env)
        setup = await SCENARIO_SETUP[opts.scenario](env)
        filled = await growth.prefill(env) if opts.prefill else {}
        await env.start()
        env.pin_target()
        result = await measure(env, setup)
        result.extra |= filled
        return result
    finally:
        env.close()


async def measure(env: Env, setup: Setup) -> Result:
    o = env.opts
    procs = _procs(o, setup)
    plans = _plans(env, setup, procs)
    pushing = _pushing(env, setup)
    # The pusher times the server's HTTP replies: in the process of a load that saturates its core, it
    # timed its own loop's lag instead (a push's p99 of 6 s where the server answered in 0.1 s).
    local = procs == 1 and not pushing
    loads: list[Load] = [LocalLoad(p) for p in plans] if local else [ProcessLoad(p) for p in plans]
    pid = env.server.pid
    figures = ServerFigures()
    try:
        if pid is not None:
            figures.rss_before_mb = runner.status_mb(pid, "VmRSS")
            if env.server.proc is not None:  # our own server: its peak RSS from here on
                runner.reset_peak_rss(pid)
        say(o, f"logging in {len(setup.sessions):,} sessions ({procs} load process(es)) …")
        online = sum(await asyncio.gather(*(load.ready() for load in loads)))
        if not online:
            raise RuntimeError("no session could log in\n" + env.server.tail_log())
        pusher = (lambda t0: _room_pushes(env, setup, t0)) if pushing else None
        if env.cluster is not None:
            env.cluster.mark()
        reports, elapsed, cpu = await _measured(o, loads, pid, pusher)
        spread = await env.cluster.figures(setup.sessions) if env.cluster is not None else {}
    finally:
        for load in loads:
            await load.close()
    figures.cpu_s = cpu
    if pid is not None:
        figures.peak_rss_mb = runner.status_mb(pid, "VmHWM")
        figures.rss_after_mb = runner.status_mb(pid, "VmRSS")
    report = merged(reports)
    duration = o.duration if setup.kind != "login" else elapsed
    result = Result(o.scenario, duration, report, figures, setup.describe, procs, elapsed_s=elapsed)
    result.extra["offered_per_s"] = o.rate
    if spread:
        result.extra |= spread
        result.notes.append(nodes.note(spread))
    if o.durable:
        result.extra["durable"] = True
    result.extra["load_in_bench_process"] = local
    if setup.everyone:
        _room_figures(result, setup, reports, pushed=pushing)
        result.extra["offered_bc_per_s"] = o.bc_rate
        if o.bc_rate and not pushing:
            result.notes.append("no ROOM-BC stream: give http=HOST:PORT in --target and --admin-token")
    if setup.kind in ("idle", "login"):
        result.extra["server_rss_per_session_kb"] = result.rss_per_session_kb()
    result.notes += _notes(o, result)
    if report.counters.errors and not o.quiet:
        tail = env.server.tail_log(10)
        if tail:
            say(o, "server log (last lines):\n" + tail)
    return result


Pusher = Callable[[float], Coroutine[Any, Any, LoadReport]]


async def _measured(
    o: Options, loads: list[Load], pid: int | None, pusher: Pusher | None = None
) -> tuple[list[LoadReport], float, float | None]:
    """Run every load (and the ``pusher``, whose report comes last) from one common t0; returns the
    reports, the elapsed time and the server CPU."""
    t0 = time.monotonic() + 0.3
    tasks = [asyncio.ensure_future(load.run(t0)) for load in loads]
    if pusher is not None:
        tasks.append(asyncio.ensure_future(pusher(t0)))
    interval = _progress_interval(o)
    printer = asyncio.ensure_future(_progress(o, loads, t0, interval)) if interval else None
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    cpu0 = runner.cpu_seconds(pid) if pid is not None else None
    spy = await _start_profiler(o, pid)
    try:
        reports = list(await asyncio.gather(*tasks))
    finally:
        if printer is not None:
            printer.cancel()
        if spy is not None:
            await spy.wait()
    elapsed = time.monotonic() - t0
    cpu1 = runner.cpu_seconds(pid) if pid is not None else None
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return reports, elapsed, cpu


# -- the room scenario's broadcasts ---------------------------------------------------------------------
def _pushing(env: Env, setup: Setup) -> bool:
    """Whether the run pushes ROOM-BCs: a room, a rate, and the server's HTTP API with its admin token."""
    return bool(setup.room and env.opts.bc_rate and env.server.http is not None and env.server.admin_token)


async def _room_pushes(env: Env, setup: Setup, t0: float) -> LoadReport:
    """The ROOM-BC stream: ``--bc-rate`` pushes per second from t0 to the end of the load through
    ``POST /room/push?dim=room&rid=R`` (beehive.md §6.6), each body a tag like a message's, so the
    sessions count and time its deliveries. A push answered with code 0 is acked; its HTTP round trip
    goes to the ``push`` histogram."""
    import aiohttp

    o = env.opts
    report = LoadReport()
    http = env.server.http
    assert http is not None  # _pushing
    hist = report.hists.setdefault("push", Histogram())
    url = f"http://{http[0]}:{http[1]}/room/push"
    params = {"dim": "room", "rid": str(setup.room)}
    sender = len(setup.sessions)  # an index no session has
    interval = 1.0 / o.bc_rate
    end = t0 + o.duration

    async def one(client: aiohttp.ClientSession, n: int) -> None:
        start = now_us()
        tag = f"{env.run_id}.{sender}.{n}.{start}"
        body = tag.encode() + b" " + b"x" * max(0, o.msg_size - len(tag) - 1)
        report.counters.sent += 1
        try:
            async with client.post(url, params=params, data=body) as resp:
                answer = await resp.json(content_type=None)
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            report.error(f"push {type(exc).__name__}")
            return
        code = int(answer.get("code", -1)) if isinstance(answer, dict) else -1
        if code == 0:
            report.counters.acked += 1
            hist.record(now_us() - start)
        else:
            report.counters.refused += 1
            kind = f"push refused code {code}"
            report.error_kinds[kind] = report.error_kinds.get(kind, 0) + 1

    headers = {"Authorization": f"Bearer {env.server.admin_token}"}
    async with aiohttp.ClientSession(headers=headers) as client:
        pending: list[asyncio.Task[None]] = []
        n = 0
        due = t0 + interval / 2
        while due < end:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            n += 1
            pending.append(asyncio.ensure_future(one(client, n)))
            due += interval
        await asyncio.gather(*pending)
    return report


def _room_figures(result: Result, setup: Setup, reports: list[LoadReport], pushed: bool) -> None:
    """Every acked ROOM-CHAT and every acked ROOM-BC must reach each session that was in the room when
    the load started (the sender's own session included)."""
    report = result.load
    members = report.sessions
    bcs = reports[-1].counters.acked if pushed else 0  # the pusher's report comes last
    report.expected_deliveries = report.counters.acked * members
    result.cpu_basis = "deliveries"
    result.extra |= {
        "room_rid": setup.room,
        "room_sessions": members,
        "room_chats_acked": report.counters.acked - bcs,
        "room_bcs_acked": bcs,
    }


async def _start_profiler(o: Options, pid: int | None) -> asyncio.subprocess.Process | None:
    """``py-spy record`` of the server over the measured window (``--profile FILE``; .svg flame graph,
    .json speedscope, anything else collapsed stacks), when py-spy is installed."""
    if not o.profile or pid is None:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        say(o, "--profile: py-spy is not installed (pip install py-spy); running without it")
        return None
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(Path(o.profile).suffix, "raw")
    argv = [spy, "record", "--pid", str(pid), "--duration", str(max(1, round(o.duration))), "--rate", "200"]
    argv += ["--nonblocking", "--threads", "--format", fmt, "--output", o.profile]
    return await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )


def _notes(o: Options, r: Result) -> list[str]:
    notes = []
    load_pct = 100.0 * r.load.load_cpu_s / r.elapsed_s if r.elapsed_s else 0.0
    if load_pct > 85.0 * r.load_procs:
        notes.append(
            f"the load used {load_pct:.0f} % of a core: it may be the bottleneck (try --procs or --rate)"
        )
    if "refused code 7" in r.load.error_kinds:
        notes.append(
            "code 7 refusals: the server's per-connection rate limit (OMTP: 100 frames/s, burst 200)"
        )
    if o.protocol == "imlc" and "refused code 9" in r.load.error_kinds:  # 9 means other things elsewhere
        notes.append(
            "code 9 refusals: imlc THROTTLED, the target's per-connection rate limit ([imlc] rate_limit, "
            "50 frames/s by default): raise it there, or give a --rate below it per connection"
        )
    if r.server.cpu_s is None:
        notes.append("server CPU and RSS unknown: no server pid (give --server-pid)")
    return notes


def write_json(result: Result, path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(result.to_json(), fh, indent=2, sort_keys=True)
        fh.write("\n")


__all__ = ["SCENARIOS", "Options", "Unavailable", "run", "write_json"]
