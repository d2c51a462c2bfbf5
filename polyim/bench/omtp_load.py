"""A lean OMTP load client (omtp.md §2, §5): pre-encoded frames, and only the header parsed on input.

The frames it writes are the ones :func:`polyim.protocols.omtp.codec.encode_pack` would write (the tests
hold them to it), assembled from constant pieces plus the packId and content of each message. Input is
split on the 4-byte length and read through the header layout every known server writes (type and
version as INT1, flags ZERO or INT1, packId STRING1, payload SIMPLE_LIST); any other layout goes through
the project's codec.

In echo mode (the ``baseline`` scenario) the peer returns each frame unchanged: the echo of LOGIN is the
login, and the echo of a message counts as both its ack and its delivery.
"""

from __future__ import annotations

import asyncio
import struct

from polyim.bench.load import LoadSession, RunState, SessionSpec
from polyim.protocols.omtp import codec as c
from polyim.protocols.omtp.tars import T_INT8, Buf, int_field, string_prefix

_U32 = struct.Struct(">I")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_OK_ERROR = b"\x0a\x0c\x16\x00\x0b"  # errorCode {0, ""} at tag 0, as every success ack starts
_CHAT_TYPES = (c.PackType.MSG_SINGLE_CHAT, c.PackType.MSG_GROUP_CHAT)
_PING_ID = b"p"


def frame(pack_type: int, flags: int, pack_id: bytes, payload: bytes) -> bytes:
    """One whole frame (version 1), through the project's own encoder."""
    header = c.Header(type=pack_type, version=1, flags=flags, pack_id=pack_id.decode())
    return c.encode_pack(c.Pack(header=header, payload=payload))


def login_frame(spec: SessionSpec) -> bytes:
    req = c.LoginReq(
        client_id=str(spec.uid) if spec.uid else "",
        user_name=spec.username,
        password=spec.secret,
        device_type=spec.device_type,
        device_id=spec.device_id,
        version="polyim-bench",
    )
    return frame(c.PackType.LOGIN, 0, b"login", req.encode())


def receipt_frame(pack_type: int, pack_id: bytes, session_id: bytes, seq: int) -> bytes:
    """The client's MsgAck for a pushed message (ACK flag), which moves its delivered cursor (§5.1).

    Every receiver of a group message writes the same bytes, so the load encodes each one once: the
    group scenario measures the server, and the load's own encoding had made it the slower side."""
    key = (pack_type, pack_id, session_id, seq)
    hit = _receipts.get(key)
    if hit is None:
        payload = b"".join(
            (_OK_ERROR, string_prefix(1, len(session_id)), session_id, int_field(2, seq, T_INT8), b"\x3c")
        )
        if len(_receipts) >= _RECEIPTS_MAX:
            _receipts.clear()
        hit = _receipts[key] = frame(pack_type, c.FLAG_ACK, pack_id, payload)
    return hit


_receipts: dict[tuple[int, bytes, bytes, int], bytes] = {}
_RECEIPTS_MAX = 4096


def single_session_id(a: int, b: int) -> str:
    """Canonical single-chat sessionId: the byte-wise smaller decimal uid first (omtp.md §5.3.1)."""
    lo, hi = sorted((str(a), str(b)))
    return f"LP_G1_{lo}_{hi}"


class MessageTemplate:
    """MsgReq frames of one sender to one target, with only packId and content changing."""

    __slots__ = ("msg_type", "payload_head", "size")

    def __init__(self, spec: SessionSpec, size: int) -> None:
        if spec.msg_type == c.PackType.MSG_GROUP_CHAT:
            session_id = spec.to
        else:
            session_id = single_session_id(spec.uid, int(spec.to or 0))
        req = c.MsgReq(session_id=session_id, from_=str(spec.uid), to=spec.to, content_type=1)
        self.payload_head = req.encode()  # content (tag 7) is empty, so it is the last thing written
        self.msg_type = spec.msg_type
        self.size = size

    def frame(self, tag: str) -> bytes:
        pack_id = tag.encode()
        content = pack_id + b" " + b"x" * max(0, self.size - len(pack_id) - 1)
        payload = b"".join((self.payload_head, string_prefix(7, len(content)), content))
        return frame(self.msg_type, 0, pack_id, payload)


