"""A small TeamTalk test client written from teamtalk.md alone (it imports nothing of polyim): the
12-byte header with a request counter in ``reserved``, bodies built and read field by field with its
own helpers, and every received frame kept in order so a test can wait for the one it expects."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HEADER = struct.Struct(">IHHHH")
PC, MAC, IOS, ANDROID = 0x01, 0x02, 0x11, 0x12


def md5hex(password: str) -> str:
    return hashlib.md5(password.encode()).hexdigest()


class Body:
    """A body built field by field: ``Body().u32(1).s("10000").done()``."""

    def __init__(self) -> None:
        self.out = bytearray()

    def u8(self, v: int) -> Body:
        self.out += struct.pack(">B", v)
        return self

    def u16(self, v: int) -> Body:
        self.out += struct.pack(">H", v)
        return self

    def u32(self, v: int) -> Body:
        self.out += struct.pack(">I", v)
        return self

    def b(self, v: bytes) -> Body:
        self.out += struct.pack(">I", len(v)) + v
        return self

    def s(self, v: str) -> Body:
        return self.b(v.encode())

    def ids(self, values: list[str]) -> Body:
        self.u32(len(values))
        for v in values:
            self.s(v)
        return self

    def done(self) -> bytes:
        return bytes(self.out)


class Fields:
    """A received body read field by field."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        assert len(out) == n, "body too short"
        self.pos += n
        return out

    def u8(self) -> int:
        return self._take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self._take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self._take(4))[0])

    def b(self) -> bytes:
        return self._take(self.u32())

    def s(self) -> str:
        return self.b().decode()

    def ids(self) -> list[str]:
        return [self.s() for _ in range(self.u32())]

    def pairs(self) -> list[tuple[str, int]]:
        return [(self.s(), self.u32()) for _ in range(self.u32())]

    @property
    def rest(self) -> int:
        return len(self.data) - self.pos


@dataclass
class Frame:
    module: int
    command: int
    version: int
    reserved: int
    body: bytes

    @property
    def key(self) -> tuple[int, int]:
        return (self.module, self.command)

    def fields(self) -> Fields:
        return Fields(self.body)


def frame(module: int, command: int, reserved: int, body: bytes = b"") -> bytes:
    return HEADER.pack(12 + len(body), module, command, 1, reserved) + body


@dataclass
class Message:
    """A 3/1 as received."""

    seq_no: int
    from_id: str
    to_id: str
    create_time: int
    msg_type: int
    data: bytes
    attach: bytes
    reserved: int

    @property
    def text(self) -> str:
        return self.data.decode()


def parse_msg(f: Frame) -> Message:
    r = f.fields()
    return Message(r.u32(), r.s(), r.s(), r.u32(), r.u8(), r.b(), r.b(), f.reserved)


class TeamTalkClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.counter = itertools.count(1)
        self.frames: list[Frame] = []
        self.arrived = asyncio.Event()
        self.closed = False
        self.uid = ""
        self.token = ""
        self.nickname = ""
        self.depart = ""
        self.client_type = PC
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, host: str, port: int) -> TeamTalkClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _read(self) -> None:
        buf = b""
        try:
            while data := await self.reader.read(65536):
                buf += data
                while len(buf) >= 12:
                    length, module, command, version, reserved = HEADER.unpack_from(buf)
                    if len(buf) < length:
                        break
                    self.frames.append(Frame(module, command, version, reserved, buf[12:length]))
                    buf = buf[length:]
                    self.arrived.set()
        except ConnectionError:
            pass
        finally:
            self.closed = True
            self.arrived.set()

    # -- writing -------------------------------------------------------------------------------------
    def send(self, module: int, command: int, body: bytes = b"", reserved: int | None = None) -> int:
        """Write a frame; returns the reserved value it carried (the request counter by default)."""
        rsv = next(self.counter) & 0xFFFF if reserved is None else reserved
        self.writer.write(frame(module, command, rsv, body))
        return rsv

    def raw(self, data: bytes) -> None:
        self.writer.write(data)

    # -- reading -------------------------------------------------------------------------------------
    async def wait_for(
        self, key: tuple[int, int], match: Callable[[Frame], bool] = lambda f: True, timeout: float = 5
    ) -> Frame:
        """The first received frame with ``key`` that ``match`` accepts (removed from the list)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, f in enumerate(self.frames):
                if f.key == key and match(f):
                    del self.frames[i]
                    return f
            if self.closed:
                raise ConnectionError(f"closed while waiting for {key}")
            self.arrived.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {key} within {timeout}s; have {[x.key for x in self.frames]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    async def request(self, module: int, command: int, body: bytes, reply: tuple[int, int]) -> Frame:
        """A request and its direct reply, paired by the echoed reserved (§2.2)."""
        rsv = self.send(module, command, body)
        return await self.wait_for(reply, lambda f: f.reserved == rsv)

    async def heartbeat(self) -> Frame:
        return await self.request(7, 1, b"", (7, 1))

    async def none_of(self, key: tuple[int, int], wait: float = 0.3) -> None:
        """No frame with ``key`` arrives within ``wait`` seconds (a heartbeat round trip first)."""
        if not self.closed:
            with contextlib.suppress(TimeoutError, ConnectionError):
                await asyncio.wait_for(self.heartbeat(), wait + 2)
        await asyncio.sleep(wait)
        assert not [f for f in self.frames if f.key == key], f"unexpected {key}"

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.closed

    # -- the login flow ------------------------------------------------------------------------------
    async def login(
        self, user: str, password: str = "pw", *, client_type: int = PC, status: int = 1, plain: bool = False
    ) -> tuple[int, Fields]:
        """1/3 → 1/4: (result, the rest of the body after server_time and result)."""
        self.client_type = client_type
        secret = password if plain else md5hex(password)
        body = Body().s(user).s(secret).u32(status).u32(client_type).s("2.0").done()
        f = await self.request(1, 3, body, (1, 4))
        r = f.fields()
        r.u32()
        result = r.u32()
        if result == 0:
            _status, self.uid, self.nickname = r.u32(), r.s(), r.s()
            _avatar, _title, _position, _role, _sex, self.depart = (
                r.s(),
                r.s(),
                r.s(),
                r.u32(),
                r.u32(),
                r.s(),
            )
            _job, _tel, _email, self.token = r.u32(), r.s(), r.s(), r.s()
        return result, r

    def send_text(self, to: str, text: str, *, seq_no: int, group: bool = False, sender: str = "") -> int:
        body = (
            Body()
            .u32(seq_no)
            .s(sender or self.uid)
            .s(to)
            .u32(1700000000)
            .u8(0x11 if group else 0x01)
            .b(text.encode())
            .b(b"")
            .done()
        )
        return self.send(3, 1, body)

    async def say(self, to: str, text: str, *, seq_no: int, group: bool = False) -> Frame:
        """A 3/1 and its 3/2 ack (paired by reserved)."""
        rsv = self.send_text(to, text, seq_no=seq_no, group=group)
        return await self.wait_for((3, 2), lambda f: f.reserved == rsv)

    async def message(self, match: Callable[[Message], bool] = lambda m: True, timeout: float = 5) -> Message:
        f = await self.wait_for((3, 1), lambda f: match(parse_msg(f)), timeout)
        return parse_msg(f)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


async def msg_server(host: str, login_port: int) -> tuple[str, int]:
    """1/1 → 1/2 on the login server: the message server's address (ip1, port)."""
    client = await TeamTalkClient.connect(host, login_port)
    try:
        f = await client.request(1, 1, b"", (1, 2))
        r = f.fields()
        assert r.u32() == 0
        ip1, _ip2, port = r.s(), r.s(), r.u16()
        assert await client.wait_closed()
        return ip1, port
    finally:
        await client.close()


