"""imlc wire codec: the 12-byte header, the connect flag and protobuf bodies (imlc.md §2–§4).

Sans-I/O: bytes in, :class:`Frame` objects out, and back; no socket, loop or clock lives here, so the
server, test clients and ``polyim bench`` share it.

The checks of §2.5 happen in the page's order, split by who can act on them:

* :class:`Decoder` frames the stream and applies the checks that end it (reserved flag bits, ``len``
  over the limit, a version other than 1): after those the stream position cannot be trusted.
* :func:`check_request` applies the per-frame header checks of a client frame (flow, encryption,
  compression, command), which are answered and leave the connection open.
* :func:`inflate` and :func:`decode_body` turn the body into its protobuf message.

Everything a peer can get wrong surfaces as :class:`ImlcDecodeError`, whose ``kind`` says which
reaction §2.5 calls for and whose ``status``, ``seq`` and ``command`` are the reply to write.
"""

from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass
from typing import Final

# Without types-protobuf installed these are untyped; with it, the ignore is unused — allow both.
from google.protobuf.message import Message  # type: ignore[import-untyped,unused-ignore]
from librt.strings import BytesWriter

from polyim.protocols import protowire as pw
from polyim.protocols.base import ProtocolError, joined, u32_at
from polyim.protocols.imlc import imlc_pb2 as pb

__all__ = [
    "CLIENT_COMMANDS",
    "DEFAULT_MAX_BODY",
    "HEADER",
    "HEADER_SIZE",
    "NOTIFY_TYPES",
    "REPLY_TYPES",
    "REQUEST_TYPES",
    "VERSION",
    "Command",
    "Compression",
    "Decoder",
    "ErrorKind",
    "Flow",
    "Frame",
    "ImlcDecodeError",
    "Status",
    "body_type",
    "check_request",
    "decode_body",
    "encode_body",
    "encode_frame",
    "inflate",
]

# --------------------------------------------------------------------------------------------------
# Header layout and limits (§2.1, §2.2, §2.4)

#: len, version, seq, command, flag, status; big-endian, unaligned (seq starts at offset 5).
HEADER: Final = struct.Struct(">IBIBBB")
HEADER_SIZE: Final = 12
assert HEADER.size == HEADER_SIZE

#: The only protocol version polyim speaks and sends (§9 decision 3).
VERSION: Final = 1

#: ``[imlc] max_body_bytes``: largest ``len``, and largest inflated gzip body (§2.4).
DEFAULT_MAX_BODY: Final = 1_048_576

_U32_MAX: Final = 0xFFFFFFFF
_RESERVED_MASK: Final = 0xC0
#: ``wbits`` for zlib that accepts gzip (RFC 1952) members only, not raw deflate or zlib streams.
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class Command(enum.IntEnum):
    """Header byte 9 (§3); the same numbers as the schema's ``Command`` enum, without its prefix."""

    RESERVED = 0
    LOGIN = 1
    LOGOUT = 2
    PING = 3
    MS = 4
    MP = 5
    MN = 6
    MR = 7
    MPS = 8
    READ = 9
    SYNC = 10
    ROOM = 11


class Status(enum.IntEnum):
    """Header byte 11 of a reply (§7); the same numbers as the schema's ``Status`` enum."""

    OK = 0
    BAD_REQUEST = 1
    UNSUPPORTED_VERSION = 2
    UNSUPPORTED_COMMAND = 3
    UNSUPPORTED_FLAG = 4
    FRAME_TOO_LARGE = 5
    NOT_LOGGED_IN = 6
    AUTH_FAILED = 7
    ACCOUNT_DISABLED = 8
    THROTTLED = 9
    IDENTITY_MISMATCH = 10
    MESSAGE_TOO_LARGE = 11
    NOT_FOUND = 12
    FORBIDDEN = 13
    NOT_MEMBER = 14
    BLOCKED = 15
    MUTED = 16
    ROOM_FULL = 17
    RECALL_DENIED = 18
    SERVER_BUSY = 254
    INTERNAL_ERROR = 255


class Flow(enum.IntEnum):
    """Connect flag bits 1–0 (§2.2)."""

    REQUEST = 0
    REPLY = 1
    NOTIFY = 2


