"""OMTP wire codec: frames, OTIMPack/OTIMHeader and every payload struct (omtp.md §2, §4).

Sans-I/O in the h11 manner: :class:`Decoder` turns received bytes into :class:`Pack` values and
:func:`encode_pack` turns a pack into one frame; neither touches a socket or a clock.  Payloads stay
bytes inside a pack because the adapter decides, by pack type, which struct to decode them as; each
payload struct below has ``encode()`` (the bare struct, byte for byte as TarsCpp writes it) and
``decode()`` (lenient as omtp.md §3.8 asks).

Each struct declares its fields once, as dataclass fields carrying ``(tag, kind, require)``; the generic
Tars machinery in :mod:`.tars` encodes and decodes from that.  The few structs on every message's path
(the frame and header, MsgReq, MsgAck) also have hand-written encoders that produce the same bytes with
fewer steps; the tests hold both paths to the golden vectors and to each other.

Bad input raises :class:`OmtpDecodeError` and nothing else.  Values that do not fit their declared width
on encode are the caller's bug and raise ``ValueError``.
"""

# ruff: noqa: RUF009  -- every field default is `_f(...)`, a dataclasses.Field holding a frozen value

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Final, Self, TypeVar, cast

from librt.strings import BytesWriter, read_i16_be, read_i32_be, read_i64_be
from mypy_extensions import mypyc_attr, u8

from polyim.protocols.base import ProtocolError, fast_init, u32_at
from polyim.protocols.omtp.tars import (
    BYTES,
    ENUM,
    INT,
    LONG,
    SHORT,
    STRING,
    STRING1_PREFIX,
    T_INT2,
    T_INT4,
    T_INT8,
    T_ZERO_TAG,
    Buf,
    Field,
    Kind,
    ListKind,
    StructKind,
    StructSpec,
    TarsDecodeError,
    int_field,
    put_int,
    put_string,
    string_prefix,
)

MAX_FRAME: Final = 640_000
"""Largest frame, length prefix included, that either side may send (omtp.md §2.4)."""


class OmtpDecodeError(ProtocolError):
    """The peer sent bytes that are not a valid OMTP frame or payload."""


# --------------------------------------------------------------------------------------------------------
# Enumerations (omtp.md §1.4, §4.1, §5.1, §6)


class PackType(IntEnum):
    """OTIMHeader.type: PACK_TYPE of the original IDL without the ``PT_`` prefix (typos kept)."""

    NONE = 0
    PING = 10
    LOGIN = 11
    LOGOUT = 12
    KICKOUT = 13
    MSG_SINGLE_CHAT = 14
    MSG_GROUP_CHAT = 15
    MSG_BIZ_NOTIFY = 16
    MSG_CTRL = 17
    MSG_READ = 18
    HOTSESSION_SYNC = 19
    HIGH_PRIOR_MSG_SYNC = 20
    HISTORY_MSG_PULL = 21
    SESSION_MONITOR_START = 22
    SESSION_MONITOR_STOP = 23
    SESSION_MONITOR_SYNC = 24
    SYNC_DATA_CMD = 25
    GROUPCHAT_SYNC = 40
    GROUPCHAT_CREATE = 41
    GROUPCHAT_JION = 42
    GROUPCHAT_QUIT = 43
    GROUPCHAT_DISMISS = 44
    GROUPCHAT_UPDATE_CREATOR = 45
    GROUPCHAT_INFO_UPDATE = 46
    GROUPCHAT_MEMBERS_GET = 47
    FRIEND_ADD = 51
    FRIEND_DEL = 52
    FRIEND_SYNC = 53
    USERINFO_GET = 54
    USERINFO_UPDATE = 55
    USERATTRIBUTE_SET = 56
    USERATTRIBUTE_GET = 57
    SESSIONATTRIBUTE_SET = 58


FLAG_ACK: Final = 0x001
FLAG_DUP: Final = 0x002
FLAG_COUNTER: Final = 0x004
FLAG_OVERRIDE: Final = 0x008
FLAG_REVOKE: Final = 0x010
FLAG_HIGHPRJ: Final = 0x020
FLAG_COMPRESS_MASK: Final = 0x1C0
FLAG_CRYPTO_MASK: Final = 0xE00


class DeviceType(IntEnum):
    NONE = 0
    IOS = 1
    ANDROID = 2
    MACOS = 3
    WINDOWS = 4
    LINUX = 5


class MsgCtlCmd(IntEnum):
    REVOKE = 1
    OVERRIDE = 2
    DELETE = 3


class SyncCmd(IntEnum):
    """SYNC_CMD; the IDL spells 4 ``GROUPMENBER``."""

    NONE = 0
    FRIEND = 1
    GROUP = 2
    GROUPINFO = 3
    GROUPMEMBER = 4


class MsgContentType(IntEnum):
    """MsgReq.contentType in the original's numbering, used to convert content across protocols (§5.3.7)."""

    NONE = 0
    TEXT = 1
    IMAGE = 2
    VOICE = 3
    VIDEO = 4
    FILE = 5
    LOCATION = 6


