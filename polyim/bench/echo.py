"""The baseline server: polyim's transport layer with a handler that echoes each OMTP frame back.

``python -m polyim.bench.echo --port 0`` prints ``listening echo tcp <host>:<port>`` and serves until
SIGTERM. Frames are split on their 4-byte length only (no Tars decoding, no core): what is left is the
cost of the socket layer, the loop and the coalesced writes of :mod:`polyim.transport.connection`, the
ceiling every figure of the real server can be compared with. With ``--fanout`` every frame goes to
every connection, the sender's included: the ceiling of a room's (or a group's) fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct

from polyim.bench.runner import raise_nofile
from polyim.transport.connection import Connection, serve_tcp

_U32 = struct.Struct(">I")
MAX_FRAME = 640_000


class EchoHandler:
    """Echo every complete frame; keep the partial tail for the next read."""

    __slots__ = ("buf", "conn", "everyone")

    def __init__(self, conn: Connection, everyone: set[Connection] | None = None) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.everyone = everyone
        if everyone is not None:
            everyone.add(conn)
        conn.logged_in = True  # no login phase: only the idle timer applies

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            length = _U32.unpack_from(buf, pos)[0]
            if not 4 <= length <= MAX_FRAME:
                self.conn.abort()
                return
            if pos + length > end:
                break
            self._emit(bytes(buf[pos : pos + length]))
            pos += length
        del buf[:pos]

    def _emit(self, frame: bytes) -> None:
        if self.everyone is None:
            self.conn.write(frame)
            return
        for conn in self.everyone:
            conn.write(frame)

    def connection_lost(self) -> None:
        self.buf.clear()
        if self.everyone is not None:
            self.everyone.discard(self.conn)

    def timed_out(self, logged_in: bool) -> None:
        self.conn.close()


async def serve(host: str, port: int, fanout: bool = False) -> None:
    everyone: set[Connection] | None = set() if fanout else None
    server, conns = await serve_tcp(
        host, port, lambda conn: EchoHandler(conn, everyone), idle_timeout=3600.0, login_timeout=3600.0
    )
    bound = server.sockets[0].getsockname()[1] if server.sockets else port
    print(f"listening echo tcp {host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    conns.close_all()


def main(argv: list[str] | None = None) -> int:
    from polyim.runtime import install_loop

    p = argparse.ArgumentParser(prog="python -m polyim.bench.echo", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fanout", action="store_true", help="send every frame to every connection")
    args = p.parse_args(argv)
    raise_nofile()
    install_loop()
    asyncio.run(serve(args.host, args.port, args.fanout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