class Compression(enum.IntEnum):
    """Connect flag bits 5–4 (§2.2); 2 and 3 are reserved."""

    NONE = 0
    GZIP = 1


#: What a client may send (§3): MN and MPS are server-only, RESERVED is never valid.
CLIENT_COMMANDS: Final = frozenset(
    {
        Command.LOGIN,
        Command.LOGOUT,
        Command.PING,
        Command.MS,
        Command.MP,
        Command.MR,
        Command.READ,
        Command.SYNC,
        Command.ROOM,
    }
)

# --------------------------------------------------------------------------------------------------
# Errors (§2.5)


class ErrorKind(enum.Enum):
    """Which reaction of §2.5 an :class:`ImlcDecodeError` calls for."""

    #: Close at once without writing a frame (reserved flag bits). The decoder is dead.
    CLOSE = "close"
    #: Write the reply with ``status``, ``seq`` and ``command``, then close (FRAME_TOO_LARGE,
    #: UNSUPPORTED_VERSION): the stream cannot be trusted past this frame.
    REPLY_CLOSE = "reply-close"
    #: Write the reply with ``status``, ``seq`` and ``command``; the connection and decoder go on.
    REPLY = "reply"


class ImlcDecodeError(ProtocolError):
    """The peer sent something imlc cannot accept; the attributes are the answer §2.5 prescribes.

    The codec raises nothing else on bad input (struct, zlib and protobuf errors are wrapped), so the
    transport needs one ``except`` to keep a bad frame from affecting anything but its connection.
    """

    kind: ErrorKind
    status: int
    seq: int
    command: int
    frames: tuple[Frame, ...]

    def __init__(
        self,
        reason: str,
        kind: ErrorKind,
        status: int = Status.OK,
        *,
        seq: int = 0,
        command: int = Command.RESERVED,
        frames: tuple[Frame, ...] = (),
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        #: Header status of the reply to write (unused for CLOSE).
        self.status = status
        #: ``seq`` and ``command`` of the offending frame, copied into the reply (§2.3).
        self.seq = seq
        self.command = command
        #: Well-formed frames that preceded a fatal one in the same :meth:`Decoder.feed` call; they
        #: arrived before the bad bytes and may still be served before the close.
        self.frames = frames


# --------------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: header fields and the body as it was on the wire.

    Frozen so that one frame can be shared across a fan-out. ``body`` is still compressed when the
    flag says gzip: :func:`inflate` runs only after :func:`check_request`, as §2.5 orders it. The
    version is not kept: the decoder accepts nothing but :data:`VERSION`.
    """

    #: Command code, a plain int: an unknown code must survive decoding to be answered (§2.5).
    command: int
    #: Request: the client's number; reply: the request's; notify: 0 (§2.3).
    seq: int = 0
    #: The connect flag byte (§2.2), reserved bits already checked to be 0.
    flag: int = 0
    #: Reply result (§7); ignored in client frames.
    status: int = 0
    body: bytes = b""

    def __init__(self, command: int, seq: int = 0, flag: int = 0, status: int = 0, body: bytes = b"") -> None:
        """Written out, not generated: every received frame is built once, and mypyc compiles these
        stores into native ones (about 30 ns) where the generated frozen ``__init__`` runs interpreted."""
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "seq", seq)
        object.__setattr__(self, "flag", flag)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "body", body)

    @property
    def flow(self) -> int:
        """Flag bits 1–0: request, reply, notify (3 undefined)."""
        return self.flag & 0x03

    @property
    def encryption(self) -> int:
        """Flag bits 3–2: the seed's none, AES, RSA, end-to-end RSA; polyim takes only 0 (§9.5)."""
        return (self.flag >> 2) & 0x03

    @property
    def compression(self) -> int:
        """Flag bits 5–4."""
        return (self.flag >> 4) & 0x03


def _flag(flow: int, compression: int) -> int:
    return compression << 4 | flow


def encode_frame(
    command: int,
    seq: int,
    flow: Flow,
    body: bytes = b"",
    status: int = Status.OK,
    *,
    gzip: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
) -> bytes:
    """Header + body as wire bytes, ``len`` taken from the body actually sent.

    ``gzip`` compresses the body (a client may; polyim never does in version 1, §9 decision 5); the
    gzip header carries no time, so the same body always gives the same bytes. An empty body is sent
    without the gzip bit: there is nothing to inflate (§2.2). Raises ``ValueError``
    (our own misuse, not a peer's fault) when a field does not fit or the body, plain or compressed,
    exceeds ``max_body``: the peer holds the same limit and would close the connection.
    """
    n = len(body)
    if n > max_body:
        raise ValueError(f"imlc body of {n} bytes exceeds max_body {max_body}")
    compression = Compression.GZIP if gzip and n else Compression.NONE
    if compression:
        body = _gzip(body)
        n = len(body)
        if n > max_body:
            raise ValueError(f"imlc compressed body of {n} bytes exceeds max_body {max_body}")
    try:
        head = HEADER.pack(n, VERSION, seq, command, _flag(flow, compression), status)
    except struct.error as exc:
        raise ValueError(f"imlc header field out of range: seq {seq}, command {command}") from exc
    return head + body if n else head


def _gzip(body: bytes) -> bytes:
    """RFC 1952 member with mtime 0 (``gzip.compress`` would stamp the clock into it)."""
    packer = zlib.compressobj(wbits=_GZIP_WBITS)
    return packer.compress(body) + packer.flush()


# --------------------------------------------------------------------------------------------------
# Decoding the stream (§2.1, §2.5 rows 1–3)


class Decoder:
    """Frames out of one connection's bytes, for either side of it.

    :meth:`feed` takes any split of the stream and returns the same frames. Frames are cut from the
    read itself when nothing is buffered (the common case: a read holds whole frames); the bytes of an
    incomplete frame wait in a ``bytearray`` with the length they must reach (``_need``), so a body
    trickling in is neither rescanned nor copied more than once. The limit is on the body (``len``), as
    §2.4 states it, not on the whole frame.

    After any :class:`ImlcDecodeError` the decoder is dead and raises again on every call: all its
    errors are the fatal ones of §2.5, after which the connection is closed.
    """

    __slots__ = ("_buf", "_dead", "_max_body", "_need")

    def __init__(self, max_body: int = DEFAULT_MAX_BODY) -> None:
        if not 0 <= max_body <= _U32_MAX:
            raise ValueError(f"max_body must be between 0 and {_U32_MAX}")
        self._max_body = max_body
        self._buf = bytearray()
        #: Buffered bytes needed before the next frame can be cut: a header, or header + body.
        self._need = HEADER_SIZE
        self._dead: ImlcDecodeError | None = None

    @property
    def max_body(self) -> int:
        """Largest accepted ``len``."""
        return self._max_body

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned in a frame (for back-pressure and diagnostics)."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append bytes of the stream and return every frame now complete, in order.

        Raises :class:`ImlcDecodeError` (kind CLOSE or REPLY_CLOSE) as soon as a bad header is in;
        frames completed earlier in the same call ride along on its ``frames``.
        """
        if self._dead is not None:
            raise ImlcDecodeError("imlc decoder is closed after an earlier error", ErrorKind.CLOSE)
        whole = joined(self._buf, data if isinstance(data, bytes) else bytes(data), self._need)
        if whole is None:
            return []
        frames: list[Frame] = []
        pos, end = 0, len(whole)
        max_body = self._max_body
        self._need = HEADER_SIZE
        while end - pos >= HEADER_SIZE:
            # HEADER's fields by indexing (compiled, far cheaper than unpack_from and its tuple)
            length = u32_at(whole, pos)
            version, command, flag = whole[pos + 4], whole[pos + 9], whole[pos + 10]
            seq = u32_at(whole, pos + 5)
            if flag & _RESERVED_MASK or length > max_body or version != VERSION:
                raise self._refuse(length, version, seq, command, flag, frames)
            stop = pos + HEADER_SIZE + length
            if stop > end:
                self._need = stop - pos
                break
            frames.append(Frame(command, seq, flag, whole[pos + 11], whole[pos + HEADER_SIZE : stop]))
            pos = stop
        if pos < end:
            self._buf += memoryview(whole)[pos:]
        return frames

    def _refuse(
        self, length: int, version: int, seq: int, command: int, flag: int, frames: list[Frame]
    ) -> ImlcDecodeError:
        """The error for a header that failed §2.5 rows 1–3, the first failing row in the page's
        order; the decoder dies with it (kept out of :meth:`feed`'s loop, which tests all three in one
        expression)."""
        if flag & _RESERVED_MASK:
            exc = ImlcDecodeError(f"imlc reserved flag bits set (flag 0x{flag:02x})", ErrorKind.CLOSE)
        elif length > self._max_body:
            exc = _reply_close(
                Status.FRAME_TOO_LARGE, f"imlc len {length} exceeds {self._max_body}", seq, command
            )
        else:
            exc = _reply_close(Status.UNSUPPORTED_VERSION, f"imlc version {version}", seq, command)
        exc.frames = tuple(frames)
        self._dead = exc
        self._buf = bytearray()
        return exc


def _reply_close(status: Status, reason: str, seq: int, command: int) -> ImlcDecodeError:
    return ImlcDecodeError(reason, ErrorKind.REPLY_CLOSE, status, seq=seq, command=command)


def _reply(status: Status, reason: str, frame: Frame) -> ImlcDecodeError:
    return ImlcDecodeError(reason, ErrorKind.REPLY, status, seq=frame.seq, command=frame.command)


# --------------------------------------------------------------------------------------------------
# Checks of a client frame (§2.5 rows 4–6)


def check_request(frame: Frame) -> None:
    """Refuse a client frame the server does not take, the body skipped and the connection kept.

    Flow other than request, any encryption, or compression 2–3 → UNSUPPORTED_FLAG; an unknown code,
    RESERVED or a server-only command → UNSUPPORTED_COMMAND (§2.5 rows 4–5, in that order).
    """
    flag = frame.flag
    if flag & 0x0F or flag >> 4 > Compression.GZIP:
        raise _reply(Status.UNSUPPORTED_FLAG, f"imlc flag 0x{flag:02x} not accepted from a client", frame)
    if frame.command not in CLIENT_COMMANDS:
        raise _reply(Status.UNSUPPORTED_COMMAND, f"imlc command {frame.command} not accepted", frame)


def inflate(frame: Frame, max_body: int = DEFAULT_MAX_BODY) -> bytes:
    """The frame's body, gunzipped when the flag says so (§2.2); the same object when it is not.

    The inflated size is bounded by ``max_body`` while inflating, so a small body cannot expand into
    a large allocation (§8.3). A body that does not inflate (also a truncated member, or trailing
    bytes that are no gzip member) → BAD_REQUEST, kept; one that inflates past the bound →
    FRAME_TOO_LARGE, closed. Concatenated members are one body, as RFC 1952 allows.
    """
    body = frame.body
    if not body or frame.compression != Compression.GZIP:
        return body
    out = bytearray()
    rest: bytes = body
    try:
        while rest:
            member = zlib.decompressobj(_GZIP_WBITS)
            out += member.decompress(rest, max_body + 1 - len(out))
            if len(out) > max_body:
                raise _reply_close(
                    Status.FRAME_TOO_LARGE,
                    f"imlc gzip body inflates past {max_body}",
                    frame.seq,
                    frame.command,
                )
            if not member.eof:
                raise _reply(Status.BAD_REQUEST, "imlc gzip body is truncated", frame)
            rest = member.unused_data
    except zlib.error as exc:
        raise _reply(Status.BAD_REQUEST, f"imlc gzip body does not inflate: {exc}", frame) from None
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Bodies (§3, §4)

#: Body of each client request that has one. PING and client LOGOUT are absent: their bodies are
#: ignored (§2.5), so nothing there can be a BAD_REQUEST.
REQUEST_TYPES: Final[dict[int, type[Message]]] = {
    Command.LOGIN: pb.LoginRequest,
    Command.MS: pb.Message,
    Command.MP: pb.PullRequest,
    Command.MR: pb.Recall,
    Command.READ: pb.ReadCursor,
    Command.SYNC: pb.SyncRequest,
    Command.ROOM: pb.Room,
}

#: Body of each successful reply that has one (PING and MR answer with an empty body).
REPLY_TYPES: Final[dict[int, type[Message]]] = {
    Command.LOGIN: pb.LoginReply,
    Command.MS: pb.SendAck,
    Command.MP: pb.PullReply,
    Command.READ: pb.ReadCursor,
    Command.SYNC: pb.SyncReply,
    Command.ROOM: pb.Room,
}

#: Body of each server notify (flow 2).
NOTIFY_TYPES: Final[dict[int, type[Message]]] = {
    Command.LOGOUT: pb.Logout,
    Command.MN: pb.Message,
    Command.MPS: pb.Push,
    Command.READ: pb.ReadCursor,
    Command.ROOM: pb.Room,
}


def body_type(command: int, flow: int = Flow.REQUEST, status: int = Status.OK) -> type[Message] | None:
    """The message a body of ``command`` in ``flow`` carries, None where it has none.

    A reply with a non-zero status carries ``Error`` (or nothing), never the success type (§3).
    """
    if flow == Flow.REQUEST:
        return REQUEST_TYPES.get(command)
    if flow == Flow.REPLY:
        return pb.Error if status else REPLY_TYPES.get(command)
    if flow == Flow.NOTIFY:
        return NOTIFY_TYPES.get(command)
    return None


def decode_body(command: int, body: bytes, flow: int = Flow.REQUEST, status: int = Status.OK) -> Message:
    """Parse a plain (already inflated) body as the message :func:`body_type` names.

    Raises :class:`ImlcDecodeError` BAD_REQUEST, kept, when the command has no body type in that flow
    or the bytes are not a valid encoding (a ``string`` that is not UTF-8 included, §2.4). Unknown
    fields are dropped (§2.5 forward compatibility) so a relayed message carries only the schema's.
    Checks of the values themselves (required fields, ids, enum ranges) are the adapter's (§3.1);
    the reply's ``seq`` is the adapter's too, from the frame it holds.
    """
    cls = body_type(command, flow, status)
    if cls is None:
        raise ImlcDecodeError(
            f"imlc command {command} has no body in flow {flow}",
            ErrorKind.REPLY,
            Status.BAD_REQUEST,
            command=command,
        )
    msg = cls()
    try:
        msg.ParseFromString(body)
    except Exception as exc:  # the runtime's backends raise DecodeError, UnicodeError, ValueError …
        raise ImlcDecodeError(
            f"imlc body of command {command} does not parse: {exc}",
            ErrorKind.REPLY,
            Status.BAD_REQUEST,
            command=command,
        ) from None
    msg.DiscardUnknownFields()
    return msg


def encode_body(msg: Message) -> bytes:
    """Serialise a body; the runtime writes fields in ascending number, as the §6 vectors rely on."""
    data: bytes = msg.SerializeToString()
    return data


# --------------------------------------------------------------------------------------------------
# The hot bodies without the runtime's objects (``polyim/protocols/protowire.py`` says why): MS's Message
# read into a :class:`Sent`, MN's Message and MS's SendAck written from their fields.

_MESSAGE_ID: Final = pw.key(1, pw.VARINT)
_CONTENT: Final = pw.key(2, pw.LEN)
_CONVERSATION: Final = pw.key(3, pw.LEN)
_FROM: Final = pw.key(4, pw.LEN)
_TO: Final = pw.key(5, pw.LEN)
_SERVER_ID: Final = pw.key(6, pw.VARINT)
_SEQ: Final = pw.key(7, pw.VARINT)
_SERVER_TIME: Final = pw.key(8, pw.VARINT)
_STATUS: Final = pw.key(9, pw.VARINT)
_CONTENT_TYPE: Final = pw.key(1, pw.VARINT)
_SEARCHABLE: Final = pw.key(2, pw.LEN)
_PUSH_CONTENT: Final = pw.key(3, pw.LEN)
_DATA: Final = pw.key(4, pw.LEN)
_MENTIONED_TYPE: Final = pw.key(5, pw.VARINT)
_MENTIONED_TARGETS: Final = pw.key(6, pw.LEN)
_MEDIA_TYPE: Final = pw.key(7, pw.VARINT)
_MSG_LENGTH: Final = pw.key(8, pw.VARINT)
_MEDIA_URL: Final = pw.key(9, pw.LEN)
_CONV_TYPE: Final = pw.key(1, pw.VARINT)
_CONV_TARGET: Final = pw.key(2, pw.LEN)
_ACK_SERVER_ID: Final = pw.key(2, pw.VARINT)
_ACK_SEQ: Final = pw.key(3, pw.VARINT)
_ACK_SERVER_TIME: Final = pw.key(4, pw.VARINT)


class Sent:
    """An MS body as the adapter reads it: the Message's fields that matter to a send (the server's own
    fields, ignored in MS, are not kept), and its content's. ``content_size`` is the content's encoded
    size without unknown fields, as the runtime's ``ByteSize`` gives it (§3.1 MS check 3)."""

    message_id: int = 0
    has_content: bool = False
    content_size: int = 0
    content_type: int = 0
    text: str = ""
    push: str = ""
    data: bytes = b""
    mentioned_type: int = 0
    targets: list[str]
    media_type: int = 0
    msg_length: int = 0
    url: str = ""
    has_conversation: bool = False
    conv_type: int = 0
    conv_target: str = ""
    sender: str = ""
    to: str = ""

    def __init__(self) -> None:
        self.targets = []