class ErrorCode(IntEnum):
    """ERROR_CODE as spelled in the original IDL, typos kept so they can be grepped (omtp.md §6)."""

    EC_SUCCESS = 0
    EC_PROTOCOL = 1
    EC_PARAM = 2
    EC_UNKOWN = 3
    EC_DB_ERROR = 5
    EC_SERVICE_UNAVAILABLE = 6
    EC_SERVER_REFUSED = 7
    EC_SERVER_EXCEPTION = 8
    EC_MEM_NOT_ENOUGH = 9
    EC_SENSI_MATCH = 10
    EC_REDIS_ERROR = 11
    EC_CONN_INDICATE = 20
    EC_CONN_USERNAME_OR_PASSWORD = 21
    EC_CONN_KICKOUT = 22
    EC_CONN_ACCESS_DENIED = 23
    EC_CONN_THRIDS_REJECT = 24
    EC_HOTSESSION_MORE = 25
    EC_HOTSESSION_FAILED = 26
    EC_HISTORYMSG_ERROR = 27
    EC_HISTORYMSG_DENY = 28
    EC_GROUP_USER_NOTEXIST = 30
    EC_GROUP_ID_EMPTY = 31
    EC_GROUP_EMPTY = 32
    EC_GROUP_NO_PRIVILEGE = 33
    EC_GROUP_MEMBER_LIMIT = 34
    EC_GROUP_NOT_EXIST = 35
    EC_GROUP_CREAGOR_ERROR = 36
    EC_MSG_TOO_SHORT = 40
    EC_MSG_TOO_LONG = 41
    EC_MSG_INVALID_FORMAT = 42
    EC_MSG_FOBIDDEN = 43
    EC_MSG_NOT_EXIST = 44
    EC_MSG_TIMEOUT = 45
    EC_MSG_REPEATED = 46
    EC_MSG_OP_CMD = 47
    EC_USER_RELATION_INVALID = 50
    EC_USER_BLACKLISt = 51
    EC_USER_VERSION = 52
    EC_ATTR_FIELD_EMPTY = 60
    EC_ATTR_VALUE_EMPTY = 61


# --------------------------------------------------------------------------------------------------------
# Schema plumbing

REQ: Final = True
"""Marks a ``require`` field; fields without it are ``optional``."""


def _f(tag: int, kind: Kind, required: bool = False, default: int | None = None) -> Any:
    """A dataclass field that is also Tars field ``tag``; ``default`` is the IDL's explicit ``= N``.

    Every field gets a Python default (the IDL's, else the kind's zero) so that callers name only what
    they set, and an error reply can fill the other require fields with defaults (omtp.md §5.1).
    """
    initial = kind.default if default is None else default
    return field(default=initial, metadata={"tars": (tag, kind, required, default)})


def _decode(spec: StructSpec, data: Buf) -> Any:
    try:
        return spec.decode(data)
    except TarsDecodeError as exc:
        raise OmtpDecodeError(*exc.args) from None


# The structs that are not on every message's path stay ordinary Python classes under mypyc
# (``native_class=False``): frozen, and given a faster ``__init__`` by ``fast_init``, which a native class
# would not take.
@mypyc_attr(native_class=False)
class _Struct:
    """Gives every struct ``encode``/``decode`` over the :class:`StructSpec` in ``_spec``."""

    __slots__ = ()
    _spec: ClassVar[StructSpec]

    def encode(self) -> bytes:
        """This struct written bare (omtp.md §3.7), exactly as TarsCpp writes it (§3.8)."""
        return self._spec.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """The bare struct that is the whole of ``data``; OmtpDecodeError if it is not one."""
        return cast(Self, _decode(cls._spec, data))


_S = TypeVar("_S", bound=_Struct)


def _struct(cls: type[_S]) -> type[_S]:
    """Build the class's spec from the ``tars`` metadata of its leading dataclass fields."""
    fast_init(cls)
    cls._spec = _fields_spec(cls)
    return cls


def _native_struct(cls: type) -> StructSpec:
    """The spec of a struct compiled as a native class (see :class:`CommonErrorCode`), also kept as its
    ``_spec`` for code that treats every struct alike."""
    spec = _fields_spec(cls)
    setattr(cls, "_spec", spec)  # noqa: B010 (a native class declares no ClassVar: mypyc would make it a field)
    return spec


def _fields_spec(cls: type) -> StructSpec:
    fields: list[Field] = []
    extra: list[str] = []
    for f in dataclasses.fields(cast(Any, cls)):
        if "tars" not in f.metadata:
            extra.append(f.name)
            continue
        if extra:
            raise TypeError(f"{cls.__name__}: the spec builds positionally, so {extra} must follow {f.name}")
        tag, kind, required, default = f.metadata["tars"]
        fields.append(Field(tag, f.name, kind, required, default))
    return StructSpec(cls.__name__, fields, cls)


def _nested(cls: type[_Struct]) -> StructKind:
    return StructKind(cls._spec)


# --------------------------------------------------------------------------------------------------------
# Frame: OTIMPack and OTIMHeader (omtp.md §2.2)


# Header and Pack are native classes under mypyc, unlike the payload structs: every frame builds one of
# each and every handler reads them, and a compiled class is built by its compiled ``__init__`` and read
# by direct loads, where the payload structs' attribute reads and stores are dictionary lookups. A native
# class cannot be ``frozen`` and keep a compiled ``__init__`` (the frozen check would refuse its stores), so
# these two are immutable by convention, as the core's per-message records are; ``unsafe_hash`` keeps them
# hashable by value, as the frozen structs are.


@dataclass(slots=True, unsafe_hash=True)
class Header:
    """OTIMHeader.  On input ``flags`` keeps only its low 32 bits, the only ones OMTP defines (§1.4)."""

    type: int
    version: int
    flags: int
    pack_id: str

    def __init__(self, type: int, version: int, flags: int, pack_id: str) -> None:
        self.type = type
        self.version = version
        self.flags = flags
        self.pack_id = pack_id

    def encode(self) -> bytes:
        """This header written bare, as a struct of its own."""
        return HEADER_SPEC.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Header:
        return cast(Header, _decode(HEADER_SPEC, data))


