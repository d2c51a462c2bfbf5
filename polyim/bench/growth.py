"""How cost grows with what is stored: ``--prefill`` and the ``history``, ``catchup`` and ``manyconv``
scenarios of ``polyim bench`` (issue 19).

``--prefill N`` puts N messages into the own server's SQLite file before the server starts, outside the
timed part, through :func:`polyim.store.bulk.bulk_append`: real rows of the store's schema, in arrival
order, that history, sync and the conversation list read like any other. They are 1:1 messages among
background users (``N / 1,000`` conversations of ~1,000 messages each, uids from 3,000,000,000 on, users
with no account who never log in), interleaved with the rows a scenario needs for its own users.

======== ==============================================================================================
history  one OMTP user with a ``--depth`` (10,000) message conversation pages through it: ``--samples``
         HISTORY_MSG_PULL requests of 30 messages, one at a time and at most 80 a second (OMTP allows a
         connection 100 frames a second), alternately the newest page and a page at a random depth.
catchup  one OMTP user with ``--offline`` (1,000) unread messages from ``--convs`` (10) peers logs in,
         ``--samples`` times: the conversation list (HOTSESSION_SYNC, paged), then every unread
         message through HISTORY_MSG_PULL pages of 200, newest first (omtp.md: a client catches up
         by pulling). Nothing is marked read, so each round has the same backlog.
manyconv one OMTP user with ``--convs`` (5,000) conversations, one unread message in each, logs in
         ``--samples`` times and reads its whole conversation list (HOTSESSION_SYNC, paged).
======== ==============================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from polyim.bench import runner
from polyim.bench.errors import Unavailable
from polyim.bench.load import SessionSpec
from polyim.bench.omtp_load import frame, login_frame, single_session_id
from polyim.bench.stats import Histogram, LoadReport, Result, ServerFigures
from polyim.model import ConvId
from polyim.protocols.omtp import codec as c
from polyim.store.bulk import BulkMessage, bulk_append


class Opts(Protocol):
    """The options of a run that this module reads (``scenarios.Options`` has them)."""

    scenario: str
    quiet: bool
    prefill: int
    depth: int
    offline: int
    convs: int
    samples: int


class Env(Protocol):
    """The server under test and the way accounts are made for it (``scenarios.Env``)."""

    @property
    def opts(self) -> Opts: ...

    started: bool
    server: runner.Server
    run_id: str

    async def accounts(self, n: int, devices: list[list[str]]) -> list[runner.Account]: ...

    async def start(self) -> None: ...

    def pin_target(self) -> None: ...

    def port(self, name: str) -> int: ...


BACKGROUND_PER_CONV = 1000
BACKGROUND_UID = 3_000_000_000  # above every account uid the bench makes, below 2^32
_DAY_MS = 86_400_000
_HISTORY_PAGE = 30
_CATCHUP_PAGE = 200
_REQUESTS_PER_S = 80  # history requests of one connection: below OMTP's rate limit (100 frames/s)
_DEVICE = 2  # OMTP ANDROID


# -- the prefill ------------------------------------------------------------------------------------------
Own = list[tuple[ConvId, int]]  # a scenario's own rows: (conversation, sender), in the order to store them


def prefill_messages(background: int, own: Own, now_ms: int) -> Iterator[BulkMessage]:
    """``background`` messages round-robin over ``background / 1,000`` conversations, with the ``own`` rows
    spread evenly among them; stamped over the day before ``now_ms``."""
    convs = [
        ConvId.peer(BACKGROUND_UID + 2 * k, BACKGROUND_UID + 2 * k + 1)
        for k in range(math.ceil(background / BACKGROUND_PER_CONV))
    ]
    total = background + len(own)
    t0 = now_ms - _DAY_MS
    j = b = 0
    for i in range(total):
        if j < len(own) and (i + 1) * len(own) // total > j:
            conv, sender = own[j]
            j += 1
        else:
            conv = convs[b % len(convs)]
            sender = conv.a if (b // len(convs)) % 2 == 0 else conv.b
            b += 1
        ts = t0 + i * _DAY_MS // total
        text = f"stored message {i} " + "x" * 40
        yield BulkMessage(conv, sender, f"pf{i:010d}", text, ts, (ts << 22) | (i & 0xFFF))


async def prefill(env: Env, own: Own | None = None) -> dict[str, Any]:
    """Fill the own server's store (it must not run yet): ``--prefill`` background messages and ``own``."""
    o = env.opts
    if env.started or env.server.config is None:
        raise Unavailable("--prefill fills the bench's own server's store before it starts (not a --target)")
    path = _db_path(env.server.config)
    say = _say(env)
    say(f"prefilling the store with {o.prefill:,} messages (+{len(own or []):,} of the scenario's own) …")
    last = [0.0]

    def progress(count: int, seconds: float) -> None:
        if seconds - last[0] >= 10.0:
            last[0] = seconds
            say(f"  … {count:,} messages in {seconds:.0f} s ({count / seconds:,.0f}/s)")

    t0 = time.monotonic()
    rows = prefill_messages(o.prefill, own or [], int(time.time() * 1000))
    loop = asyncio.get_running_loop()
    count = await loop.run_in_executor(None, lambda: bulk_append(str(path), rows, progress=progress))
    seconds = time.monotonic() - t0
    size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    say(f"prefilled {count:,} messages in {seconds:.1f} s ({count / seconds:,.0f}/s), {size_mb:,.0f} MB")
    return {
        "prefill": o.prefill,
        "prefill_rows": count,
        "prefill_s": round(seconds, 2),
        "prefill_per_s": round(count / seconds) if seconds else 0,
        "db_mb": round(size_mb, 1),
    }