def decode_send(body: bytes) -> Sent:
    """An MS body: read directly when it has the canonical layout, else parsed by the runtime (which
    raises :class:`ImlcDecodeError` for a body that does not parse, as :func:`decode_body`)."""
    sent = _decode_send_fast(body)
    return sent if sent is not None else sent_of(decode_body(Command.MS, body))


def sent_of(msg: pb.Message) -> Sent:
    """The :class:`Sent` of a Message the runtime parsed."""
    sent = Sent()
    sent.message_id = msg.message_id
    sent.sender = getattr(msg, "from")
    sent.to = msg.to
    if msg.HasField("conversation"):
        conv = msg.conversation
        sent.has_conversation = True
        sent.conv_type = conv.type
        sent.conv_target = conv.target
    if msg.HasField("message_content"):
        content = msg.message_content
        sent.has_content = True
        sent.content_size = content.ByteSize()
        sent.content_type = content.content_type
        sent.text = content.searchable_content
        sent.push = content.push_content
        sent.data = content.data
        sent.mentioned_type = content.mentioned_type
        sent.targets = list(content.mentioned_targets)
        sent.media_type = content.media_type
        sent.msg_length = content.msg_length
        sent.url = content.remote_media_url
    return sent


def _decode_send_fast(buf: bytes) -> Sent | None:
    """The :class:`Sent` of ``buf`` if it is a Message in canonical layout, else None. A field at its
    default is not canonical (the runtime never writes one), so the content's length is its ByteSize."""
    sent = Sent()
    end = len(buf)
    p = last = 0
    try:
        while p < end:
            k = buf[p]
            if k >> 3 <= last:
                return None  # out of order, repeated, or field 0
            last = k >> 3
            if k & 7 == pw.VARINT:
                value, p = pw.varint_at(buf, p + 1)
                if not value or k > _STATUS:
                    return None
                if k == _MESSAGE_ID:
                    sent.message_id = value
                continue  # the server's own fields (6–9) are ignored in MS
            a, p = pw.span_at(buf, p + 1, end)
            if k == _CONTENT:
                _read_content(buf, a, p, sent)
            elif k == _CONVERSATION:
                _read_conversation(buf, a, p, sent)
            elif a == p or (k != _FROM and k != _TO):
                return None
            elif k == _FROM:
                sent.sender = buf[a:p].decode()
            else:
                sent.to = buf[a:p].decode()
    except pw.FAST_MISS:
        return None
    return sent