@dataclass(slots=True, unsafe_hash=True)
class Pack:
    """OTIMPack: a header and the bare encoding of the type's payload struct (or nothing)."""

    header: Header
    payload: bytes = b""

    def __init__(self, header: Header, payload: bytes = b"") -> None:
        self.header = header
        self.payload = payload

    def encode(self) -> bytes:
        """The bare OTIMPack, without the frame's length (:func:`encode_pack` writes the whole frame)."""
        return PACK_SPEC.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Pack:
        return cast(Pack, _decode(PACK_SPEC, data))


def _build_header(type_: int, version: int, flags: int, pack_id: str) -> Header:
    return Header(type_, version, flags & 0xFFFF_FFFF, pack_id)


HEADER_SPEC: Final = StructSpec(
    "OTIMHeader",
    [
        Field(0, "type", SHORT, REQ),
        Field(1, "version", SHORT, REQ),
        Field(2, "flags", LONG, REQ),
        Field(3, "pack_id", STRING, REQ),
    ],
    _build_header,
)
PACK_SPEC: Final = StructSpec(
    "OTIMPack", [Field(0, "header", StructKind(HEADER_SPEC), REQ), Field(1, "payload", BYTES, REQ)], Pack
)
_PACKS: Final = ListKind(StructKind(PACK_SPEC))


# A frame begins with its length (counting itself; written last, over these zeros) and 0A, the header's
# STRUCT_BEGIN at tag 0; the header ends where the payload's field begins: STRUCT_END, then tag 1
# SIMPLE_LIST of INT1.
_FRAME_BEGINS: Final = b"\x00\x00\x00\x00\x0a"
_PAYLOAD_HEAD: Final = b"\x0b\x1d\x00"


def encode_pack(pack: Pack) -> bytes:
    """One whole frame: the 4-byte big-endian length (counting itself) and the bare OTIMPack (§2.1)."""
    h = pack.header
    return encode_frame(h.type, h.version, h.flags, h.pack_id, pack.payload)


def encode_frame(type_: int, version: int, flags: int, pack_id_text: str, payload: bytes) -> bytes:
    """:func:`encode_pack` of the pack these fields make, without building its Header and Pack: the ack
    and the delivery of every message are written by this, into one ``BytesWriter``."""
    out = BytesWriter()
    out.write(_FRAME_BEGINS)
    put_int(out, 0, type_, T_INT2)
    put_int(out, 1, version, T_INT2)
    put_int(out, 2, flags, T_INT8)
    put_string(out, 3, pack_id_text.encode())
    out.write(_PAYLOAD_HEAD)
    put_int(out, 0, len(payload), T_INT4)
    out.write(payload)
    size = len(out)
    out[0] = u8(size >> 24 & 0xFF)
    out[1] = u8(size >> 16 & 0xFF)
    out[2] = u8(size >> 8 & 0xFF)
    out[3] = u8(size & 0xFF)
    return out.getvalue()


def _decode_pack_fast(buf: bytes, pos: int, end: int) -> Pack | None:
    """The OTIMPack in ``buf[pos:end]`` if it has the layout every known client writes, else None.

    That layout is: type and version as INT1 (version also ZERO), flags ZERO or INT1, packId STRING1,
    payload SIMPLE_LIST of fewer than 32 768 bytes, nothing else.  Anything else, including every kind of
    bad input, goes to the generic decoder, which alone decides what is an error.
    """
    if end - pos < 11:  # the shortest such body: 0A 00 tt 1C 2C 36 00 0B 1D 00 0C
        return None
    if buf[pos] != 0x0A or buf[pos + 1] != 0x00:  # header begins; type: tag 0 INT1
        return None
    type_ = _int1(buf[pos + 2])
    version_head = buf[pos + 3]
    p = pos + 4
    if version_head == 0x10:
        version = _int1(buf[p])
        p += 1
    elif version_head == 0x1C:
        version = 0
    else:
        return None
    flags_head = buf[p]
    if flags_head == 0x2C:
        flags = 0
        p += 1
    elif flags_head == 0x20:
        flags = buf[p + 1]
        if flags > 0x7F:  # an INT1 is signed; keep the low 32 bits of the sign-extended value (§1.4)
            flags |= 0xFFFF_FF00
        p += 2
    else:
        return None
    if buf[p] != 0x36:
        return None
    stop = p + 2 + buf[p + 1]
    if stop + 4 > end or not _has_at(buf, stop, _PAYLOAD_HEAD):  # 0B 1D 00
        return None
    try:
        pack_id = buf[p + 2 : stop].decode()
    except UnicodeDecodeError:
        return None
    length_head = buf[stop + 3]
    p = stop + 4
    if length_head == 0x0C:
        n = 0
    elif length_head == 0x00 and p < end and buf[p] <= 0x7F:
        n = buf[p]
        p += 1
    elif length_head == 0x01 and p + 2 <= end:
        n = _int_at(buf, p, 2)
        p += 2
    else:
        return None
    if n < 0 or p + n != end:
        return None
    return Pack(Header(type_, version, flags, pack_id), buf[p:end])


