"""beehive wire codec: 52-byte big-endian header framing plus proto2 bodies (beehive.md §2, §3).

Sans-I/O: bytes in, :class:`Frame` objects out, and back. No socket, loop or clock lives here, so the
same code serves the TCP stream (:meth:`Decoder.feed`), WebSocket messages
(:meth:`Decoder.decode_message`), the tests and ``polyim bench``.

Bodies stay raw ``bytes`` in a :class:`Frame` because what they mean depends on the command (protobuf
for most, an opaque payload for BC and P2P, nothing for PING); the adapter decodes them with
:func:`decode_body` only once it knows the frame is one it will serve.

Everything a peer can get wrong surfaces as :class:`BeehiveDecodeError`, whose ``kind`` tells the
transport or adapter which of the §2.8 reactions applies (close silently, answer ERROR, answer the
command's ACK with 20011).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any, Final

# Without types-protobuf installed these are untyped; with it, the ignore is unused — allow both.
from google.protobuf.descriptor import FieldDescriptor  # type: ignore[import-untyped,unused-ignore]
from google.protobuf.message import Message  # type: ignore[import-untyped,unused-ignore]
from librt.strings import BytesWriter, write_i32_be, write_i64_be
from mypy_extensions import i32, i64

from polyim.protocols import protowire as pw
from polyim.protocols.base import ProtocolError, joined, u32_at, u64_at
from polyim.protocols.beehive import beehive_pb2 as pb

__all__ = [
    "BODY_TYPES",
    "CMD_ROLES",
    "DEFAULT_MAX_FRAME",
    "HEADER",
    "HEADER_SIZE",
    "WS_CLOSE_PROTOCOL_ERROR",
    "WS_CLOSE_TOO_BIG",
    "WS_PATH",
    "WS_SUBPROTOCOL",
    "BeehiveDecodeError",
    "Cmd",
    "CmdRole",
    "Decoder",
    "ErrCode",
    "ErrorKind",
    "Frame",
    "Header",
    "check_client_command",
    "cmd_role",
    "decode_body",
    "encode_body",
    "encode_frame",
]

# --------------------------------------------------------------------------------------------------
# Header layout and limits (§2.1, §2.5, §2.7)

#: type, length, sid, cid, nid, seq, dsid, dseq — all big-endian, packed. There is no magic, version,
#: flag or checksum field in the header polyim speaks (§8: the 44-byte variant is not supported).
HEADER: Final = struct.Struct(">IIQQIQQQ")
HEADER_SIZE: Final = 52
assert HEADER.size == HEADER_SIZE

#: ``[beehive] max_frame``: header + body, both directions (§2.5).
DEFAULT_MAX_FRAME: Final = 65536

#: WebSocket upgrade path and the sub-protocol echoed when offered (§2.7).
WS_PATH: Final = "/im"
WS_SUBPROTOCOL: Final = "im"
#: WebSocket close statuses for a message that is not one well-formed frame (§2.8).
WS_CLOSE_PROTOCOL_ERROR: Final = 1002
WS_CLOSE_TOO_BIG: Final = 1009

_U32_MAX: Final = 0xFFFFFFFF
_U64_MAX: Final = 0xFFFF_FFFF_FFFF_FFFF


class Cmd(enum.IntEnum):
    """Command ids of the seed table (§4), named after its keywords with ``-`` as ``_``."""

    # 0x01xx common
    ONLINE = 0x0101
    ONLINE_ACK = 0x0102
    OFFLINE = 0x0103
    OFFLINE_ACK = 0x0104
    PING = 0x0105
    PONG = 0x0106
    SUB = 0x0107
    SUB_ACK = 0x0108
    UNSUB = 0x0109
    UNSUB_ACK = 0x010A
    ERROR = 0x010B
    ERROR_ACK = 0x010C
    SYNC = 0x010D
    SYNC_ACK = 0x010E
    KICK = 0x0110
    KICK_ACK = 0x0111
    ONLINE_NTF = 0x0150
    ONLINE_NTF_ACK = 0x0151
    OFFLINE_NTF = 0x0152
    OFFLINE_NTF_ACK = 0x0153
    #: Not a seed id: the original's code declared OFFLINE-NTF-ACK one higher. Clients of the original
    #: may send it, and §4.1 says it is accepted as an ignored ACK rather than refused as unknown.
    LEGACY_OFFLINE_NTF_ACK = 0x0154
    # 0x02xx one-to-one
    CHAT = 0x0201
    CHAT_ACK = 0x0202
    FRIEND_ADD = 0x0203
    FRIEND_ADD_ACK = 0x0204
    FRIEND_DEL = 0x0205
    FRIEND_DEL_ACK = 0x0206
    BLACKLIST_ADD = 0x0207
    BLACKLIST_ADD_ACK = 0x0208
    BLACKLIST_DEL = 0x0209
    BLACKLIST_DEL_ACK = 0x020A
    GAG_ADD = 0x020B
    GAG_ADD_ACK = 0x020C
    GAG_DEL = 0x020D
    GAG_DEL_ACK = 0x020E
    MARK_ADD = 0x0210
    MARK_ADD_ACK = 0x0211
    MARK_DEL = 0x0212
    MARK_DEL_ACK = 0x0213
    # 0x03xx groups
    GROUP_CREAT = 0x0301
    GROUP_CREAT_ACK = 0x0302
    GROUP_DISMISS = 0x0303
    GROUP_DISMISS_ACK = 0x0304
    GROUP_DIMISS = 0x0303  # the seed's spelling, kept as an alias
    GROUP_DIMISS_ACK = 0x0304
    GROUP_JOIN = 0x0305
    GROUP_JOIN_ACK = 0x0306
    GROUP_QUIT = 0x0307
    GROUP_QUIT_ACK = 0x0308
    GROUP_INVITE = 0x0309
    GROUP_INVITE_ACK = 0x030A
    GROUP_CHAT = 0x030B
    GROUP_CHAT_ACK = 0x030C
    GROUP_KICK = 0x030D
    GROUP_KICK_ACK = 0x030E
    GROUP_GAG_ADD = 0x0310
    GROUP_GAG_ADD_ACK = 0x0311
    GROUP_GAG_DEL = 0x0312
    GROUP_GAG_DEL_ACK = 0x0313
    GROUP_BL_ADD = 0x0314
    GROUP_BL_ADD_ACK = 0x0315
    GROUP_BL_DEL = 0x0316
    GROUP_BL_DEL_ACK = 0x0317
    GROUP_MGR_ADD = 0x0318
    GROUP_MGR_ADD_ACK = 0x0319
    GROUP_MGR_DEL = 0x031A
    GROUP_MGR_DEL_ACK = 0x031B
    GROUP_USR_LIST = 0x031C
    GROUP_USR_LIST_ACK = 0x031D
    GROUP_JOIN_NTF = 0x0350
    GROUP_JOIN_NTF_ACK = 0x0351
    GROUP_QUIT_NTF = 0x0352
    GROUP_QUIT_NTF_ACK = 0x0353
    GROUP_KICK_NTF = 0x0354
    GROUP_KICK_NTF_ACK = 0x0355
    GROUP_GAG_ADD_NTF = 0x0356
    GROUP_GAG_ADD_NTF_ACK = 0x0357
    GROUP_GAG_DEL_NTF = 0x0358
    GROUP_GAG_DEL_NTF_ACK = 0x0359
    GROUP_BL_ADD_NTF = 0x0360
    GROUP_BL_ADD_NTF_ACK = 0x0361
    GROUP_BL_DEL_NTF = 0x0362
    GROUP_BL_DEL_NTF_ACK = 0x0363
    GROUP_MGR_ADD_NTF = 0x0364
    GROUP_MGR_ADD_NTF_ACK = 0x0365
    GROUP_MGR_DEL_NTF = 0x0366
    GROUP_MGR_DEL_NTF_ACK = 0x0367
    # 0x04xx chat rooms
    ROOM_CREAT = 0x0401
    ROOM_CREAT_ACK = 0x0402
    ROOM_DISMISS = 0x0403
    ROOM_DISMISS_ACK = 0x0404
    ROOM_JOIN = 0x0405
    ROOM_JOIN_ACK = 0x0406
    ROOM_QUIT = 0x0407
    ROOM_QUIT_ACK = 0x0408
    ROOM_KICK = 0x0409
    ROOM_KICK_ACK = 0x040A
    ROOM_CHAT = 0x040B
    ROOM_CHAT_ACK = 0x040C
    ROOM_BC = 0x040D
    ROOM_BC_ACK = 0x040E
    ROOM_USR_NUM = 0x0410
    ROOM_USR_NUM_ACK = 0x0411
    ROOM_LSN_STAT = 0x0412
    ROOM_LSN_STAT_ACK = 0x0413
    ROOM_JOIN_NTF = 0x0450
    ROOM_JOIN_NTF_ACK = 0x0451
    ROOM_QUIT_NTF = 0x0452
    ROOM_QUIT_NTF_ACK = 0x0453
    ROOM_KICK_NTF = 0x0454
    ROOM_KICK_NTF_ACK = 0x0455
    # 0x05xx push (opaque bodies)
    BC = 0x0501
    BC_ACK = 0x0502
    P2P = 0x0503
    P2P_ACK = 0x0504
    # 0x06xx node reports (internal)
    LSND_INFO = 0x0601
    LSND_INFO_ACK = 0x0602
    FRWD_INFO = 0x0603
    FRWD_INFO_ACK = 0x0604


class ErrCode(enum.IntEnum):
    """Wire error codes (§5): five digits, level · module · error. Clients rely on the code only."""

    OK = 0
    SYSTEM_ERROR = 10001
    SERVICE_UNAVAILABLE = 10002
    REMOTE_SERVICE_ERROR = 10003
    IP_LIMIT = 10004
    PERMISSION_DENIED = 10005
    MISSING_SOURCE = 10006
    UNSUPPORTED_MEDIA_TYPE = 10007
    PARAM_ERROR = 10008
    TOO_BUSY = 10009
    JOB_EXPIRED = 10010
    RPC_ERROR = 10011
    ILLEGAL_REQUEST = 10012
    INVALID_USER = 10013
    INSUFFICIENT_APP_PERMISSIONS = 10014
    MISSING_REQUIRED_PARAMETER = 10016
    INVALID_PARAMETER_VALUE = 10017
    BODY_OVER_LIMIT = 10018
    API_NOT_FOUND = 10020
    METHOD_NOT_SUPPORTED = 10021
    IP_RATE_LIMIT = 10022
    USER_RATE_LIMIT = 10023
    DATABASE_ERROR = 10024
    BAD_ONLINE = 20001
    BAD_OFFLINE = 20002
    BAD_JOIN = 20003
    BAD_UNJOIN = 20004
    PARSE_PARAM = 20005
    MISSING_PARAM = 20006
    INVALID_PARAM = 20007
    AUTH_FAILED = 20008
    DATA_COLLISION = 20009
    HEADER_INVALID = 20010
    BODY_INVALID = 20011
    CHECK_FAILED = 20012
    SEQUENCE_EXHAUSTED = 20013


# --------------------------------------------------------------------------------------------------
# Errors


class ErrorKind(enum.Enum):
    """Which reaction of §2.8 a :class:`BeehiveDecodeError` calls for."""

    #: Close at once without writing a frame (TCP), or close the WebSocket with
    #: :attr:`BeehiveDecodeError.ws_close_code`. The decoder that raised it is dead.
    CLOSE = "close"
    #: Answer ERROR {code, errmsg} with the offending header echoed; the connection stays.
    ERROR_REPLY = "error-reply"
    #: Answer the command's ACK with ``code`` (20011) — or ERROR {code} where that ACK has no ``code``
    #: field (GROUP-USR-LIST-ACK); ONLINE follows §4.1. The connection stays.
    BAD_BODY = "bad-body"


class BeehiveDecodeError(ProtocolError):
    """The peer sent something beehive cannot accept; the attributes say how to answer it.

    The codec raises nothing else on bad input (struct and protobuf errors are wrapped), so a
    transport needs a single ``except`` around the codec to honour "a bad frame never affects
    another connection" (§2.8).
    """

    kind: ErrorKind
    code: int
    errmsg: str
    ws_close_code: int
    header: Header | None
    frames: tuple[Frame, ...]

    def __init__(
        self,
        reason: str,
        *,
        kind: ErrorKind,
        code: int = 0,
        errmsg: str = "",
        ws_close_code: int = WS_CLOSE_PROTOCOL_ERROR,
        header: Header | None = None,
        frames: tuple[Frame, ...] = (),
    ) -> None:
        super().__init__(reason)
        #: The §2.8 reaction.
        self.kind = kind
        #: Wire error code for ERROR_REPLY / BAD_BODY (0 for CLOSE).
        self.code = code
        #: The errmsg polyim puts next to ``code``.
        self.errmsg = errmsg
        #: WebSocket close status when ``kind`` is CLOSE on a WebSocket connection.
        self.ws_close_code = ws_close_code
        #: The offending header when it could be read — for the echo and the log line.
        self.header = header
        #: Well-formed frames that preceded the bad one in the same :meth:`Decoder.feed` call; the
        #: transport may still serve them before closing (they arrived before the garbage did).
        self.frames = frames


def _close(
    reason: str, header: Header | None, *, ws_close_code: int = WS_CLOSE_PROTOCOL_ERROR
) -> BeehiveDecodeError:
    return BeehiveDecodeError(reason, kind=ErrorKind.CLOSE, ws_close_code=ws_close_code, header=header)


# --------------------------------------------------------------------------------------------------
# Header and frame


# Frozen, and built for every frame in and out: a written ``__init__`` that stores through
# ``object.__setattr__`` compiles under mypyc to native stores (about 30 ns), where the one ``dataclass``
# generates runs as interpreted code (about 2 µs for a Header: the largest cost of a beehive message).
# Without mypyc it is as fast as the generated one.
@dataclass(frozen=True, slots=True)
class Header:
    """The 52-byte header (§2.1), field for field.

    ``length`` is what the wire said on decode; :func:`encode_frame` ignores it and writes the real
    body length, so callers never have to keep the two in step. Values are not range-checked here
    (decoded ones are in range by construction; :func:`encode_frame` rejects the rest).
    """

    #: Command id (:class:`Cmd`), kept a plain int: an unknown id must survive decoding so the
    #: adapter can answer ERROR 10020 with the header echoed.
    type: int
    #: Body length in bytes, header excluded.
    length: int = 0
    #: Session id (one per device); never 0 on the wire.
    sid: int = 0
    #: Connection id assigned by the server; clients send 0.
    cid: int = 0
    #: Node id of the server; clients send 0.
    nid: int = 0
    #: Sequence number (§2.4).
    seq: int = 0
    #: Reserved "destination sid"; always 0.
    dsid: int = 0
    #: Reserved "destination seq"; always 0.
    dseq: int = 0

    def __init__(
        self,
        type: int,
        length: int = 0,
        sid: int = 0,
        cid: int = 0,
        nid: int = 0,
        seq: int = 0,
        dsid: int = 0,
        dseq: int = 0,
    ) -> None:
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "length", length)
        object.__setattr__(self, "sid", sid)
        object.__setattr__(self, "cid", cid)
        object.__setattr__(self, "nid", nid)
        object.__setattr__(self, "seq", seq)
        object.__setattr__(self, "dsid", dsid)
        object.__setattr__(self, "dseq", dseq)

    def reply(self, cmd: int, *, cid: int, nid: int) -> Header:
        """Header of the server's answer to this request (§2.3).

        ``sid`` and ``seq`` are echoed because clients pair a reply with its request by ``seq``;
        the reserved fields are zeroed whatever the client sent.
        """
        return Header(cmd, 0, self.sid, cid, nid, self.seq, 0, 0)


@dataclass(frozen=True, slots=True)
class Frame:
    """One header and its raw body.

    Frozen so one decoded or built frame can be shared by a whole fan-out without copies.
    """

    header: Header
    body: bytes = b""

    def __init__(self, header: Header, body: bytes = b"") -> None:
        object.__setattr__(self, "header", header)
        object.__setattr__(self, "body", body)


def header_at(buf: bytes, pos: int) -> Header:
    """The header at ``pos`` of ``buf`` (which holds its 52 bytes): eight native loads where
    ``HEADER.unpack_from`` made a tuple of eight boxed integers through a generic call."""
    return Header(
        u32_at(buf, pos),
        u32_at(buf, pos + 4),
        u64_at(buf, pos + 8),
        u64_at(buf, pos + 16),
        u32_at(buf, pos + 24),
        u64_at(buf, pos + 28),
        u64_at(buf, pos + 36),
        u64_at(buf, pos + 44),
    )


def encode_frame(header: Header, body: bytes = b"", *, max_frame: int = DEFAULT_MAX_FRAME) -> bytes:
    """Header + body as wire bytes, with ``length`` taken from ``body``.

    Raises ``ValueError`` (our own misuse, not a peer's fault) when a field does not fit its width or
    the frame would exceed ``max_frame``: the peer is bound by the same limit (§2.5) and would drop
    the connection rather than read it.
    """
    h = header
    return frame_bytes(h.type, h.sid, h.cid, h.nid, h.seq, body, max_frame, h.dsid, h.dseq)


def frame_bytes(
    cmd: int,
    sid: int,
    cid: int,
    nid: int,
    seq: int,
    body: bytes,
    max_frame: int = DEFAULT_MAX_FRAME,
    dsid: int = 0,
    dseq: int = 0,
) -> bytes:
    """:func:`encode_frame` of these header fields, without a :class:`Header` and without ``struct``:
    native stores into one ``BytesWriter`` (a ``HEADER.pack`` is a generic call that boxes and parses
    eight integers). Every push, ack and room frame is written by this."""
    n = len(body)
    if n > max_frame - HEADER_SIZE:
        raise ValueError(f"beehive frame of {n + HEADER_SIZE} bytes exceeds max_frame {max_frame}")
    out = BytesWriter()
    write_i32_be(out, _u32_bits(cmd))
    write_i32_be(out, _u32_bits(n))
    write_i64_be(out, _u64_bits(sid))
    write_i64_be(out, _u64_bits(cid))
    write_i32_be(out, _u32_bits(nid))
    write_i64_be(out, _u64_bits(seq))
    write_i64_be(out, _u64_bits(dsid))
    write_i64_be(out, _u64_bits(dseq))
    out.write(body)
    return out.getvalue()


def _u32_bits(value: int) -> i32:
    """An unsigned 32-bit field as the int32 of its bits."""
    if not 0 <= value <= _U32_MAX:
        raise ValueError(f"beehive header field {value} out of range (u32)")
    return i32(value - 0x1_0000_0000 if value >= 0x8000_0000 else value)


def _u64_bits(value: int) -> i64:
    """An unsigned 64-bit field as the int64 of its bits. The common value (below 2**62, an unboxed
    integer when compiled) is taken by the first test alone: a comparison with 2**63 or 2**64, which
    are boxed, goes the generic way."""
    if 0 <= value <= 0x3FFF_FFFF_FFFF_FFFF:
        return i64(value)
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"beehive header field {value} out of range (u64)")
    return i64(value - (1 << 64) if value >= 1 << 63 else value)


# --------------------------------------------------------------------------------------------------
# Decoding


class Decoder:
    """Frames out of one connection's bytes.

    TCP: :meth:`feed` any split of the stream and get the same frames (§2.6). The buffer is a
    ``bytearray`` parsed from an offset; once a frame's header has been seen, further feeds only
    count bytes until the body is complete, so a frame trickling in byte by byte costs no rescans.

    WebSocket: :meth:`decode_message` takes exactly one frame per message (§2.7).

    After any :class:`BeehiveDecodeError` the decoder is dead and raises again on every call: after a
    framing error the stream position is unknown, and §2.8 closes the connection anyway.
    """

    __slots__ = ("_buf", "_dead", "_max_body", "_max_frame", "_need")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if not HEADER_SIZE <= max_frame <= HEADER_SIZE + _U32_MAX:
            raise ValueError(f"max_frame must be between {HEADER_SIZE} and {HEADER_SIZE + _U32_MAX}")
        self._max_frame = max_frame
        self._max_body = max_frame - HEADER_SIZE
        self._buf = bytearray()
        #: How long the held bytes must grow before they hold a whole frame (or its header).
        self._need = HEADER_SIZE
        self._dead: BeehiveDecodeError | None = None

    @property
    def max_frame(self) -> int:
        """Largest accepted frame, header included."""
        return self._max_frame

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame (for back-pressure and diagnostics)."""
        return len(self._buf)

    def _die(self, exc: BeehiveDecodeError) -> BeehiveDecodeError:
        self._dead = exc
        self._buf = bytearray()
        return exc

    def _check_header(self, header: Header) -> None:
        """Header checks shared by TCP and WebSocket (§2.8); the length bound is transport-specific."""
        if header.sid == 0:
            raise _close("sid 0 in a beehive header", header)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append bytes from the TCP stream and return every frame now complete, in order.

        Frames are cut from the read itself when nothing is held (a read of whole frames is never
        copied); the bytes of an incomplete frame wait with the length they must reach, so a frame
        trickling in byte by byte costs no rescans (:func:`~polyim.protocols.base.joined`).

        Raises :class:`BeehiveDecodeError` of kind CLOSE when a header announces a body larger than
        ``max_frame`` allows (the stream cannot be trusted past it) or carries sid 0; frames completed
        earlier in the same call ride along on the exception's ``frames``.
        """
        if self._dead is not None:
            raise _close("beehive decoder is closed after an earlier error", self._dead.header)
        whole = joined(self._buf, data if isinstance(data, bytes) else bytes(data), self._need)
        if whole is None:
            return []
        frames: list[Frame] = []
        pos, end = 0, len(whole)
        self._need = HEADER_SIZE
        while end - pos >= HEADER_SIZE:
            header = header_at(whole, pos)
            try:
                if header.length > self._max_body:
                    raise _close(
                        f"beehive body length {header.length} exceeds {self._max_body}",
                        header,
                        ws_close_code=WS_CLOSE_TOO_BIG,
                    )
                self._check_header(header)
            except BeehiveDecodeError as exc:
                exc.frames = tuple(frames)
                raise self._die(exc) from None
            stop = pos + HEADER_SIZE + header.length
            if stop > end:
                self._need = stop - pos
                break
            frames.append(Frame(header, whole[pos + HEADER_SIZE : stop]))
            pos = stop
        if pos < end:
            self._buf += memoryview(whole)[pos:]
        return frames

    def decode_message(self, data: bytes) -> Frame:
        """Decode one WebSocket message, which must be exactly one frame (§2.7).

        Raises :class:`BeehiveDecodeError` of kind CLOSE with ``ws_close_code`` 1009 for a message
        over ``max_frame`` and 1002 for one shorter than a header, whose ``length`` disagrees with its
        size, or whose sid is 0.
        """
        if self._dead is not None:
            raise _close("beehive decoder is closed after an earlier error", self._dead.header)
        size = len(data)
        try:
            if size > self._max_frame:
                raise _close(
                    f"beehive message of {size} bytes exceeds {self._max_frame}",
                    None,
                    ws_close_code=WS_CLOSE_TOO_BIG,
                )
            if size < HEADER_SIZE:
                raise _close(f"beehive message of {size} bytes is shorter than a header", None)
            header = header_at(bytes(data), 0)
            if header.length != size - HEADER_SIZE:
                raise _close(
                    f"beehive header length {header.length} but message carries {size - HEADER_SIZE}",
                    header,
                )
            self._check_header(header)
        except BeehiveDecodeError as exc:
            raise self._die(exc) from None
        return Frame(header, bytes(data[HEADER_SIZE:]))


# --------------------------------------------------------------------------------------------------
# Who may send what (§2.4, §2.8)


class CmdRole(enum.Enum):
    """What a command id is when it arrives from a client."""

    #: Served (or, for ONLINE/OFFLINE, acted on); subject to the seq rule.
    REQUEST = "request"
    #: Any ``…-ACK`` id (and the original's 0x0154): never answered, exempt from the seq rule (§2.4).
    CLIENT_ACK = "client-ack"
    #: Only the server sends it: ERROR {10012, "Illegal request!"}.
    SERVER_ONLY = "server-only"
    #: Node report: ERROR {10005, "Permission denied!"}.
    INTERNAL = "internal"


_SERVER_ONLY: Final = frozenset(
    {
        Cmd.PONG,
        Cmd.KICK,
        Cmd.ONLINE_NTF,
        Cmd.OFFLINE_NTF,
        Cmd.GROUP_JOIN_NTF,
        Cmd.GROUP_QUIT_NTF,
        Cmd.GROUP_KICK_NTF,
        Cmd.GROUP_GAG_ADD_NTF,
        Cmd.GROUP_GAG_DEL_NTF,
        Cmd.GROUP_BL_ADD_NTF,
        Cmd.GROUP_BL_DEL_NTF,
        Cmd.GROUP_MGR_ADD_NTF,
        Cmd.GROUP_MGR_DEL_NTF,
        Cmd.ROOM_BC,
        Cmd.ROOM_USR_NUM,
        Cmd.ROOM_JOIN_NTF,
        Cmd.ROOM_QUIT_NTF,
        Cmd.ROOM_KICK_NTF,
        Cmd.BC,
        Cmd.P2P,
    }
)
_INTERNAL: Final = frozenset({Cmd.LSND_INFO, Cmd.FRWD_INFO, Cmd.ROOM_LSN_STAT})


def _role_of(cmd: Cmd) -> CmdRole:
    if cmd.name.endswith("_ACK") or cmd is Cmd.LEGACY_OFFLINE_NTF_ACK:
        return CmdRole.CLIENT_ACK
    if cmd in _INTERNAL:
        return CmdRole.INTERNAL
    if cmd in _SERVER_ONLY:
        return CmdRole.SERVER_ONLY
    return CmdRole.REQUEST


#: Role of every known command id when a client sends it.
CMD_ROLES: Final[dict[int, CmdRole]] = {int(c): _role_of(c) for c in Cmd}


def cmd_role(cmd: int) -> CmdRole | None:
    """Role of ``cmd`` from a client, or None for an id §4 does not define."""
    return CMD_ROLES.get(cmd)


def check_client_command(cmd: int) -> CmdRole:
    """Return REQUEST or CLIENT_ACK, or raise the ERROR_REPLY that §2.8 prescribes for ``cmd``.

    Kept apart from the decoder because these frames are well-formed: the connection stays open and
    frames around them must still be served. (Before login every frame but ONLINE gets ERROR 20001
    instead; that rule belongs to the adapter's state machine.)
    """
    role = CMD_ROLES.get(cmd)
    if role is CmdRole.REQUEST or role is CmdRole.CLIENT_ACK:
        return role
    if role is None:
        code, errmsg = ErrCode.API_NOT_FOUND, "Unknown command!"
    elif role is CmdRole.SERVER_ONLY:
        code, errmsg = ErrCode.ILLEGAL_REQUEST, "Illegal request!"
    else:
        code, errmsg = ErrCode.PERMISSION_DENIED, "Permission denied!"
    raise BeehiveDecodeError(
        f"beehive command 0x{cmd:04x} not accepted from a client ({errmsg})",
        kind=ErrorKind.ERROR_REPLY,
        code=code,
        errmsg=errmsg,
    )


# --------------------------------------------------------------------------------------------------
# Bodies (§3)

#: Body message of every command that has a protobuf body, both directions. Commands absent here
#: have no body (PING, OFFLINE, most ACKs) or an opaque one (BC, P2P).
BODY_TYPES: Final[dict[int, type[Message]]] = {
    Cmd.ONLINE: pb.mesg_online,
    Cmd.ONLINE_ACK: pb.mesg_online_ack,
    Cmd.SUB: pb.mesg_sub,
    Cmd.SUB_ACK: pb.mesg_sub_ack,
    Cmd.UNSUB: pb.mesg_unsub,
    Cmd.UNSUB_ACK: pb.mesg_unsub_ack,
    Cmd.ERROR: pb.mesg_error,
    Cmd.SYNC: pb.mesg_sync,
    Cmd.SYNC_ACK: pb.mesg_sync_ack,
    Cmd.KICK: pb.mesg_kick,
    Cmd.ONLINE_NTF: pb.mesg_online_ntf,
    Cmd.OFFLINE_NTF: pb.mesg_offline_ntf,
    Cmd.CHAT: pb.mesg_chat,
    Cmd.CHAT_ACK: pb.mesg_chat_ack,
    Cmd.FRIEND_ADD: pb.mesg_friend_add,
    Cmd.FRIEND_ADD_ACK: pb.mesg_friend_add_ack,
    Cmd.FRIEND_DEL: pb.mesg_friend_del,
    Cmd.FRIEND_DEL_ACK: pb.mesg_friend_del_ack,
    Cmd.BLACKLIST_ADD: pb.mesg_blacklist_add,
    Cmd.BLACKLIST_ADD_ACK: pb.mesg_blacklist_add_ack,
    Cmd.BLACKLIST_DEL: pb.mesg_blacklist_del,
    Cmd.BLACKLIST_DEL_ACK: pb.mesg_blacklist_del_ack,
    Cmd.GAG_ADD: pb.mesg_gag_add,
    Cmd.GAG_ADD_ACK: pb.mesg_gag_add_ack,
    Cmd.GAG_DEL: pb.mesg_gag_del,
    Cmd.GAG_DEL_ACK: pb.mesg_gag_del_ack,
    Cmd.MARK_ADD: pb.mesg_mark_add,
    Cmd.MARK_ADD_ACK: pb.mesg_mark_add_ack,
    Cmd.MARK_DEL: pb.mesg_mark_del,
    Cmd.MARK_DEL_ACK: pb.mesg_mark_del_ack,
    Cmd.GROUP_CREAT: pb.mesg_group_creat,
    Cmd.GROUP_CREAT_ACK: pb.mesg_group_creat_ack,
    Cmd.GROUP_DISMISS: pb.mesg_group_dismiss,
    Cmd.GROUP_DISMISS_ACK: pb.mesg_group_dismiss_ack,
    Cmd.GROUP_JOIN: pb.mesg_group_join,
    Cmd.GROUP_JOIN_ACK: pb.mesg_group_join_ack,
    Cmd.GROUP_QUIT: pb.mesg_group_quit,
    Cmd.GROUP_QUIT_ACK: pb.mesg_group_quit_ack,
    Cmd.GROUP_INVITE: pb.mesg_group_invite,
    Cmd.GROUP_INVITE_ACK: pb.mesg_group_invite_ack,
    Cmd.GROUP_CHAT: pb.mesg_group_chat,
    Cmd.GROUP_CHAT_ACK: pb.mesg_group_chat_ack,
    Cmd.GROUP_KICK: pb.mesg_group_kick,
    Cmd.GROUP_KICK_ACK: pb.mesg_group_kick_ack,
    Cmd.GROUP_GAG_ADD: pb.mesg_group_gag_add,
    Cmd.GROUP_GAG_ADD_ACK: pb.mesg_group_gag_add_ack,
    Cmd.GROUP_GAG_DEL: pb.mesg_group_gag_del,
    Cmd.GROUP_GAG_DEL_ACK: pb.mesg_group_gag_del_ack,
    Cmd.GROUP_BL_ADD: pb.mesg_group_bl_add,
    Cmd.GROUP_BL_ADD_ACK: pb.mesg_group_bl_add_ack,
    Cmd.GROUP_BL_DEL: pb.mesg_group_bl_del,
    Cmd.GROUP_BL_DEL_ACK: pb.mesg_group_bl_del_ack,
    Cmd.GROUP_MGR_ADD: pb.mesg_group_mgr_add,
    Cmd.GROUP_MGR_ADD_ACK: pb.mesg_group_mgr_add_ack,
    Cmd.GROUP_MGR_DEL: pb.mesg_group_mgr_del,
    Cmd.GROUP_MGR_DEL_ACK: pb.mesg_group_mgr_del_ack,
    Cmd.GROUP_USR_LIST: pb.mesg_group_usr_list,
    Cmd.GROUP_USR_LIST_ACK: pb.mesg_group_usr_list_ack,
    Cmd.GROUP_JOIN_NTF: pb.mesg_group_join_ntf,
    Cmd.GROUP_QUIT_NTF: pb.mesg_group_quit_ntf,
    Cmd.GROUP_KICK_NTF: pb.mesg_group_kick_ntf,
    Cmd.GROUP_GAG_ADD_NTF: pb.mesg_group_gag_add_ntf,
    Cmd.GROUP_GAG_DEL_NTF: pb.mesg_group_gag_del_ntf,
    Cmd.GROUP_BL_ADD_NTF: pb.mesg_group_bl_add_ntf,
    Cmd.GROUP_BL_DEL_NTF: pb.mesg_group_bl_del_ntf,
    Cmd.GROUP_MGR_ADD_NTF: pb.mesg_group_mgr_add_ntf,
    Cmd.GROUP_MGR_DEL_NTF: pb.mesg_group_mgr_del_ntf,
    Cmd.ROOM_CREAT: pb.mesg_room_creat,
    Cmd.ROOM_CREAT_ACK: pb.mesg_room_creat_ack,
    Cmd.ROOM_DISMISS: pb.mesg_room_dismiss,
    Cmd.ROOM_DISMISS_ACK: pb.mesg_room_dismiss_ack,
    Cmd.ROOM_JOIN: pb.mesg_room_join,
    Cmd.ROOM_JOIN_ACK: pb.mesg_room_join_ack,
    Cmd.ROOM_QUIT: pb.mesg_room_quit,
    Cmd.ROOM_QUIT_ACK: pb.mesg_room_quit_ack,
    Cmd.ROOM_KICK: pb.mesg_room_kick,
    Cmd.ROOM_KICK_ACK: pb.mesg_room_kick_ack,
    Cmd.ROOM_CHAT: pb.mesg_room_chat,
    Cmd.ROOM_CHAT_ACK: pb.mesg_room_chat_ack,
    Cmd.ROOM_BC: pb.mesg_room_bc,
    Cmd.ROOM_BC_ACK: pb.mesg_room_bc_ack,
    Cmd.ROOM_USR_NUM: pb.mesg_room_usr_num,
    Cmd.ROOM_LSN_STAT: pb.mesg_room_lsn_stat,
    Cmd.ROOM_JOIN_NTF: pb.mesg_room_join_ntf,
    Cmd.ROOM_QUIT_NTF: pb.mesg_room_quit_ntf,
    Cmd.ROOM_KICK_NTF: pb.mesg_room_kick_ntf,
    Cmd.LSND_INFO: pb.mesg_lsnd_info,
    Cmd.FRWD_INFO: pb.mesg_frwd_info,
}

#: Names of the ``string`` fields of each body class. proto2 does not validate UTF-8 on parse and the
#: upb runtime then hands such a field back as ``bytes``; §3 says strings are UTF-8, so decode_body
#: checks these few fields rather than let a ``bytes`` reach code that expects ``str``.
_STRING_FIELDS: Final[dict[type[Message], tuple[str, ...]]] = {
    cls: tuple(f.name for f in cls.DESCRIPTOR.fields if f.type == FieldDescriptor.TYPE_STRING)
    for cls in BODY_TYPES.values()
}


def _bad_body(reason: str) -> BeehiveDecodeError:
    return BeehiveDecodeError(
        reason, kind=ErrorKind.BAD_BODY, code=ErrCode.BODY_INVALID, errmsg="Body is invalid!"
    )


def decode_body(cmd: int, body: bytes) -> Message:
    """Parse ``body`` as the proto2 message of ``cmd``.

    Raises :class:`BeehiveDecodeError` of kind BAD_BODY (code 20011) when ``cmd`` has no protobuf
    body, the bytes are not a valid encoding, a ``required`` field is missing, or a ``string`` field
    is not UTF-8. Unknown fields are dropped (§3 "skipped"), so re-encoding a decoded message relays
    only what the schema defines.
    """
    cls = BODY_TYPES.get(cmd)
    if cls is None:
        raise _bad_body(f"beehive command 0x{cmd:04x} has no protobuf body")
    msg = cls()
    try:
        msg.ParseFromString(body)
    except Exception as exc:  # the runtime's backends raise DecodeError, UnicodeError, ValueError …
        raise _bad_body(f"beehive body of 0x{cmd:04x} does not parse: {exc}") from None
    if not msg.IsInitialized():
        raise _bad_body(f"beehive body of 0x{cmd:04x} lacks a required field")
    for name in _STRING_FIELDS[cls]:
        if not isinstance(getattr(msg, name), str):
            raise _bad_body(f"beehive body of 0x{cmd:04x}: field {name} is not UTF-8")
    msg.DiscardUnknownFields()
    return msg


def encode_body(msg: Message) -> bytes:
    """Serialise a body; the runtime writes fields in ascending number, as §3 requires.

    Raises the runtime's ``EncodeError`` when a ``required`` field is unset: that is a bug on our
    side (§3 "encoders set every required field"), never something to send.
    """
    data: bytes = msg.SerializeToString()
    return data


# --------------------------------------------------------------------------------------------------
# The hot bodies without the runtime's objects (``polyim/protocols/protowire.py`` says why): a CHAT read
# into a :class:`Chat`, a receiver's CHAT-ACK read for its two ids, and CHAT, GROUP-CHAT and CHAT-ACK
# written from their fields. proto2: a required field is written even at zero.

_KEY1: Final = pw.key(1, pw.VARINT)
_KEY2: Final = pw.key(2, pw.VARINT)
_KEY3: Final = pw.key(3, pw.VARINT)
_KEY4: Final = pw.key(4, pw.VARINT)
_TEXT: Final = pw.key(5, pw.LEN)
_DATA: Final = pw.key(6, pw.LEN)
_ERRMSG: Final = pw.key(4, pw.LEN)


class Chat:
    """A CHAT body (mesg_chat) under the runtime message's field names, for the adapter and the ACK."""

    suid: int = 0
    duid: int = 0
    level: int = 0
    time: int = 0
    text: str = ""
    data: bytes = b""


def as_chat(req: Any) -> Chat:
    """A CHAT request as a :class:`Chat`, whichever decoder read it (the runtime's message when the
    body was not in the canonical layout): compiled, a ``Chat``'s fields are native loads, where the
    same reads through ``Any`` are generic attribute lookups (~200 instructions each)."""
    if isinstance(req, Chat):
        return req
    chat = Chat()
    chat.suid, chat.duid, chat.level, chat.time = req.suid, req.duid, req.level, req.time
    chat.text, chat.data = req.text, req.data
    return chat


def decode_request(cmd: int, body: bytes) -> object:
    """A client request's body: a CHAT read directly when it has the canonical layout (a
    :class:`Chat`), anything else by :func:`decode_body`, which alone judges what the fast path
    does not take, and raises for it."""
    if cmd == Cmd.CHAT:
        chat = _decode_chat_fast(body)
        if chat is not None:
            return chat
    return decode_body(cmd, body)


def _decode_chat_fast(buf: bytes) -> Chat | None:
    """mesg_chat's fields 1–5, each once and in order, then field 6 or nothing."""
    end = len(buf)
    chat = Chat()
    try:
        chat.suid, p = pw.varint_field(buf, 0, _KEY1)
        chat.duid, p = pw.varint_field(buf, p, _KEY2)
        chat.level, p = pw.varint_field(buf, p, _KEY3)
        chat.time, p = pw.varint_field(buf, p, _KEY4)
        a, p = pw.span_field(buf, p, end, _TEXT)
        chat.text = buf[a:p].decode()
        if p < end:
            a, p = pw.span_field(buf, p, end, _DATA)
            chat.data = buf[a:p]
    except pw.FAST_MISS:
        return None
    # level is a uint32 (the runtime truncates a larger value, and judges it); nothing may follow
    return chat if p == end and chat.level <= 0xFFFF_FFFF else None


def chat_ack_ids(body: bytes) -> tuple[int, int]:
    """A receiver's CHAT-ACK (mesg_chat_ack): its suid and duid. Read directly in the canonical layout,
    else by :func:`decode_body` (which raises :class:`BeehiveDecodeError` for a bad body)."""
    try:
        suid, p = pw.varint_field(body, 0, _KEY1)
        duid, p = pw.varint_field(body, p, _KEY2)
        code, p = pw.varint_field(body, p, _KEY3)
        a, p = pw.span_field(body, p, len(body), _ERRMSG)
        body[a:p].decode()
        if p == len(body) and code <= 0xFFFF_FFFF:
            return suid, duid
    except pw.FAST_MISS:
        pass
    ack = decode_body(Cmd.CHAT_ACK, body)
    return ack.suid, ack.duid


def encode_chat(a: int, b: int, level: int, time: int, text: str, data: bytes = b"") -> bytes:
    """A CHAT (suid, duid) or GROUP-CHAT (uid, gid) body, as the runtime writes it (``data`` only where
    not empty)."""
    out = BytesWriter()
    pw.put_required(out, _KEY1, a)
    pw.put_required(out, _KEY2, b)
    pw.put_required(out, _KEY3, level)
    pw.put_required(out, _KEY4, time)
    pw.put_bytes(out, _TEXT, text.encode())
    if data:
        pw.put_bytes(out, _DATA, data)
    return out.getvalue()


def encode_chat_ack(suid: int, duid: int, code: int, errmsg: str) -> bytes:
    """A CHAT-ACK body, as the runtime writes it."""
    out = BytesWriter()
    pw.put_required(out, _KEY1, suid)
    pw.put_required(out, _KEY2, duid)
    pw.put_required(out, _KEY3, code)
    pw.put_bytes(out, _ERRMSG, errmsg.encode())
    return out.getvalue()