def _read_content(buf: bytes, p: int, end: int, sent: Sent) -> None:
    """MessageContent in ``buf[p:end]`` into ``sent``; anything but the canonical layout raises."""
    sent.has_content = True
    sent.content_size = end - p
    last = 0
    while p < end:
        k = buf[p]
        number = k >> 3
        if number < last or (number == last and k != _MENTIONED_TARGETS):
            raise pw.NotCanonical
        last = number
        if k & 7 == pw.VARINT:
            value, p = pw.varint_at(buf, p + 1)
            if not value:
                raise pw.NotCanonical
            if k == _CONTENT_TYPE:
                sent.content_type = pw.int32_of(value)
            elif k == _MENTIONED_TYPE:
                sent.mentioned_type = pw.int32_of(value)
            elif k == _MEDIA_TYPE:
                sent.media_type = pw.uint32_of(value)
            elif k == _MSG_LENGTH:
                sent.msg_length = pw.uint32_of(value)
            else:
                raise pw.NotCanonical
            continue
        a, p = pw.span_at(buf, p + 1, end)
        if k == _MENTIONED_TARGETS:
            sent.targets.append(buf[a:p].decode())
        elif a == p:
            raise pw.NotCanonical
        elif k == _SEARCHABLE:
            sent.text = buf[a:p].decode()
        elif k == _PUSH_CONTENT:
            sent.push = buf[a:p].decode()
        elif k == _DATA:
            sent.data = buf[a:p]
        elif k == _MEDIA_URL:
            sent.url = buf[a:p].decode()
        else:
            raise pw.NotCanonical  # local_media_path (dropped: the runtime's ByteSize counts it) or unknown
    if p != end:
        raise pw.NotCanonical  # a varint ran past the content's end


