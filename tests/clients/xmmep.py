"""A small XMMEP test client written from ``xmmep.md`` (§2 framing, §3 bodies), over TCP or UDP.

It imports nothing of the server: the header is ``"%4d%4d"`` (§2.1), fields are joined by SOH, struct
members by STX, list elements by ETX, dictionary pairs by EOT (§2.3). Received messages are kept whole
and split on demand: ``msg.field(i)`` is the i-th SOH field, ``msg.items(i)`` its ETX elements, each as
its STX members.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

SOH, STX, ETX, EOT = b"\x01", b"\x02", b"\x03", b"\x04"
Field = str | int | bytes


def encode(code: int, fields: list[Field], ext: dict[str, str] | None = None) -> bytes:
    """A whole message: the 8-byte header (§2.1) and the fields joined by SOH, then ``key=value``."""
    parts = [f if isinstance(f, bytes) else str(f).encode() for f in fields]
    parts += [f"{k}={v}".encode() for k, v in (ext or {}).items()]
    body = SOH.join(parts)
    return b"%4d%4d" % (len(body), code) + body


def struct(*members: Field) -> bytes:
    return STX.join(m if isinstance(m, bytes) else str(m).encode() for m in members)


@dataclass
class Msg:
    code: int
    body: bytes

    @property
    def fields(self) -> list[bytes]:
        return self.body.split(SOH) if self.body else []

    def field(self, index: int) -> str:
        fields = self.fields
        return fields[index].decode() if index < len(fields) else ""

    def num(self, index: int) -> int:
        return int(self.field(index))

    def items(self, index: int) -> list[list[str]]:
        """The ETX elements of field ``index``, each split into its STX members."""
        fields = self.fields
        if index >= len(fields):
            return []
        return [[m.decode() for m in element.split(STX)] for element in fields[index].split(ETX)]

    def ext(self, key: str) -> str | None:
        for field in self.fields:
            if field.startswith(key.encode() + b"="):
                return field.split(b"=", 1)[1].decode()
        return None


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, inbox: asyncio.Queue[Msg | None]) -> None:
        self.inbox = inbox

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.inbox.put_nowait(Msg(int(data[4:8]), data[8:]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.inbox.put_nowait(None)


_UDP_PORTS_USED: set[int] = set()


class XmmepClient:
    """One peer: a TCP connection, or one UDP socket (its address is the peer, §1.3)."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[Msg | None] = asyncio.Queue()
        self.closed = False
        self.writer: asyncio.StreamWriter | None = None
        self.udp: asyncio.DatagramTransport | None = None
        self.task: asyncio.Future[None] | None = None
        self.user = ""
        self.uid = 0  # known when the test made the account
        self.token = ""

    @classmethod
    async def tcp(cls, host: str, port: int) -> XmmepClient:
        client = cls()
        reader, client.writer = await asyncio.open_connection(host, port)
        client.task = asyncio.ensure_future(client._read(reader))
        return client

    @classmethod
    async def over_udp(cls, host: str, port: int, local: tuple[str, int] = ("127.0.0.1", 0)) -> XmmepClient:
        """A UDP peer on a local port no earlier peer of this process had (unless ``local`` names one).

        The server keeps a UDP peer until it logs out or times out, and the kernel may hand a closed
        socket's ephemeral port to a new one: a new peer on an old peer's address *is* that peer to the
        server (§1.3), and its 112 for another user would be answered 113 16."""
        client = cls()
        loop = asyncio.get_running_loop()
        refused: list[asyncio.DatagramTransport] = []  # held open until then, so not handed out again
        while True:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(client.inbox), local_addr=local, remote_addr=(host, port)
            )
            bound = transport.get_extra_info("sockname")[1]
            if local[1] or bound not in _UDP_PORTS_USED:
                break
            refused.append(transport)
        for other in refused:
            other.close()
        _UDP_PORTS_USED.add(bound)
        client.udp = transport
        return client

    @property
    def local(self) -> tuple[str, int]:
        sock = self.udp if self.udp is not None else self.writer
        assert sock is not None
        host, port = sock.get_extra_info("sockname")[:2]
        return host, port

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(8)
                body = await reader.readexactly(int(header[:4]))
                self.inbox.put_nowait(Msg(int(header[4:]), body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed = True
            self.inbox.put_nowait(None)

    # -- out ------------------------------------------------------------------------------------------
    def raw(self, data: bytes) -> None:
        if self.udp is not None:
            self.udp.sendto(data)
        else:
            assert self.writer is not None
            self.writer.write(data)

    def send(self, code: int, *fields: Field, ext: dict[str, str] | None = None) -> None:
        if self.token and code != 112:
            ext = {**(ext or {}), "tok": self.token}
        self.raw(encode(code, list(fields), ext))

    # -- in -------------------------------------------------------------------------------------------
    async def recv(self, timeout: float = 5) -> Msg:
        msg = await asyncio.wait_for(self.inbox.get(), timeout)
        if msg is None:
            raise ConnectionError("closed")
        return msg

    async def expect(self, code: int, timeout: float = 5) -> Msg:
        msg = await self.recv(timeout)
        assert msg.code == code, (msg.code, msg.body)
        return msg

    async def until(self, code: int, timeout: float = 5) -> list[Msg]:
        """Every message up to and including the first ``code``."""
        out: list[Msg] = []
        while not out or out[-1].code != code:
            out.append(await self.recv(timeout))
        return out

    async def poll(self, timeout: float = 0.3) -> Msg | None:
        try:
            return await self.recv(timeout)
        except (TimeoutError, ConnectionError):
            return None

    async def login(self, user: str, password: str = "pw", status: int = 0, ext: str = "") -> list[Msg]:
        """112, then the sequence up to 127 (or the failed 113 alone); sets ``token`` when one came."""
        self.send(112, user, password, status, ext={"ext": ext} if ext else None)
        first = await self.expect(113)
        if first.num(0) != 0:
            return [first]
        self.user = user
        self.token = first.ext("tok") or ""
        return [first, *await self.until(127)]

    async def ready(self, user: str = "") -> None:
        self.send(128, user or self.user)

    async def close(self) -> None:
        if self.udp is not None:
            self.udp.close()
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        if self.task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
        return self.closed
