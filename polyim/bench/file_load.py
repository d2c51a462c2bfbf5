"""The ``file`` scenario: ``--transfers`` (20) TeamTalk online transfers of ``--file-mb`` (100) MB each,
all at once, relayed by the server's file listener (teamtalk.md §4.8).

Every pair logs in on the msg listener (PC clients, so the offers stay online), the sender offers the
file (6/10 → 6/11, the receiver hears 6/12), both log in on the file listener with their token (6/1),
and the receiver pulls 1 MiB blocks with ``--window`` (4) pulls in flight; the sender answers each
relayed 6/4 with a 6/5 of that block. The figures are the relayed MB/s over the whole run and the
server's CPU and peak memory: a relay keeps no copy, so the memory must not grow with the bytes moved.
In the result table a "message" is one relayed 1 MiB block (sent = pulled, acked = answered by the
sender, delivered = received by the receiver).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from polyim.bench import runner
from polyim.bench.stats import LoadReport, Result, ServerFigures
from polyim.protocols.teamtalk import codec as c


class FileEnv(Protocol):
    """What the scenario needs of the bench's ``scenarios.Env`` (its opts carry ``transfers``,
    ``file_mb`` and ``window``)."""

    opts: Any
    run_id: str
    server: runner.Server

    async def accounts(self, n: int, devices: list[list[str]]) -> list[runner.Account]: ...

    async def start(self) -> None: ...

    def pin_target(self) -> None: ...

    def port(self, name: str) -> int: ...


BLOCK = 1024 * 1024
MB = 1024 * 1024
_PC = 0x01


class Peer:
    """One TeamTalk connection of the scenario, reading frames into a queue per (module, command)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = c.Decoder(c.MAX_FILE_FRAME)
        self.queues: dict[tuple[int, int], asyncio.Queue[c.Frame]] = {}
        self.task = asyncio.ensure_future(self._read())

    @classmethod
    async def open(cls, host: str, port: int) -> Peer:
        reader, writer = await asyncio.open_connection(host, port, limit=4 * BLOCK)
        return cls(reader, writer)

    async def _read(self) -> None:
        while data := await self.reader.read(4 * BLOCK):
            for frame in self.decoder.feed(data):
                self.queue(frame.key).put_nowait(frame)

    def queue(self, key: tuple[int, int]) -> asyncio.Queue[c.Frame]:
        return self.queues.setdefault(key, asyncio.Queue())

    async def next(self, key: tuple[int, int], timeout: float = 60) -> c.Frame:
        return await asyncio.wait_for(self.queue(key).get(), timeout)

    def send(self, key: tuple[int, int], body: c.Body, reserved: int = 1) -> None:
        self.writer.write(c.frame_of(key, reserved, body))

    def close(self) -> None:
        self.task.cancel()
        self.writer.close()


async def _msg_login(host: str, port: int, account: runner.Account, device: str) -> Peer:
    peer = await Peer.open(host, port)
    peer.send(c.USERLOGIN_REQ, c.LoginReq(account.username, account.secrets[device], 1, _PC, "bench"))
    result = c.LoginRes.decode((await peer.next(c.USERLOGIN_RES)).body).result
    if result != 0:
        raise RuntimeError(f"TeamTalk login of {account.username} refused ({result})")
    return peer


async def _file_login(host: str, port: int, uid: int, token: str, task: str, mode: int) -> Peer:
    peer = await Peer.open(host, port)
    peer.send(c.FILE_LOGIN_REQ, c.FileLoginReq(str(uid), token, task, mode))
    result = c.FileLoginRes.decode((await peer.next(c.FILE_LOGIN_RES)).body).result
    if result != 0:
        raise RuntimeError(f"file login refused ({result})")
    return peer


async def _serve(sender: Peer, uid: str, block: bytes, report: LoadReport) -> None:
    """The sender answers every relayed 6/4 with a block (the pull's size)."""
    while True:
        frame = await sender.next(c.PULL_DATA_REQ, timeout=3600)
        pull = c.PullDataReq.decode(frame.body)
        sender.send(
            c.PULL_DATA_RES,
            c.PullDataRes(0, pull.task_id, uid, pull.offset, block[: pull.size]),
            frame.reserved,
        )
        report.counters.acked += 1
        await sender.writer.drain()