def _read_conversation(buf: bytes, p: int, end: int, sent: Sent) -> None:
    sent.has_conversation = True
    if p < end and buf[p] == _CONV_TYPE:
        value, p = pw.varint_at(buf, p + 1)
        if not value:
            raise pw.NotCanonical
        sent.conv_type = pw.int32_of(value)
    if p < end:
        a, p = pw.span_field(buf, p, end, _CONV_TARGET)
        if a == p:
            raise pw.NotCanonical
        sent.conv_target = buf[a:p].decode()
    if p != end:
        raise pw.NotCanonical


def encode_content(
    content_type: int,
    text: str,
    push: str = "",
    data: bytes = b"",
    mentioned_type: int = 0,
    targets: list[str] | None = None,
    media_type: int = 0,
    msg_length: int = 0,
    url: str = "",
) -> bytes:
    """A MessageContent's bytes, as the runtime writes it (``local_media_path`` is never sent)."""
    out = BytesWriter()
    pw.put_field(out, _CONTENT_TYPE, content_type)
    pw.put_text(out, _SEARCHABLE, text)
    pw.put_text(out, _PUSH_CONTENT, push)
    if data:
        pw.put_bytes(out, _DATA, data)
    pw.put_field(out, _MENTIONED_TYPE, mentioned_type)
    if targets:
        for target in targets:
            pw.put_bytes(out, _MENTIONED_TARGETS, target.encode())
    pw.put_field(out, _MEDIA_TYPE, media_type)
    pw.put_field(out, _MSG_LENGTH, msg_length)
    pw.put_text(out, _MEDIA_URL, url)
    return out.getvalue()