def _db_path(config: Path) -> Path:
    from polyim import config as cfg
    from polyim.protocols import registry

    settings = cfg.load(str(config), registry.sections())
    if settings.storage.url:
        raise Unavailable("--prefill loads a SQLite store in the data dir only")
    return Path(settings.server.data_dir) / "polyim.db"


def _say(env: Env) -> Callable[[str], None]:
    """Progress on stderr, unless ``--quiet``."""
    quiet = env.opts.quiet
    return lambda text: None if quiet else print(text, file=sys.stderr, flush=True)


# -- a plain OMTP client --------------------------------------------------------------------------------
class OmtpClient:
    """One OMTP connection that asks and waits: a request, then its response (pushes are skipped)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = c.Decoder()
        self.ready: list[c.Pack] = []
        self.n = 0

    @classmethod
    async def login(cls, host: str, port: int, spec: SessionSpec) -> OmtpClient:
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer)
        writer.write(login_frame(spec))
        resp = c.LoginResp.decode((await client._reply("login")).payload)
        if resp.error_code.code:
            writer.close()
            raise RuntimeError(f"{spec.username} cannot log in: {resp.error_code}")
        return client

    async def ask(self, pack_type: int, payload: bytes) -> bytes:
        self.n += 1
        pack_id = f"g{self.n}"
        self.writer.write(frame(pack_type, 0, pack_id.encode(), payload))
        return (await self._reply(pack_id)).payload

    async def _reply(self, pack_id: str, timeout: float = 120.0) -> c.Pack:
        async with asyncio.timeout(timeout):
            while True:
                while self.ready:
                    pack = self.ready.pop(0)
                    if pack.header.flags & c.FLAG_ACK and pack.header.pack_id == pack_id:
                        return pack
                data = await self.reader.read(1 << 20)
                if not data:
                    raise ConnectionError("server closed the connection")
                self.ready += self.decoder.feed(data)

    async def conversations(self) -> list[c.HotSessionItem]:
        """The whole conversation list, page after page (HOTSESSION_SYNC from timestamp 0)."""
        items: list[c.HotSessionItem] = []
        stamp = 0
        while True:
            resp = c.HotSessionResp.decode(
                await self.ask(c.PackType.HOTSESSION_SYNC, c.HotSessionReq(stamp).encode())
            )
            items += resp.sessions
            if resp.error_code.code != c.ErrorCode.EC_HOTSESSION_MORE or not resp.sessions:
                if resp.error_code.code not in (0, c.ErrorCode.EC_HOTSESSION_MORE):
                    raise RuntimeError(f"HOTSESSION_SYNC refused: {resp.error_code}")
                return items
            stamp = resp.timestamp

    async def history(self, session_id: str, before: int, count: int) -> list[int]:
        """The seqs of one HISTORY_MSG_PULL page, newest first."""
        req = c.HistoryMsgPullReq(session_id=session_id, seq_id=before, count=count)
        resp = c.HistoryMsgPullResp.decode(await self.ask(c.PackType.HISTORY_MSG_PULL, req.encode()))
        if resp.error_code.code:
            raise RuntimeError(f"HISTORY_MSG_PULL refused: {resp.error_code}")
        return [c.MsgReq.decode(p.payload).seq_id for p in resp.msgs]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


# -- the scenarios --------------------------------------------------------------------------------------
@dataclass
class Users:
    """The scenario's accounts: the measured user first, then its peers."""

    specs: list[SessionSpec]

    @property
    def me(self) -> SessionSpec:
        return self.specs[0]


