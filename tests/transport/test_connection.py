"""The TCP connection over real sockets: writes queued in one loop turn leave in one flush pass (one for
every listener of the loop), to every connection that has bytes queued, and a close sends what is
queued first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import ClassVar

from polyim.transport.connection import Connection, StreamHandler, serve_tcp
from tests.transport.loops import LoopFactory, both_loops, run_on


class Broadcaster(StreamHandler):
    """Each line received is written to every connection of the listener (a fan-out in one turn);
    ``bye`` queues a goodbye and closes at once."""

    everyone: ClassVar[list[Connection]] = []

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.everyone.append(conn)

    def feed(self, data: bytes) -> None:
        for line in data.splitlines():
            if line == b"bye":
                self.conn.write(b"goodbye\n")
                self.conn.close()
                return
            for conn in self.everyone:
                conn.write(line + b" 1\n")
                conn.write(line + b" 2\n")

    def connection_lost(self) -> None:
        self.everyone.remove(self.conn)

    def timed_out(self, logged_in: bool) -> None:
        self.conn.close()


Clients = list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]


@contextlib.asynccontextmanager
async def listening(handler: type[Broadcaster], n: int) -> AsyncIterator[Clients]:
    """A listener with ``n`` clients connected and accepted; everything closed at the end."""
    server, conns = await serve_tcp("127.0.0.1", 0, handler, idle_timeout=60, login_timeout=60)
    port = server.sockets[0].getsockname()[1]
    try:
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(n)]
        while len(conns) < n:
            await asyncio.sleep(0.01)
        yield clients
        for _, w in clients:
            w.close()
    finally:
        conns.close_all()
        server.close()
        await server.wait_closed()


async def test_fan_out_reaches_every_connection_and_close_flushes_first() -> None:
    async with listening(Broadcaster, 20) as clients:
        clients[0][1].write(b"hello\n")
        for reader, _ in clients:
            assert await asyncio.wait_for(reader.readline(), 5) == b"hello 1\n"
            assert await asyncio.wait_for(reader.readline(), 5) == b"hello 2\n"
        reader, writer = clients[5]
        writer.write(b"bye\n")
        assert await asyncio.wait_for(reader.read(), 5) == b"goodbye\n"  # then EOF: closed after the flush


class Listener(Broadcaster):
    everyone: ClassVar[list[Connection]] = []


async def _a_transport_closed_under_a_queued_write_does_not_hold_up_the_others() -> None:
    async with listening(Listener, 3) as clients:
        while len(Listener.everyone) < 3:
            await asyncio.sleep(0.01)
        first, *others = Listener.everyone
        # In one turn: the first connection's transport dies (a reset read; its connection_lost is
        # scheduled), then a fan-out queues bytes for every connection, the dead one included.
        transport = first.transport
        assert transport is not None
        transport.abort()
        for conn in Listener.everyone:
            conn.write(b"news\n")
        for reader, _ in clients[1:]:
            assert await asyncio.wait_for(reader.readline(), 5) == b"news\n"
        for conn in others:  # and their next writes still leave
            conn.write(b"more\n")
        for reader, _ in clients[1:]:
            assert await asyncio.wait_for(reader.readline(), 5) == b"more\n"


@both_loops
def test_a_transport_closed_under_a_queued_write_does_not_hold_up_the_others(
    loop_factory: LoopFactory,
) -> None:
    """The server runs on uvloop, whose transports raise on a write after they closed: the flush pass
    must drop that connection's bytes and go on to the others."""
    run_on(loop_factory, _a_transport_closed_under_a_queued_write_does_not_hold_up_the_others)


class Crossing(Broadcaster):
    everyone: ClassVar[list[Connection]] = []


async def _line_or_reset(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    except ConnectionResetError:
        return b""


async def _one_pass_writes_the_connections_of_every_listener() -> None:
    first = await serve_tcp("127.0.0.1", 0, Crossing, idle_timeout=60, login_timeout=60)
    second = await serve_tcp("127.0.0.1", 0, Crossing, idle_timeout=60, login_timeout=60)
    try:
        assert first[1].flushes is second[1].flushes  # the two ends of a mixed pair: side by side
        clients = [
            await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
            for server, _ in (first, second, first, second)
        ]
        while len(Crossing.everyone) < 4:
            await asyncio.sleep(0.01)
        # One turn: a connection of the first listener dies under a fan-out to both listeners.
        dead = next(c for c in Crossing.everyone if c.registry is first[1])
        assert dead.transport is not None
        dead.transport.abort()
        for conn in Crossing.everyone:
            conn.write(b"news\n")
        got = [await _line_or_reset(reader) for reader, _ in clients]
        assert sorted(got) == [b"", b"news\n", b"news\n", b"news\n"]
        assert got[1] == got[3] == b"news\n"  # the second listener's
        for _, writer in clients:
            writer.close()
    finally:
        for server, conns in (first, second):
            conns.close_all()
            server.close()
            await server.wait_closed()


@both_loops
def test_one_flush_pass_writes_the_connections_of_every_listener(loop_factory: LoopFactory) -> None:
    """Every listener of a loop shares its flush pass, and a dead connection of one listener does not
    hold up another listener's connections written in the same turn."""
    run_on(loop_factory, _one_pass_writes_the_connections_of_every_listener)


class Ticker(Broadcaster):
    """``later`` asks for a tick in 50 ms; ``later bye`` asks for one and closes at once."""

    everyone: ClassVar[list[Connection]] = []
    ticked: ClassVar[list[Connection]] = []

    def feed(self, data: bytes) -> None:
        self.conn.call_later(0.05, self.tick)
        if data.strip() == b"later bye":
            self.conn.close()

    def tick(self) -> None:
        self.ticked.append(self.conn)
        self.conn.write(b"tick\n")


async def test_a_channel_deadline_fires_unless_its_connection_closed_first() -> None:
    async with listening(Ticker, 2) as clients:
        (kept_r, kept_w), (closed_r, closed_w) = clients
        kept_w.write(b"later\n")
        closed_w.write(b"later bye\n")
        assert await asyncio.wait_for(kept_r.readline(), 5) == b"tick\n"
        assert await asyncio.wait_for(closed_r.read(), 5) == b""  # closed, and no tick after it
        await asyncio.sleep(0.1)
        assert len(Ticker.ticked) == 1  # the closed connection's deadline did not run at all