def encode_message(
    message_id: int,
    content: bytes | None,
    conv_type: int,
    conv_target: str,
    sender: str,
    to: str,
    server_id: int = 0,
    seq: int = 0,
    server_time_ms: int = 0,
    status: int = 0,
) -> bytes:
    """A Message's bytes (MN, and each message of a pull), as the runtime writes it: ``content`` is the
    MessageContent's (:func:`encode_content`), None where the message has none; the conversation is
    always present."""
    out = BytesWriter()
    pw.put_field(out, _MESSAGE_ID, message_id)
    if content is not None:
        pw.put_bytes(out, _CONTENT, content)
    conv = BytesWriter()
    pw.put_field(conv, _CONV_TYPE, conv_type)
    pw.put_text(conv, _CONV_TARGET, conv_target)
    pw.put_bytes(out, _CONVERSATION, conv.getvalue())
    pw.put_text(out, _FROM, sender)
    pw.put_text(out, _TO, to)
    pw.put_field(out, _SERVER_ID, server_id)
    pw.put_field(out, _SEQ, seq)
    pw.put_field(out, _SERVER_TIME, server_time_ms)
    pw.put_field(out, _STATUS, status)
    return out.getvalue()


def encode_send_ack(message_id: int, server_id: int, seq: int, server_time_ms: int) -> bytes:
    """MS's reply body (SendAck), as the runtime writes it."""
    out = BytesWriter()
    pw.put_field(out, _MESSAGE_ID, message_id)
    pw.put_field(out, _ACK_SERVER_ID, server_id)
    pw.put_field(out, _ACK_SEQ, seq)
    pw.put_field(out, _ACK_SERVER_TIME, server_time_ms)
    return out.getvalue()
