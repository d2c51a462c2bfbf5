"""The baseline server: polyim's transport layer with a handler that echoes each OMTP frame back.

``python -m polyim.bench.echo --port 0`` prints ``listening echo tcp <host>:<port>`` and serves until
SIGTERM. Frames are split on their 4-byte length only (no Tars decoding, no core): what is left is the
cost of the socket layer, the loop and the coalesced writes of :mod:`polyim.transport.connection`, the
ceiling every figure of the real server can be compared with. With ``--fanout`` every frame goes to
every connection, the sender's included: the ceiling of a room's (or a group's) fan-out.

With ``--store FILE`` each frame is first committed as a message row, in polyim's own schema, through
polyim's grouped-commit writer (WAL, ``synchronous=FULL``), and echoed once its commit has landed: the
floor of a durable 1:1 message, the socket layer plus SQLite and nothing else. polyim's chat does all of
that and more (decoding, checks, an ack and a delivery, the receipt's cursor), so it cannot beat it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import sqlite3
import struct
import time
from typing import Any

from polyim.bench.omtp_load import parse_head
from polyim.bench.runner import raise_nofile
from polyim.store.dbthread import WriterThread, connect
from polyim.store.migrate import migrate
from polyim.transport.connection import Connection, StreamHandler, serve_tcp

log = logging.getLogger(__name__)

_U32 = struct.Struct(">I")
MAX_FRAME = 640_000

_INSERT = (
    "INSERT OR IGNORE INTO messages(conv, seq, msg_id, sender, device, client_id, ctype, content, data, extra, topic,"
    " ts_ms) VALUES (?,?,?,?,?,?,1,'',?,'{}','',?)"
)


class DurableLog:
    """Frames to message rows, committed a loop turn at a time; each frame is written back to its
    connection when its commit has landed (polyim's ack rule)."""

    def __init__(self, path: str) -> None:
        conn = connect(path)
        migrate(conn)
        conn.close()
        self.writer = WriterThread(path, "echo-writer")
        self._rows: list[tuple[Any, ...]] = []
        self._frames: list[tuple[Connection, bytes]] = []
        self._seqs: dict[int, int] = {}
        self._msg_ids = itertools.count(1)

    def add(self, sender: int, conn: Connection, frame: bytes) -> None:
        """A row per frame. Connections 1 and 2 share a conversation, 3 and 4 the next…: the pages a
        commit touches are those of as many 1:1 pairs. The client id is the frame's own OMTP packId, as
        polyim stores it (:func:`client_id`)."""
        if not self._rows:
            asyncio.get_running_loop().call_soon(self._submit)
        conv = (sender + 1) // 2
        seq = self._seqs[conv] = self._seqs.get(conv, 0) + 1
        msg_id = next(self._msg_ids)
        ts_ms = time.time_ns() // 1_000_000
        cid = client_id(frame) or f"{sender}.{msg_id}"
        self._rows.append((f"p:{conv}", seq, msg_id, sender, "echo", cid, frame, ts_ms))
        self._frames.append((conn, frame))

    def _submit(self) -> None:
        rows, frames = self._rows, self._frames
        self._rows, self._frames = [], []
        committed = self.writer.run(lambda c: _insert(c, rows))
        committed.add_done_callback(lambda fut: _echo_all(fut, frames))


def client_id(frame: bytes) -> str:
    """The packId of an OMTP frame (length prefix included) in the load's layout, "" for any other.

    polyim keys a message's resend check by its sender's client id (the packId, for OMTP), and the
    unique index on it is a large part of what a commit writes: a client id lands at no particular
    place among its sender's, so most messages dirty a leaf of their own. Ids made up here, rising per
    sender, would all land at their sender's tail instead, and spare the floor a cost polyim cannot
    avoid for the same frames: 5–11 % of the floor's msgs/s with the load's ids, a quarter with ids as
    random as the OTIM SDK's (docs/performance.md, "ninth pass")."""
    head = parse_head(frame, 4, len(frame))
    return frame[head[2] : head[3]].decode("utf-8", "replace") if head is not None else ""


def _insert(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(_INSERT, rows)


def _echo_all(fut: asyncio.Future[None], frames: list[tuple[Connection, bytes]]) -> None:
    exc = fut.exception()
    if exc is not None:  # nothing committed, nothing echoed: the load counts them as lost
        log.error("commit of %d frames failed: %s", len(frames), exc)
        return
    for conn, frame in frames:
        conn.write(frame)


class EchoHandler(StreamHandler):
    """Echo every complete frame; keep the partial tail for the next read."""

    __slots__ = ("buf", "conn", "durable", "everyone", "number")

    _numbers = itertools.count(1)

    def __init__(
        self, conn: Connection, everyone: set[Connection] | None = None, durable: DurableLog | None = None
    ) -> None:
        self.conn = conn
        self.buf = bytearray()
        self.everyone = everyone
        self.durable = durable
        self.number = next(self._numbers)
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
        if self.durable is not None:
            self.durable.add(self.number, self.conn, frame)
            return
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


async def serve(host: str, port: int, fanout: bool = False, store: str = "") -> None:
    everyone: set[Connection] | None = set() if fanout else None
    durable = DurableLog(store) if store else None
    if durable is not None:
        durable.writer.start(asyncio.get_running_loop())
    server, conns = await serve_tcp(
        host,
        port,
        lambda conn: EchoHandler(conn, everyone, durable),
        idle_timeout=3600.0,
        login_timeout=3600.0,
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
    if durable is not None:
        durable.writer.stop()


def main(argv: list[str] | None = None) -> int:
    from polyim.runtime import install_loop

    p = argparse.ArgumentParser(prog="python -m polyim.bench.echo", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fanout", action="store_true", help="send every frame to every connection")
    p.add_argument("--store", default="", metavar="FILE", help="commit each frame to this SQLite file first")
    args = p.parse_args(argv)
    if args.fanout and args.store:
        p.error("--store echoes to the sender only: not with --fanout")
    raise_nofile()
    install_loop()
    asyncio.run(serve(args.host, args.port, args.fanout, args.store))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