def parse_head(src: Buf, pos: int, end: int) -> tuple[int, int, int, int, int] | None:
    """(type, flags, packId start, packId end, payload start) of the OTIMPack in ``src[pos:end]``,
    or None when it is not in the common layout."""
    if end - pos < 11 or src[pos] != 0x0A or src[pos + 1] != 0x00:
        return None
    pack_type = src[pos + 2]
    p = pos + 3
    head = src[p]
    if head == 0x10:
        p += 2
    elif head == 0x1C:
        p += 1
    else:
        return None
    head = src[p]
    if head == 0x2C:
        flags = 0
        p += 1
    elif head == 0x20:
        flags = src[p + 1]
        p += 2
    else:
        return None
    if src[p] != 0x36:
        return None
    a = p + 2
    b = a + src[p + 1]
    if b + 4 > end or src[b] != 0x0B or src[b + 1] != 0x1D or src[b + 2] != 0x00:
        return None
    return _payload_start(src, pack_type, flags, a, b, end)


def _payload_start(
    src: Buf, pack_type: int, flags: int, a: int, b: int, end: int
) -> tuple[int, int, int, int, int] | None:
    head = src[b + 3]
    q = b + 4
    if head == 0x0C:
        n = 0
    elif head == 0x00:
        n = src[q]
        q += 1
    elif head == 0x01:
        n = _I16.unpack_from(src, q)[0]
        q += 2
    elif head == 0x02:
        n = _I32.unpack_from(src, q)[0]
        q += 4
    else:
        return None
    if q + n != end:
        return None
    return pack_type, flags, a, b, q


def read_session_seq(src: Buf, q: int, end: int) -> tuple[bytes, int] | None:
    """sessionId and seqId at the start of a pushed MsgReq (tags 0 and 1), if in the usual layout."""
    if q + 2 > end or src[q] != 0x06:
        return None
    s = q + 2
    e = s + src[q + 1]
    if e >= end:
        return None
    head = src[e]
    if head == 0x1C:
        return bytes(src[s:e]), 0
    width = {0x10: 1, 0x11: 2, 0x12: 4, 0x13: 8}.get(head)
    if width is None or e + 1 + width > end:
        return None
    return bytes(src[s:e]), int.from_bytes(src[e + 1 : e + 1 + width], "big", signed=True)


