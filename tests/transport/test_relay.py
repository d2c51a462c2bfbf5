"""Write back-pressure over real sockets: a relay of 50 MB from one TCP connection to another whose
reader is slow. Past the receiver's high-water mark the relay pauses the sender's reads, so the server
holds a bounded amount (no slow-consumer cut, RSS flat) and every byte arrives intact."""

from __future__ import annotations

import asyncio
import hashlib
import random
from pathlib import Path
from typing import ClassVar

from polyim.transport.connection import WRITE_HIGH_WATER, Connection, StreamHandler, serve_tcp
from tests.transport.loops import LoopFactory, both_loops, run_on

TOTAL = 50 * 1024 * 1024
CHUNK = 64 * 1024


class Relay(StreamHandler):
    """The first connection receives, the second sends; what the sender sends goes to the receiver."""

    waiting: ClassVar[list[Relay]] = []
    pauses = 0
    max_buffered = 0

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.source: Relay | None = None  # whose input is relayed here
        self.target: Relay | None = None  # where this one's input goes
        if self.waiting:
            self.target = self.waiting.pop()
            self.target.source = self
        else:
            self.waiting.append(self)

    def feed(self, data: bytes) -> None:
        target = self.target
        assert target is not None
        target.conn.write(data)
        transport = target.conn.transport
        assert transport is not None
        Relay.max_buffered = max(Relay.max_buffered, transport.get_write_buffer_size())

    def writing_paused(self) -> None:
        Relay.pauses += 1
        if self.source is not None:
            self.source.conn.pause_reading()

    def writing_resumed(self) -> None:
        if self.source is not None:
            self.source.conn.resume_reading()

    def connection_lost(self) -> None:
        pass

    def timed_out(self, logged_in: bool) -> None:
        self.conn.close()


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def relay_50_mb() -> None:
    Relay.waiting.clear()
    Relay.pauses = Relay.max_buffered = 0
    server, conns = await serve_tcp("127.0.0.1", 0, Relay, idle_timeout=60, login_timeout=60)
    port = server.sockets[0].getsockname()[1]
    receiver = await asyncio.open_connection("127.0.0.1", port)
    while len(conns) < 1:
        await asyncio.sleep(0.01)
    sender = await asyncio.open_connection("127.0.0.1", port)
    while len(conns) < 2:
        await asyncio.sleep(0.01)
    baseline = rss()
    peak = baseline

    async def send() -> str:
        digest, rng = hashlib.sha256(), random.Random(5)
        for _ in range(TOTAL // CHUNK):
            chunk = rng.randbytes(CHUNK)
            digest.update(chunk)
            sender[1].write(chunk)
            await sender[1].drain()
        return digest.hexdigest()

    async def receive() -> str:
        nonlocal peak
        digest, got = hashlib.sha256(), 0
        while got < TOTAL:
            data = await receiver[0].read(CHUNK)
            assert data, f"receiver cut after {got} bytes"
            digest.update(data)
            got += len(data)
            peak = max(peak, rss())
            await asyncio.sleep(0.002)  # a slow reader: at most ~32 MB/s
        return digest.hexdigest()

    try:
        sent, received = await asyncio.wait_for(asyncio.gather(send(), receive()), 60)
    finally:
        for _, writer in (receiver, sender):
            writer.close()
        conns.close_all()
        server.close()
    assert received == sent
    assert Relay.pauses > 0  # back-pressure was used, not just a fast reader
    assert Relay.max_buffered < WRITE_HIGH_WATER + 1024 * 1024  # high water plus a read or two
    assert peak - baseline < 20 * 1024 * 1024  # nothing near 50 MB was held anywhere in this process


@both_loops
def test_a_relay_to_a_slow_reader_pauses_its_source_and_stays_bounded(loop_factory: LoopFactory) -> None:
    """uvloop hands one connection many reads per loop turn: the relay must still pause in time."""
    run_on(loop_factory, relay_50_mb)