async def _receive(receiver: Peer, task: str, uid: str, size: int, window: int, report: LoadReport) -> int:
    """Pull the whole file, ``window`` blocks in flight; returns the bytes received."""
    offset = got = 0
    in_flight = 0
    while got < size:
        while in_flight < window and offset < size:
            receiver.send(c.PULL_DATA_REQ, c.PullDataReq(task, uid, c.MODE_ONLINE, offset, BLOCK))
            report.counters.sent += 1
            offset += BLOCK
            in_flight += 1
        frame = await receiver.next(c.PULL_DATA_RES)
        got += len(c.PullDataRes.decode(frame.body).data)
        report.counters.delivered += 1
        in_flight -= 1
    return got


async def run_files(env: FileEnv, say: Callable[[str], None]) -> Result:
    """The scenario against ``env``'s server (its own, or a ``--target`` with teamtalk msg and file)."""
    o = env.opts
    n, size, window = o.transfers, o.file_mb * MB, o.window or 4
    devices = [f"{env.run_id}-d{i}" for i in range(2 * n)]
    accounts = await env.accounts(2 * n, [[d] for d in devices])
    await env.start()
    env.pin_target()
    host, msg_port, file_port = env.server.host, env.port("teamtalk msg"), env.port("teamtalk file")
    say(f"logging in {2 * n} TeamTalk sessions and offering {n} files of {o.file_mb} MB …")
    msgs = [await _msg_login(host, msg_port, accounts[i], devices[i]) for i in range(2 * n)]
    tasks = []
    for i in range(n):
        a, b = accounts[i], accounts[n + i]
        msgs[i].send(c.FILE_REQ, c.FileReq(str(a.uid), str(b.uid), f"bench{i}.bin", size, c.MODE_ONLINE))
        res = c.FileRes.decode((await msgs[i].next(c.FILE_RES)).body)
        if res.result != 0 or res.trans_mode != c.MODE_ONLINE:
            raise RuntimeError(f"file offer refused ({res.result}, mode {res.trans_mode})")
        tasks.append(res.task_id)
    senders = [
        await _file_login(host, file_port, accounts[i].uid, accounts[i].secrets[devices[i]], tasks[i], 1)
        for i in range(n)
    ]
    receivers = [
        await _file_login(
            host, file_port, accounts[n + i].uid, accounts[n + i].secrets[devices[n + i]], tasks[i], 2
        )
        for i in range(n)
    ]
    report = LoadReport(sessions=4 * n)
    figures = ServerFigures()
    pid = env.server.pid
    block = bytes(range(256)) * (BLOCK // 256)
    serving = [
        asyncio.ensure_future(_serve(s, str(accounts[i].uid), block, report)) for i, s in enumerate(senders)
    ]
    if pid is not None:
        figures.rss_before_mb = runner.status_mb(pid, "VmRSS")
        runner.reset_peak_rss(pid)
    cpu0 = runner.cpu_seconds(pid) if pid is not None else None
    t0 = time.monotonic()
    try:
        got = await asyncio.gather(
            *(
                _receive(r, tasks[i], str(accounts[n + i].uid), size, window, report)
                for i, r in enumerate(receivers)
            )
        )
    finally:
        elapsed = time.monotonic() - t0
        for job in serving:
            job.cancel()
        for peer in (*senders, *receivers, *msgs):
            peer.close()
    cpu1 = runner.cpu_seconds(pid) if pid is not None else None
    if pid is not None:
        figures.peak_rss_mb = runner.status_mb(pid, "VmHWM")
        figures.rss_after_mb = runner.status_mb(pid, "VmRSS")
    figures.cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    report.expected_deliveries = report.counters.acked
    moved = sum(got) / MB
    describe = f"(teamtalk, {n} online transfers of {o.file_mb} MB, window {window} × 1 MiB)"
    result = Result("file", elapsed, report, figures, describe, 1, elapsed_s=elapsed)
    result.extra["relayed_mb"] = round(moved, 1)
    result.extra["relayed_mb_per_s"] = round(moved / elapsed, 1) if elapsed > 0 else 0.0
    result.notes.append(f"relayed {moved:,.0f} MB in {elapsed:.1f} s = {moved / elapsed:,.1f} MB/s")
    return result
