"""The TCP connection over real sockets: writes queued in one loop turn leave in one flush pass per
listener, to every connection that has bytes queued, and a close sends what is queued first."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from polyim.transport.connection import Connection, serve_tcp


class Broadcaster:
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


async def test_fan_out_reaches_every_connection_and_close_flushes_first() -> None:
    server, conns = await serve_tcp("127.0.0.1", 0, Broadcaster, idle_timeout=60, login_timeout=60)
    port = server.sockets[0].getsockname()[1]
    try:
        clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
        while len(conns) < 20:
            await asyncio.sleep(0.01)
        clients[0][1].write(b"hello\n")
        for reader, _ in clients:
            assert await asyncio.wait_for(reader.readline(), 5) == b"hello 1\n"
            assert await asyncio.wait_for(reader.readline(), 5) == b"hello 2\n"
        reader, writer = clients[5]
        writer.write(b"bye\n")
        assert await asyncio.wait_for(reader.read(), 5) == b"goodbye\n"  # then EOF: closed after the flush
        for _, w in clients:
            w.close()
    finally:
        conns.close_all()
        server.close()
        await server.wait_closed()