async def _users(env: Env, n: int) -> Users:
    devices = [f"{env.run_id}-d{i}" for i in range(n)]
    accounts = await env.accounts(n, [[d] for d in devices])
    return Users(
        [
            SessionSpec(i, "omtp", a.username, a.uid, a.secrets[devices[i]], _DEVICE, devices[i])
            for i, a in enumerate(accounts)
        ]
    )


def _timed() -> Callable[[Histogram], None]:
    t0 = time.perf_counter()
    return lambda hist: hist.record(int((time.perf_counter() - t0) * 1_000_000))


async def _history(env: Env, users: Users, hists: dict[str, Histogram]) -> str:
    o = env.opts
    me, peer = users.specs[0], users.specs[1]
    session = single_session_id(me.uid, peer.uid)
    client = await OmtpClient.login(env.server.host, env.port("omtp"), me)
    rng = random.Random(19)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        for k in range(o.samples or 400):
            await asyncio.sleep(start + k / _REQUESTS_PER_S - loop.time())  # under OMTP's 100 frames/s
            deep = k % 2 == 1
            before = rng.randint(_HISTORY_PAGE + 1, o.depth) if deep and o.depth > _HISTORY_PAGE else 0
            done = _timed()
            seqs = await client.history(session, before, _HISTORY_PAGE)
            done(hists["history, random depth" if deep else "history, newest page"])
            if len(seqs) != min(_HISTORY_PAGE, o.depth):
                raise RuntimeError(f"a history page had {len(seqs)} messages")
    finally:
        await client.close()
    return f"(OMTP, one conversation of {o.depth:,} messages, pages of {_HISTORY_PAGE})"


async def _catchup(env: Env, users: Users, hists: dict[str, Histogram]) -> str:
    o = env.opts
    me = users.me
    for _ in range(o.samples or 20):
        done_all = _timed()
        client, items = await _login_and_list(env, me, hists)
        got = 0
        for item in items:
            if item.unread_count:
                got += await _pull_unread(client, item)
        done_all(hists["catch-up, all unread"])
        await client.close()
        if got != o.offline:
            raise RuntimeError(f"caught up {got} messages, {o.offline} were waiting")
    return f"(OMTP, {o.offline:,} unread messages from {o.convs or 10} peers, pulled in pages of {_CATCHUP_PAGE})"


async def _login_and_list(
    env: Env, me: SessionSpec, hists: dict[str, Histogram]
) -> tuple[OmtpClient, list[c.HotSessionItem]]:
    """A login and the whole conversation list, each timed into its histogram."""
    done_login = _timed()
    client = await OmtpClient.login(env.server.host, env.port("omtp"), me)
    done_login(hists["login"])
    done_list = _timed()
    items = await client.conversations()
    done_list(hists["conversation list"])
    return client, items


async def _pull_unread(client: OmtpClient, item: c.HotSessionItem) -> int:
    """Every message above the read cursor, newest page first."""
    got = 0
    before = 0
    while True:
        seqs = [
            s for s in await client.history(item.session_id, before, _CATCHUP_PAGE) if s > item.read_seq_id
        ]
        got += len(seqs)
        if not seqs or min(seqs) <= item.read_seq_id + 1:
            return got
        before = min(seqs) - 1


async def _manyconv(env: Env, users: Users, hists: dict[str, Histogram]) -> str:
    o = env.opts
    me = users.me
    for _ in range(o.samples or 20):
        done_all = _timed()
        client, items = await _login_and_list(env, me, hists)
        done_all(hists["login + list"])
        await client.close()
        if len(items) != len(users.specs) - 1:
            raise RuntimeError(f"the list had {len(items)} conversations, {len(users.specs) - 1} expected")
    return f"(OMTP, one user with {len(users.specs) - 1:,} conversations, one unread message in each)"