class Decoder:
    """Splits a received byte stream into packs (omtp.md §2.1, §2.4).

    Bytes of an incomplete frame wait in one ``bytearray``; the length it needs is remembered, so small
    reads neither rescan nor copy the pending frame.  A length outside ``4..max_frame`` or a body that is
    not an OTIMPack is fatal: the connection must be closed, and every later ``feed`` raises again.
    Frames that preceded a bad one in the same ``feed`` are dropped with it.
    """

    __slots__ = ("_buf", "_error", "_need", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._need = 4
        self._error: str | None = None

    def feed(self, data: Buf) -> list[Pack]:
        """Every pack completed by ``data``, in order; OmtpDecodeError on a bad frame."""
        if self._error is not None:
            raise OmtpDecodeError(f"decoder stopped by an earlier error: {self._error}")
        buf = self._buf
        held = bool(buf)
        if held:
            buf += data
            if len(buf) < self._need:
                return []
        # The fast decoders read ``bytes`` (mypyc indexes and slices them natively): one copy per read
        # when a frame spans reads, none when the read is whole frames (uvloop hands over ``bytes``).
        src = bytes(buf) if held else data if isinstance(data, bytes) else bytes(data)
        packs = []
        pos = 0
        end = len(src)
        try:
            while end - pos >= 4:
                length = u32_at(src, pos)
                if length < 4 or length > self.max_frame:
                    raise OmtpDecodeError(f"frame length {length} outside 4..{self.max_frame}")
                stop = pos + length
                if stop > end:
                    self._need = length
                    break
                pack = _decode_pack_fast(src, pos + 4, stop)
                packs.append(PACK_SPEC.decode(src, pos + 4, stop) if pack is None else pack)
                pos = stop
            else:
                self._need = 4
        except TarsDecodeError as exc:
            self._error = str(exc)
            raise OmtpDecodeError(f"bad frame body: {exc}") from None
        except OmtpDecodeError as err:  # not ``exc``: mypyc gives one name one type in a function
            self._error = str(err)
            raise
        if held:
            del buf[:pos]
        elif pos < end:
            buf += memoryview(data)[pos:]
        return packs


# --------------------------------------------------------------------------------------------------------
# Payload structs (omtp.md §4), each in tag order.  "Always written" optional fields are ENUM or struct kinds.

_STRINGS: Final = ListKind(STRING)
_STR1_TAG1: Final = STRING1_PREFIX[1]
_OK_ERROR_CODE: Final = b"\x0c\x16\x00"  # CommonErrorCode {0, ""}, bare


# CommonErrorCode, PushInfo, MsgReq and MsgAck, the structs of every message and every receipt, are native
# classes under mypyc, as Header and Pack are and for the same reasons: their fast decoders build them with
# a compiled ``__init__``, and the adapter reads them by direct loads.


@dataclass(slots=True, unsafe_hash=True)
class CommonErrorCode:
    code: int = _f(0, INT, REQ)
    desc: str = _f(1, STRING, REQ)

    def __init__(self, code: int = 0, desc: str = "") -> None:
        self.code = code
        self.desc = desc

    @classmethod
    def decode(cls, data: bytes) -> CommonErrorCode:
        return cast(CommonErrorCode, _decode(ERROR_CODE_SPEC, data))

    def encode(self) -> bytes:
        """Same bytes as the generic encoder; {0, ""}, the answer to most requests, is a constant."""
        code = self.code
        desc = self.desc
        if desc == "" and code == 0 and isinstance(code, int):
            return _OK_ERROR_CODE
        code_field = int_field(0, code, T_INT4)
        data = desc.encode()
        n = len(data)
        return b"".join((code_field, _STR1_TAG1[n] if n < 256 else string_prefix(1, n), data))


ERROR_CODE_SPEC: Final = _native_struct(CommonErrorCode)
_DEFAULT_ERROR_CODE: Final = cast(CommonErrorCode, ERROR_CODE_SPEC.default)
_ERROR_CODE: Final = StructKind(ERROR_CODE_SPEC)
# The seed declares tag 0 of LoginResp, MsgAck and HotSessionResp as a plain ``int code`` (§3.8, §4).
_ERROR_CODE_OR_INT: Final = StructKind(
    ERROR_CODE_SPEC, alt=INT, convert=lambda code: CommonErrorCode(code, "")
)
_OK_ERROR_CODE_FIELD: Final = b"\x0a\x0c\x16\x00\x0b"  # errorCode {0, ""} at tag 0


@_struct
@dataclass(frozen=True, slots=True)
class LoginReq(_Struct):
    client_id: str = _f(0, STRING, REQ)
    user_name: str = _f(1, STRING, REQ)
    password: str = _f(2, STRING)
    device_type: int = _f(3, ENUM)
    device_name: str = _f(4, STRING)
    device_id: str = _f(5, STRING)
    version: str = _f(6, STRING)


@_struct
@dataclass(frozen=True, slots=True)
class LoginResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE_OR_INT, REQ)
    client_id: str = _f(1, STRING)
    extra_data: str = _f(2, STRING)