class OmtpSession(LoadSession):
    """One OMTP connection of the load."""

    def __init__(self, spec: SessionSpec, state: RunState, echo: bool = False) -> None:
        super().__init__(spec, state)
        self.echo = echo
        self._buf = bytearray()
        self._template: MessageTemplate | None = None
        self._ping = frame(c.PackType.PING, 0, _PING_ID, b"")

    def reset_stream(self) -> None:
        self._buf.clear()

    def port(self) -> int:
        return self.state.plan.ports["echo" if self.echo else "omtp"]

    def login_frame(self) -> bytes:
        return login_frame(self.spec)

    def message_frame(self, n: int, tag: str) -> bytes:
        template = self._template
        if template is None:
            template = self._template = MessageTemplate(self.spec, self.state.plan.msg_size)
        return template.frame(tag)

    def ping_frame(self) -> bytes:
        return self._ping

    # -- input ----------------------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        keepalives, frames = self.keepalives, 0
        buf = self._buf
        src: Buf = data
        if buf:
            buf += data
            src = buf
        pos = 0
        end = len(src)
        while end - pos >= 4:
            stop = pos + _U32.unpack_from(src, pos)[0]
            if stop > end:
                break
            if stop < pos + 4:
                self.report.error("bad frame length")
                self.drop()
                return
            self._frame(src, pos + 4, stop)
            pos = stop
            frames += 1
        if src is buf:
            del buf[:pos]
        elif pos < end:
            buf += memoryview(data)[pos:]
        self.heard(frames, keepalives)

    def _frame(self, src: Buf, pos: int, end: int) -> None:
        head = parse_head(src, pos, end)
        if head is None:
            self._slow_frame(bytes(src[pos:end]))
            return
        pack_type, flags, a, b, q = head
        self._dispatch(pack_type, flags, bytes(src[a:b]), src, q, end)

    def _slow_frame(self, body: bytes) -> None:
        try:
            pack = c.Pack.decode(body)
        except c.OmtpDecodeError:
            self.report.error("undecodable frame")
            return
        h = pack.header
        self._dispatch(h.type, h.flags, h.pack_id.encode(), pack.payload, 0, len(pack.payload))

    def _dispatch(self, pack_type: int, flags: int, pack_id: bytes, src: Buf, q: int, end: int) -> None:
        if self.echo:
            self._echoed(pack_type, pack_id)
        elif pack_type in _CHAT_TYPES:
            if flags & c.FLAG_ACK:
                self._acked(pack_id, src, q, end)
            else:
                self._pushed(pack_type, pack_id, src, q, end)
        elif pack_type == c.PackType.PING:
            self.pong()
        elif pack_type == c.PackType.LOGIN:
            self._login_ack(bytes(src[q:end]))
        elif pack_type == c.PackType.KICKOUT:
            self.kicked()

    def _echoed(self, pack_type: int, pack_id: bytes) -> None:
        if pack_type == c.PackType.LOGIN:
            self.login_result(0)
        elif pack_type == c.PackType.PING:
            self.pong()
        elif pack_type in _CHAT_TYPES:  # a fan-out echo also brings the other senders' frames
            tag = pack_id.decode()
            parts = tag.split(".")
            if len(parts) == 4 and parts[1] == str(self.spec.index):
                self.acked(int(parts[2]), 0)
            self.delivered(tag)

    def _login_ack(self, payload: bytes) -> None:
        try:
            resp = c.LoginResp.decode(payload)
        except c.OmtpDecodeError:
            self.login_result(-3)
            return
        uid = int(resp.client_id) if resp.client_id.isdigit() else 0
        self.login_result(resp.error_code.code, uid)

    def _acked(self, pack_id: bytes, src: Buf, q: int, end: int) -> None:
        parts = pack_id.split(b".")
        if len(parts) != 4 or parts[0] != self.state.plan.run_id.encode():
            self.report.counters.foreign += 1
            return
        code = 0
        if src[q : q + 5] != _OK_ERROR:
            try:
                code = c.MsgAck.decode(bytes(src[q:end])).error_code.code
            except c.OmtpDecodeError:
                code = -3
        self.acked(int(parts[2]), code)

    def _pushed(self, pack_type: int, pack_id: bytes, src: Buf, q: int, end: int) -> None:
        if self.state.plan.receipts:
            found = read_session_seq(src, q, end)
            if found is not None and found[1] > 0:
                self.write(receipt_frame(pack_type, pack_id, found[0], found[1]))
        if pack_id.count(b".") == 3:
            self.delivered(pack_id.decode())
            return
        try:  # sent from another protocol: the packId is the server's, the tag leads the content
            content = c.MsgReq.decode(bytes(src[q:end])).content
        except c.OmtpDecodeError:
            self.report.counters.foreign += 1
            return
        self.delivered(content.split(" ", 1)[0])


async def _reply(reader: asyncio.StreamReader, decoder: c.Decoder, pack_id: str, timeout: float) -> c.Pack:
    """The response (ACK set) with ``pack_id``; pushes in between are skipped."""
    async with asyncio.timeout(timeout):
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("server closed the connection")
            for pack in decoder.feed(data):
                if pack.header.flags & c.FLAG_ACK and pack.header.pack_id == pack_id:
                    return pack


async def create_group(host: str, port: int, creator: SessionSpec, members: list[int], name: str) -> int:
    """Log ``creator`` in over OMTP and create a group of it and ``members`` (41); returns the gid."""
    reader, writer = await asyncio.open_connection(host, port)
    decoder = c.Decoder()
    try:
        writer.write(login_frame(creator))
        login = c.LoginResp.decode((await _reply(reader, decoder, "login", 30.0)).payload)
        if login.error_code.code:
            raise RuntimeError(f"group creator cannot log in: {login.error_code}")
        info = c.GroupChatInfo(
            group_id="", name=name, creator_id=str(creator.uid), member_limit=len(members) + 1
        )
        req = c.GroupChatCreateReq(group_info=info, member_ids=tuple(str(u) for u in members))
        writer.write(frame(c.PackType.GROUPCHAT_CREATE, 0, b"mkgroup", req.encode()))
        resp = c.GroupChatCreateResp.decode((await _reply(reader, decoder, "mkgroup", 60.0)).payload)
        if resp.error_code.code:
            raise RuntimeError(f"group creation refused: {resp.error_code}")
        return int(resp.group_id.removeprefix("GC_"))
    finally:
        writer.close()