def _own_rows(env: Env, users: Users) -> Own:
    o = env.opts
    me = users.me.uid
    peers = [s.uid for s in users.specs[1:]]
    if o.scenario == "history":
        conv = ConvId.peer(me, peers[0])
        return [(conv, me if k % 2 == 0 else peers[0]) for k in range(o.depth)]
    if o.scenario == "catchup":
        return [(ConvId.peer(me, peers[k % len(peers)]), peers[k % len(peers)]) for k in range(o.offline)]
    mine: Own = [(ConvId.peer(me, p), me) for p in peers]  # manyconv: one message each way, theirs unread
    return mine + [(ConvId.peer(me, p), p) for p in peers]


_MEASURE = {"history": _history, "catchup": _catchup, "manyconv": _manyconv}


async def run(env: Env) -> Result:
    """Accounts, the prefill with the scenario's own rows, the server, then the timed requests."""
    o = env.opts
    if env.server.config is None:
        raise Unavailable(f"the {o.scenario} scenario fills its own server's store: no --target")
    peers = 1 if o.scenario == "history" else (o.convs or (10 if o.scenario == "catchup" else 5000))
    users = await _users(env, 1 + peers)
    filled = await prefill(env, _own_rows(env, users))
    await env.start()
    env.pin_target()
    pid = env.server.pid
    assert pid is not None
    hists: dict[str, Histogram] = _HistDict()
    cpu0, t0 = runner.cpu_seconds(pid), time.monotonic()
    describe = await _MEASURE[o.scenario](env, users, hists)
    elapsed, cpu1 = time.monotonic() - t0, runner.cpu_seconds(pid)
    figures = ServerFigures(
        cpu_s=cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
        peak_rss_mb=runner.status_mb(pid, "VmHWM"),
    )
    report = LoadReport()
    report.sessions = 1
    result = GrowthResult(o.scenario, elapsed, report, figures, describe, 1, elapsed_s=elapsed)
    result.timings = dict(hists)
    result.extra |= filled
    return result


class _HistDict(dict[str, Histogram]):
    def __missing__(self, key: str) -> Histogram:
        hist = self[key] = Histogram()
        return hist


class GrowthResult(Result):
    """A growth scenario's figures: request latencies by name, the store's size, the server's CPU."""

    timings: dict[str, Histogram]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scenario": self.scenario, "elapsed_s": round(self.elapsed_s, 3)}
        out["server_cpu_s"] = self.server.cpu_s
        out["server_rss_mb"] = self.server.peak_rss_mb
        out["timings"] = {
            name: {
                "p50_ms": h.percentile(50),
                "p99_ms": h.percentile(99),
                "max_ms": h.max_ms,
                "count": h.count,
            }
            for name, h in self.timings.items()
        }
        out.update(self.extra)
        return out

    def table(self) -> str:
        e = self.extra
        lines = [f"polyim bench {self.scenario}  {self.describe}"]
        lines.append(
            f"  store    {e.get('prefill', 0):,} background messages + {e.get('prefill_rows', 0) - e.get('prefill', 0):,}"
            f" of this scenario, loaded in {e.get('prefill_s', 0):.1f} s ({e.get('prefill_per_s', 0):,}/s),"
            f" {e.get('db_mb', 0):,.0f} MB"
        )
        lines.append(f"  {'latency (ms)':<26}{'p50':>10}{'p99':>10}{'max':>10}{'samples':>10}")
        for name, h in self.timings.items():
            p50, p99, top = (
                f"{v:,.2f}" if v is not None else "-" for v in (h.percentile(50), h.percentile(99), h.max_ms)
            )
            lines.append(f"  {name:<26}{p50:>10}{p99:>10}{top:>10}{h.count:>10,}")
        cpu = self.server.cpu_s
        lines.append(
            f"  server   cpu {cpu if cpu is not None else 0:.2f} s over {self.elapsed_s:.1f} s,"
            f" peak RSS {self.server.peak_rss_mb or 0:,.0f} MB"
        )
        return "\n".join(lines)
