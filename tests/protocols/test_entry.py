"""``protocols/entry.serve_listener``: a protocol with several TCP listeners (TeamTalk's login, msg and
file servers) binds each under its own kind, with the section's limits and its own idle deadline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from polyim.config import ListenerLimits
from polyim.protocols.entry import serve_listener
from polyim.transport.connection import Connection


@dataclass
class _Section(ListenerLimits):
    idle_timeout: float = 30
    login_timeout: float = 15


class _Probe:
    """Records the idle deadline its connection got, and closes it."""

    seen: ClassVar[list[float]] = []

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        _Probe.seen.append(conn.idle_timeout)

    def feed(self, data: bytes) -> None:
        self.conn.close()

    def connection_lost(self) -> None:
        pass

    def timed_out(self, logged_in: bool) -> None:
        self.conn.close()

    def writing_paused(self) -> None:
        pass

    def writing_resumed(self) -> None:
        pass


async def test_each_listener_has_its_kind_and_its_own_idle_deadline() -> None:
    cfg = _Section()
    one = await serve_listener("proto", "msg", "127.0.0.1:0", cfg, _Probe)
    two = await serve_listener("proto", "file", "127.0.0.1:0", cfg, _Probe, idle_timeout=300)
    try:
        assert (one.protocol, one.kind, two.kind) == ("proto", "msg", "file")
        assert one.port != two.port and one.port and two.port
        for listener in (one, two):
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(b"x")
            assert await reader.read() == b""
            writer.close()
        assert _Probe.seen[-2:] == [30, 300]
    finally:
        for listener in (one, two):
            listener.server.close()
            listener.close_all()
