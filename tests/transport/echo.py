"""A message handler for the message listeners' tests (WebSocket, UDP): it echoes each message, and a
few messages are commands: ``login`` marks the connection logged in, ``pause`` pauses its reading for
0.2 s, ``pause and close`` pauses it and closes the connection."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from polyim.transport.connection import ConnBase, MessageHandler


class Echo(MessageHandler):
    lost: ClassVar[list[ConnBase]] = []

    def __init__(self, conn: ConnBase) -> None:
        self.conn = conn

    def feed_message(self, data: bytes) -> None:
        if data == b"login":
            self.conn.logged_in = True
        elif data == b"pause":
            self.conn.pause_reading()
            asyncio.get_running_loop().call_later(0.2, self.conn.resume_reading)
        self.conn.write(b"echo:" + data)
        if data == b"pause and close":
            self.conn.pause_reading()
            self.conn.close()

    def connection_lost(self) -> None:
        self.lost.append(self.conn)

    def timed_out(self, logged_in: bool) -> None:
        self.conn.close()
