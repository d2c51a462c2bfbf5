"""A small imlc test client: the schema's generated module and the codec's framing, nothing of the
server's adapter. Replies are paired by ``seq`` (imlc.md §2.3); notifies (flow 2) queue up."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message  # type: ignore[import-untyped,unused-ignore]

from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb

Command = c.Command
Status = c.Status


@dataclass
class Reply:
    """A reply frame with its body parsed (``Error`` when the status is not 0, None when empty)."""

    frame: c.Frame
    body: Any

    @property
    def status(self) -> int:
        return self.frame.status


class ImlcClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = c.Decoder()
        self.seqs = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Reply]] = {}
        self.notifies: asyncio.Queue[tuple[c.Frame, Any]] = asyncio.Queue()
        self.closed = False
        self.reply_order: list[int] = []  # the seqs of the replies, as they arrived
        self.uid = ""
        self.token = ""
        self._task = asyncio.ensure_future(self._read())

    @classmethod
    async def connect(cls, host: str, port: int) -> ImlcClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                for frame in self.decoder.feed(data):
                    self._dispatch(frame)
        except (ConnectionError, c.ImlcDecodeError):
            pass
        finally:
            self.closed = True
            for fut in self.waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("closed"))

    def _dispatch(self, frame: c.Frame) -> None:
        body = _parse(frame)
        if frame.flow == c.Flow.REPLY:
            self.reply_order.append(frame.seq)
            fut = self.waiting.pop(frame.seq, None)
            if fut is not None and not fut.done():
                fut.set_result(Reply(frame, body))
        else:
            self.notifies.put_nowait((frame, body))

    # -- requests -----------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def request(self, command: int, body: Message | None = None, timeout: float = 5) -> Reply:
        return await self.request_raw(
            command, body.SerializeToString() if body is not None else b"", timeout=timeout
        )

    def expect_reply(self, seq: int) -> asyncio.Future[Reply]:
        """The reply to a request written by hand with ``seq``."""
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.waiting[seq] = fut
        return fut

    async def request_raw(self, command: int, raw: bytes, flag: int = 0, timeout: float = 5) -> Reply:
        """A request with any body bytes and connect flag (a hand-made header, for the error paths)."""
        seq = next(self.seqs)
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.waiting[seq] = fut
        self.write(c.HEADER.pack(len(raw), c.VERSION, seq, command, flag, 0) + raw)
        return await asyncio.wait_for(fut, timeout)

    async def login(
        self,
        *,
        username: str = "",
        uid: str = "",
        password: str = "",
        token: str = "",
        device_id: str = "dev-1",
        device_class: int = pb.DEVICE_CLASS_MOBILE,
    ) -> Reply:
        req = pb.LoginRequest(device_id=device_id, device_class=device_class, client_version="test/1")
        if username:
            req.username = username
        if uid:
            req.uid = uid
        if password:
            req.password = password
        if token:
            req.token = token
        reply = await self.request(Command.LOGIN, req)
        if reply.status == 0:
            self.uid, self.token = reply.body.uid, reply.body.token
        return reply

    async def ping(self) -> Reply:
        return await self.request(Command.PING)

    async def send(
        self, target: str, text: str, message_id: int, conv_type: int = pb.CONVERSATION_TYPE_SINGLE
    ) -> Reply:
        content = pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TEXT, searchable_content=text)
        conv = pb.Conversation(type=conv_type, target=target)
        return await self.request(
            Command.MS, pb.Message(message_id=message_id, message_content=content, conversation=conv)
        )

    async def pull(
        self,
        target: str,
        anchor: int = 0,
        direction: int = 0,
        limit: int = 0,
        conv_type: int = pb.CONVERSATION_TYPE_SINGLE,
    ) -> Reply:
        conv = pb.Conversation(type=conv_type, target=target)
        req = pb.PullRequest(conversation=conv, anchor_seq=anchor, direction=direction, limit=limit)
        return await self.request(Command.MP, req)

    async def logout(self) -> None:
        self.write(c.encode_frame(Command.LOGOUT, next(self.seqs), c.Flow.REQUEST))

    # -- notifies -----------------------------------------------------------------------------------
    async def expect(self, command: int, timeout: float = 5) -> Any:
        """The next notify, which must be ``command``; its body."""
        frame, body = await asyncio.wait_for(self.notifies.get(), timeout)
        assert frame.command == command, (frame, body)
        assert frame.seq == 0 and frame.flow == c.Flow.NOTIFY
        return body

    async def expect_any(self, timeout: float = 5) -> tuple[c.Frame, Any]:
        """The next notify, whatever its command."""
        frame, body = await asyncio.wait_for(self.notifies.get(), timeout)
        assert frame.seq == 0 and frame.flow == c.Flow.NOTIFY
        return frame, body

    async def poll(self, timeout: float = 0.05) -> tuple[c.Frame, Any] | None:
        try:
            return await asyncio.wait_for(self.notifies.get(), timeout)
        except TimeoutError:
            return None

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        return self.closed

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


def _parse(frame: c.Frame) -> Any:
    if not frame.body:
        return None
    return c.decode_body(frame.command, frame.body, frame.flow, frame.status)