def parse(f: Frame, *shape: str) -> list[Any]:
    """Read the fields of ``f`` by type letters: u8 u16 u32 s b ids pairs."""
    r = f.fields()
    return [getattr(r, kind)() for kind in shape]


# -- file transfer (§3.6, §4.8, §4.9) ------------------------------------------------------------------------
@dataclass
class FileOffer:
    """A 6/11 (the sender's) or 6/12 (the recipient's) as received."""

    result: int
    task_id: str
    port: int
    mode: int
    ready: int = 0


async def offer_file(client: TeamTalkClient, to: str, name: str, size: int, mode: int) -> FileOffer:
    """6/10 → 6/11."""
    body = Body().s(client.uid).s(to).s(name).u32(size).u32(mode).done()
    r = (await client.request(6, 10, body, (6, 11))).fields()
    result, _from, _to, _name, task = r.u32(), r.s(), r.s(), r.s(), r.s()
    addrs = [(r.s(), r.u16()) for _ in range(r.u32())]
    return FileOffer(result, task, addrs[0][1] if addrs else 0, r.u32())


async def file_notice(client: TeamTalkClient, ready: int = 0) -> FileOffer:
    """The next 6/12 with ``offline_ready`` = ``ready``."""

    def is_ready(f: Frame) -> bool:
        r = f.fields()
        r.s(), r.s(), r.s(), r.u32(), r.s()
        for _ in range(r.u32()):
            r.s(), r.u16()
        r.u32()
        return r.u32() == ready

    f = await client.wait_for((6, 12), is_ready)
    r = f.fields()
    _from, _to, _name, _size, task = r.s(), r.s(), r.s(), r.u32(), r.s()
    addrs = [(r.s(), r.u16()) for _ in range(r.u32())]
    return FileOffer(0, task, addrs[0][1], r.u32(), r.u32())


async def file_login(
    port: int, user: str, task: str, mode: int, token: str = ""
) -> tuple[TeamTalkClient, int]:
    """A file-server connection and its 6/1 → 6/2 result (the Windows form: token ``""``)."""
    client = await TeamTalkClient.connect("127.0.0.1", port)
    client.uid = user
    f = await client.request(6, 1, Body().s(user).s(token).s(task).u32(mode).done(), (6, 2))
    r = f.fields()
    result = r.u32()
    assert r.s() == task
    return client, result


def pull(client: TeamTalkClient, task: str, mode: int, offset: int, size: int) -> int:
    """6/4."""
    return client.send(6, 4, Body().s(task).s(client.uid).u32(mode).u32(offset).u32(size).done())


def data(client: TeamTalkClient, task: str, offset: int, chunk: bytes, reserved: int | None = None) -> None:
    """6/5 from the file's sender (its own uid)."""
    client.send(6, 5, Body().u32(0).s(task).s(client.uid).u32(offset).b(chunk).done(), reserved)


def pulled(f: Frame) -> tuple[str, str, int, int, int]:
    """A 6/4: task, user, mode, offset, size."""
    r = f.fields()
    return r.s(), r.s(), r.u32(), r.u32(), r.u32()


def chunk_of(f: Frame) -> tuple[int, str, str, int, bytes]:
    """A 6/5: result, task, user, offset, data."""
    r = f.fields()
    return r.u32(), r.s(), r.s(), r.u32(), r.b()