@_struct
@dataclass(frozen=True, slots=True)
class KickOutReq(_Struct):
    device_type: int = _f(0, ENUM, REQ)
    device_id: str = _f(1, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class KickOutAck(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)


@dataclass(slots=True, unsafe_hash=True)
class PushInfo:
    title: str = _f(0, STRING, REQ)
    summary: str = _f(1, STRING, REQ)
    url: str = _f(2, STRING)

    def __init__(self, title: str = "", summary: str = "", url: str = "") -> None:
        self.title = title
        self.summary = summary
        self.url = url

    def encode(self) -> bytes:
        return PUSH_INFO_SPEC.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> PushInfo:
        return cast(PushInfo, _decode(PUSH_INFO_SPEC, data))


PUSH_INFO_SPEC: Final = _native_struct(PushInfo)
_DEFAULT_PUSH_INFO: Final = cast(PushInfo, PUSH_INFO_SPEC.default)
# The seed declares MsgReq.pushInfo as a string; it arrives as the summary (§4.4).
_PUSH_INFO: Final = StructKind(PUSH_INFO_SPEC, alt=STRING, convert=lambda summary: PushInfo("", summary))
_EMPTY_PUSH_INFO_FIELD: Final = b"\x5a\x06\x00\x16\x00\x0b"  # pushInfo {"", ""} at tag 5


@dataclass(slots=True, unsafe_hash=True)
class MsgReq:
    session_id: str = _f(0, STRING, REQ)
    seq_id: int = _f(1, LONG)
    timestamp: int = _f(2, LONG)
    from_: str = _f(3, STRING, REQ)
    to: str = _f(4, STRING, REQ)
    push_info: PushInfo = _f(5, _PUSH_INFO)
    content_type: int = _f(6, INT)
    content: str = _f(7, STRING)
    status: int = _f(8, INT)

    def __init__(
        self,
        session_id: str = "",
        seq_id: int = 0,
        timestamp: int = 0,
        from_: str = "",
        to: str = "",
        push_info: PushInfo | None = None,
        content_type: int = 0,
        content: str = "",
        status: int = 0,
    ) -> None:
        self.session_id = session_id
        self.seq_id = seq_id
        self.timestamp = timestamp
        self.from_ = from_
        self.to = to
        self.push_info = _DEFAULT_PUSH_INFO if push_info is None else push_info
        self.content_type = content_type
        self.content = content
        self.status = status

    def encode(self) -> bytes:
        """Same bytes as the generic encoder, without its per-field dispatch: every message passes here."""
        p = self.push_info
        return encode_msg_req(
            self.session_id,
            self.seq_id,
            self.timestamp,
            self.from_,
            self.to,
            self.content_type,
            self.content,
            self.status,
            p.title,
            p.summary,
            p.url,
        )

    @classmethod
    def decode(cls, data: bytes) -> MsgReq:
        """As the generic decoder (which alone judges anything but the layout clients write), faster."""
        value = _decode_msg_req_fast(data)
        return cast(MsgReq, _decode(MSG_REQ_SPEC, data)) if value is None else value


@dataclass(slots=True, unsafe_hash=True)
class MsgAck:
    error_code: CommonErrorCode = _f(0, _ERROR_CODE_OR_INT, REQ)
    session_id: str = _f(1, STRING, REQ)
    seq_id: int = _f(2, LONG, REQ)
    timestamp: int = _f(3, LONG, REQ)

    def __init__(
        self,
        error_code: CommonErrorCode | None = None,
        session_id: str = "",
        seq_id: int = 0,
        timestamp: int = 0,
    ) -> None:
        self.error_code = _DEFAULT_ERROR_CODE if error_code is None else error_code
        self.session_id = session_id
        self.seq_id = seq_id
        self.timestamp = timestamp

    def encode(self) -> bytes:
        """Same bytes as the generic encoder, without its per-field dispatch: every message passes here."""
        e = self.error_code
        return encode_msg_ack(e.code, e.desc, self.session_id, self.seq_id, self.timestamp)

    @classmethod
    def decode(cls, data: bytes) -> MsgAck:
        """As the generic decoder (which alone judges anything but the layout clients write), faster."""
        value = _decode_msg_ack_fast(data)
        return cast(MsgAck, _decode(MSG_ACK_SPEC, data)) if value is None else value


MSG_REQ_SPEC: Final = _native_struct(MsgReq)
MSG_ACK_SPEC: Final = _native_struct(MsgAck)


# Hand-written decoders of MsgReq and MsgAck, the payloads of every chat message and every receipt.  Like
# ``_decode_pack_fast`` they read only the layout TarsCpp writes (each known field at most once, in ascending
# tag order, with one-byte heads; integers ZERO/INT1…INT8 within the declared width; strings STRING1/STRING4;
# PushInfo and CommonErrorCode as structs) and return None for anything else, bad input included, which the
# generic decoder then judges: errors and lenient forms stay exactly its own.  Values are read without
# bounds checks where an overrun cannot go unnoticed: an index past the end raises IndexError (integers are
# read byte by byte, by ``_int_at``), and a string sliced short leaves ``p`` beyond ``end``, which the final
# ``p == end`` test (or the next index) catches.  A byte sequence the fast path accepts is therefore one the
# generic decoder accepts too, with the same values: the property tests hold the two to that.
_FAST_DECODE_MISS: Final = (IndexError, UnicodeDecodeError)
_INT_SIZE: Final = (1, 2, 4, 8)
_EMPTY_PUSH_INFO_BODY: Final = _EMPTY_PUSH_INFO_FIELD[1:]  # 06 00 16 00 0B


def encode_msg_req(
    session_id_text: str,
    seq_id: int,
    timestamp: int,
    from_text: str,
    to_text: str,
    content_type: int,
    content_text: str,
    status: int = 0,
    title: str = "",
    summary: str = "",
    url: str = "",
) -> bytes:
    """The bare MsgReq of these fields (``push_info`` as its three strings), the bytes of
    :meth:`MsgReq.encode`, without building the MsgReq and its PushInfo: every delivery is written by
    this."""
    out = BytesWriter()
    put_string(out, 0, session_id_text.encode())
    if seq_id:
        put_int(out, 1, seq_id)
    if timestamp:
        put_int(out, 2, timestamp)
    put_string(out, 3, from_text.encode())
    put_string(out, 4, to_text.encode())
    if title or summary or url:
        push = bytearray()
        _PUSH_INFO.write(push, 5, PushInfo(title, summary, url))
        out.write(push)
    else:
        out.write(_EMPTY_PUSH_INFO_FIELD)
    if content_type:
        put_int(out, 6, content_type, T_INT4)
    if content_text:
        put_string(out, 7, content_text.encode())
    if status:
        put_int(out, 8, status, T_INT4)
    return out.getvalue()


def encode_msg_ack(code: int, desc: str, session_id_text: str, seq_id: int, timestamp: int) -> bytes:
    """The bare MsgAck of these fields (``error_code`` as its code and desc), the bytes of
    :meth:`MsgAck.encode`, without building the MsgAck and its CommonErrorCode: every ack is written by
    this."""
    out = BytesWriter()
    if code == 0 and not desc:
        out.write(_OK_ERROR_CODE_FIELD)
    else:
        head = bytearray()
        _ERROR_CODE.write(head, 0, CommonErrorCode(code, desc))
        out.write(head)
    put_string(out, 1, session_id_text.encode())
    put_int(out, 2, seq_id)
    put_int(out, 3, timestamp)
    return out.getvalue()


_OK_ERROR_CODE_BODY: Final = _OK_ERROR_CODE_FIELD[1:]  # 0C 16 00 0B


def _int1(b: int) -> int:
    """An INT1's byte as the signed value it is."""
    return b - 0x100 if b > 0x7F else b


def _int_at(buf: bytes, p: int, size: int) -> int:
    """The big-endian signed integer of ``size`` (1, 2, 4 or 8) bytes at ``p``; IndexError if the buffer
    ends first. ``read_i64_be`` and its kin are one native load each under mypyc (a loop of shifts on
    tagged integers cost ~150 instructions for a timestamp; a ``struct`` call more, and a tuple)."""
    if size == 8:
        return int(read_i64_be(buf, p))
    if size == 4:
        return int(read_i32_be(buf, p))
    if size == 2:
        return int(read_i16_be(buf, p))
    return _int1(buf[p])


def _has_at(buf: bytes, p: int, part: bytes) -> bool:
    """``buf.startswith(part, p)`` in compiled comparisons: the method parses its arguments as a tuple
    (``PyArg_ParseTuple``), about 1,000 instructions a call under callgrind, four calls a message."""
    if p < 0 or p + len(part) > len(buf):
        return False
    return all(buf[p + i] == part[i] for i in range(len(part)))  # mypyc compiles this into a loop


def _string4(buf: bytes, p: int) -> tuple[str, int]:
    """The STRING4 whose head is at ``p`` and the position after it (possibly beyond the buffer's end)."""
    stop = p + 5 + u32_at(buf, p + 1)
    return buf[p + 5 : stop].decode(), stop


def _decode_msg_req_fast(buf: bytes) -> MsgReq | None:
    """The MsgReq that is the whole of ``buf`` if it has the layout TarsCpp writes, else None."""
    end = len(buf)
    try:
        h = buf[0]
        if h == 0x06:
            p = 2 + buf[1]
            session_id = buf[2:p].decode()
        elif h == 0x07:
            session_id, p = _string4(buf, 0)
        else:
            return None
        h = buf[p]
        seq_id = 0
        if h >> 4 == 1:  # optional long seqId
            t = h & 0x0F
            if t <= T_INT8:
                seq_id = _int_at(buf, p + 1, _INT_SIZE[t])
                p += 1 + _INT_SIZE[t]
            elif t == T_ZERO_TAG:
                p += 1
            else:
                return None
            h = buf[p]
        timestamp = 0
        if h >> 4 == 2:  # optional long timestamp
            t = h & 0x0F
            if t <= T_INT8:
                timestamp = _int_at(buf, p + 1, _INT_SIZE[t])
                p += 1 + _INT_SIZE[t]
            elif t == T_ZERO_TAG:
                p += 1
            else:
                return None
            h = buf[p]
        if h == 0x36:
            stop = p + 2 + buf[p + 1]
            from_ = buf[p + 2 : stop].decode()
        elif h == 0x37:
            from_, stop = _string4(buf, p)
        else:
            return None
        p = stop
        h = buf[p]
        if h == 0x46:
            stop = p + 2 + buf[p + 1]
            to = buf[p + 2 : stop].decode()
        elif h == 0x47:
            to, stop = _string4(buf, p)
        else:
            return None
        p = stop
        push_info = _DEFAULT_PUSH_INFO
        content_type = 0
        content = ""
        status = 0
        if p < end and buf[p] == 0x5A:  # optional struct PushInfo, always written
            p += 1
            if _has_at(buf, p, _EMPTY_PUSH_INFO_BODY):
                p += 5
            else:
                h = buf[p]
                if h == 0x06:
                    stop = p + 2 + buf[p + 1]
                    title = buf[p + 2 : stop].decode()
                elif h == 0x07:
                    title, stop = _string4(buf, p)
                else:
                    return None
                p = stop
                h = buf[p]
                if h == 0x16:
                    stop = p + 2 + buf[p + 1]
                    summary = buf[p + 2 : stop].decode()
                elif h == 0x17:
                    summary, stop = _string4(buf, p)
                else:
                    return None
                p = stop
                h = buf[p]
                url = ""
                if h == 0x26:
                    stop = p + 2 + buf[p + 1]
                    url = buf[p + 2 : stop].decode()
                    p = stop
                    h = buf[p]
                elif h == 0x27:
                    url, p = _string4(buf, p)
                    h = buf[p]
                if h != 0x0B:
                    return None
                p += 1
                push_info = PushInfo(title, summary, url)
        if p < end and buf[p] >> 4 == 6:  # optional int contentType
            t = buf[p] & 0x0F
            if t <= T_INT4:
                content_type = _int_at(buf, p + 1, _INT_SIZE[t])
                p += 1 + _INT_SIZE[t]
            elif t == T_ZERO_TAG:
                p += 1
            else:
                return None
        if p < end:  # optional string content
            h = buf[p]
            if h == 0x76:
                stop = p + 2 + buf[p + 1]
                content = buf[p + 2 : stop].decode()
                p = stop
            elif h == 0x77:
                content, p = _string4(buf, p)
        if p < end and buf[p] >> 4 == 8:  # optional int status
            t = buf[p] & 0x0F
            if t <= T_INT4:
                status = _int_at(buf, p + 1, _INT_SIZE[t])
                p += 1 + _INT_SIZE[t]
            elif t == T_ZERO_TAG:
                p += 1
            else:
                return None
        if p != end:
            return None
    except _FAST_DECODE_MISS:
        return None
    return MsgReq(session_id, seq_id, timestamp, from_, to, push_info, content_type, content, status)


def _decode_msg_ack_fast(buf: bytes) -> MsgAck | None:
    """The MsgAck that is the whole of ``buf`` if it has the layout TarsCpp writes, else None."""
    end = len(buf)
    try:
        if buf[0] != 0x0A:  # require struct CommonErrorCode (the seed's plain int goes the generic way)
            return None
        if _has_at(buf, 1, _OK_ERROR_CODE_BODY):
            error_code = _DEFAULT_ERROR_CODE
            p = 5
        else:
            h = buf[1]
            if h <= T_INT4:  # require int code: tag 0, INT1/INT2/INT4
                code = _int_at(buf, 2, _INT_SIZE[h])
                p = 2 + _INT_SIZE[h]
            elif h == T_ZERO_TAG:
                code = 0
                p = 2
            else:
                return None
            h = buf[p]
            if h == 0x16:
                stop = p + 2 + buf[p + 1]
                desc = buf[p + 2 : stop].decode()
            elif h == 0x17:
                desc, stop = _string4(buf, p)
            else:
                return None
            if buf[stop] != 0x0B:
                return None
            p = stop + 1
            error_code = CommonErrorCode(code, desc)
        h = buf[p]
        if h == 0x16:
            stop = p + 2 + buf[p + 1]
            session_id = buf[p + 2 : stop].decode()
        elif h == 0x17:
            session_id, stop = _string4(buf, p)
        else:
            return None
        p = stop
        h = buf[p]
        if h >> 4 != 2:  # require long seqId
            return None
        t = h & 0x0F
        if t <= T_INT8:
            seq_id = _int_at(buf, p + 1, _INT_SIZE[t])
            p += 1 + _INT_SIZE[t]
        elif t == T_ZERO_TAG:
            seq_id = 0
            p += 1
        else:
            return None
        h = buf[p]
        if h >> 4 != 3:  # require long timestamp
            return None
        t = h & 0x0F
        if t <= T_INT8:
            timestamp = _int_at(buf, p + 1, _INT_SIZE[t])
            p += 1 + _INT_SIZE[t]
        elif t == T_ZERO_TAG:
            timestamp = 0
            p += 1
        else:
            return None
        if p != end:
            return None
    except _FAST_DECODE_MISS:
        return None
    return MsgAck(error_code, session_id, seq_id, timestamp)


@_struct
@dataclass(frozen=True, slots=True)
class MsgControl(_Struct):
    command: int = _f(0, ENUM, REQ)
    session_id: str = _f(1, STRING, REQ)
    pack_id: str = _f(2, STRING, REQ)
    seq_id: int = _f(3, LONG, REQ)
    content: str = _f(4, STRING)


@_struct
@dataclass(frozen=True, slots=True)
class MsgReaded(_Struct):
    session_id: str = _f(0, STRING, REQ)
    seq_id: int = _f(1, LONG, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class HotSessionReq(_Struct):
    timestamp: int = _f(0, LONG, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class HotSessionItem(_Struct):
    session_id: str = _f(0, STRING, REQ)
    read_seq_id: int = _f(1, LONG, REQ)
    unread_count: int = _f(2, INT, REQ, default=0)
    last_msgs: tuple[Pack, ...] = _f(3, _PACKS)
    attribute: str = _f(4, STRING)


@_struct
@dataclass(frozen=True, slots=True)
class HotSessionResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE_OR_INT, REQ)
    timestamp: int = _f(1, LONG, REQ)
    sessions: tuple[HotSessionItem, ...] = _f(2, ListKind(_nested(HotSessionItem)), REQ)


@_struct
@dataclass(frozen=True, slots=True)
class MsgHighPrioritySyncReq(_Struct):
    seq_id: int = _f(0, LONG, REQ)
    count: int = _f(1, INT, REQ, default=200)


@_struct
@dataclass(frozen=True, slots=True)
class MsgHighPrioritySyncResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    last_seq_id: int = _f(1, LONG, REQ)
    msgs: tuple[Pack, ...] = _f(2, _PACKS)


@_struct
@dataclass(frozen=True, slots=True)
class HistoryMsgPullReq(_Struct):
    session_id: str = _f(0, STRING)
    seq_id: int = _f(1, LONG, REQ)
    count: int = _f(2, INT, REQ, default=200)


@_struct
@dataclass(frozen=True, slots=True)
class HistoryMsgPullResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    session_id: str = _f(1, STRING, REQ)
    msgs: tuple[Pack, ...] = _f(2, _PACKS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class SessionMonitor(_Struct):
    session_id: str = _f(0, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class SyncDataReq(_Struct):
    command: int = _f(0, ENUM, REQ)
    content: str = _f(1, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatInfo(_Struct):
    group_id: str = _f(0, STRING, REQ)
    name: str = _f(1, STRING, REQ)
    avatar: str = _f(2, STRING)
    creator_id: str = _f(3, STRING, REQ)
    desc: str = _f(4, STRING)
    member_limit: int = _f(5, INT)
    create_time: int = _f(6, LONG)
    update_time: int = _f(7, LONG)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatSyncReq(_Struct):
    timestamp: int = _f(0, LONG, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatSyncResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    timestamp: int = _f(1, LONG, REQ)
    group_chats: tuple[GroupChatInfo, ...] = _f(2, ListKind(_nested(GroupChatInfo)), REQ)
    group_ids: tuple[str, ...] = _f(3, _STRINGS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatCreateReq(_Struct):
    group_info: GroupChatInfo = _f(0, _nested(GroupChatInfo), REQ)
    member_ids: tuple[str, ...] = _f(1, _STRINGS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatCreateResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    group_id: str = _f(1, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatJoinQuitReq(_Struct):
    """42 JOIN and 43 QUIT.  ``operator_id`` is None in the original layout {0 groupId, 1 memberIds} and set
    when a 43 came in the seed's layout {0 groupId, 1 operatorId, 2 memberIds} (§4.5); encode writes the
    layout it was decoded from."""

    group_id: str = _f(0, STRING, REQ)
    member_ids: tuple[str, ...] = _f(1, _STRINGS, REQ)
    operator_id: str | None = None

    def encode(self) -> bytes:
        if self.operator_id is None:
            return self._spec.encode(self)
        return _JOIN_QUIT_SEED_SPEC.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """The original layout, else the seed's (which has a STRING where the original has the LIST)."""
        try:
            return cast(Self, cls._spec.decode(data))
        except TarsDecodeError as exc:
            try:
                return cast(Self, _JOIN_QUIT_SEED_SPEC.decode(data))
            except TarsDecodeError:
                raise OmtpDecodeError(*exc.args) from None


_JOIN_QUIT_SEED_SPEC: Final = StructSpec(
    "GroupChatQuitReq",
    [
        Field(0, "group_id", STRING, REQ),
        Field(1, "operator_id", STRING, REQ),
        Field(2, "member_ids", _STRINGS, REQ),
    ],
    lambda group_id, operator_id, member_ids: GroupChatJoinQuitReq(group_id, member_ids, operator_id),
)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatDismissReq(_Struct):
    group_id: str = _f(0, STRING, REQ)
    operator_id: str = _f(1, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatCreatorUpdateReq(_Struct):
    group_id: str = _f(0, STRING, REQ)
    operator_id: str = _f(1, STRING, REQ)
    new_creator_id: str = _f(2, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatInfoUpdateReq(_Struct):
    operator_id: str = _f(0, STRING, REQ)
    group_info: GroupChatInfo = _f(1, _nested(GroupChatInfo), REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatMemberGetReq(_Struct):
    group_id: str = _f(0, STRING, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class GroupChatMemberGetResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    group_id: str = _f(1, STRING, REQ)
    member_ids: tuple[str, ...] = _f(2, _STRINGS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class FriendInfo(_Struct):
    user_id: str = _f(0, STRING, REQ)
    friend_id: str = _f(1, STRING, REQ)
    remark: str = _f(2, STRING, REQ)


_FRIENDS: Final = ListKind(_nested(FriendInfo))


@_struct
@dataclass(frozen=True, slots=True)
class FriendAddReq(_Struct):
    friends: tuple[FriendInfo, ...] = _f(0, _FRIENDS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class FriendDelReq(_Struct):
    friends: tuple[FriendInfo, ...] = _f(0, _FRIENDS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class FriendSyncReq(_Struct):
    timestamp: int = _f(0, LONG, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class FriendSyncResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    friends: tuple[FriendInfo, ...] = _f(1, _FRIENDS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class UserInfo(_Struct):
    user_id: str = _f(0, STRING, REQ)
    name: str = _f(1, STRING, REQ)
    avatar: str = _f(2, STRING)
    mobile: str = _f(3, STRING)
    birthday: int = _f(4, LONG)


@_struct
@dataclass(frozen=True, slots=True)
class UserInfoGetReq(_Struct):
    user_ids: tuple[str, ...] = _f(0, _STRINGS, REQ)


@_struct
@dataclass(frozen=True, slots=True)
class UserInfoGetResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    user_infos: tuple[UserInfo, ...] = _f(1, ListKind(_nested(UserInfo)), REQ)


@_struct
@dataclass(frozen=True, slots=True)
class UserInfoUpdateReq(_Struct):
    user_info: UserInfo = _f(0, _nested(UserInfo), REQ)


@_struct
@dataclass(frozen=True, slots=True)
class UserAttribute(_Struct):
    """Also the whole 57 request, where the seed sends no payload at all: empty data decodes to all-empty."""

    user_id: str = _f(0, STRING, REQ)
    friend_id: str = _f(1, STRING, REQ)
    attr_name: str = _f(2, STRING, REQ)
    attr_value: str = _f(3, STRING, REQ)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        if not data:
            return cls()
        return cast(Self, _decode(cls._spec, data))


@_struct
@dataclass(frozen=True, slots=True)
class UserAttrSetReq(_Struct):
    attribute: UserAttribute = _f(0, _nested(UserAttribute), REQ)


@_struct
@dataclass(frozen=True, slots=True)
class UserAttrGetResp(_Struct):
    error_code: CommonErrorCode = _f(0, _ERROR_CODE, REQ)
    attributes: tuple[UserAttribute, ...] = _f(1, ListKind(_nested(UserAttribute)), REQ)


@_struct
@dataclass(frozen=True, slots=True)
class SessionAttrSetReq(_Struct):
    user_id: str = _f(0, STRING, REQ)
    session_id: str = _f(1, STRING, REQ)
    attr_name: str = _f(2, STRING, REQ)
    attr_value: str = _f(3, STRING, REQ)
