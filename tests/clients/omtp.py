"""An independent OMTP test client, written from ``/work/shared/protocols/omtp.md``.

It must not import anything from ``polyim``: it exists to catch bugs of the server's codec.

* Payload structs (§4) are dataclasses with ``encode() -> bytes`` (bare Tars, byte-exact with
  TarsCpp's rules of §3.8) and ``decode(bytes)`` / ``from_fields(dict)``.
* Frames (§2): :func:`encode_frame`, :func:`decode_frame`, :class:`OtimHeader`, :class:`OtimPack`.
* :class:`OmtpClient`: asyncio TCP client that matches responses by packId and queues pushes.
  With ``strict=True`` (default) every received frame body and every payload decoded by a typed
  wrapper is re-encoded and compared with the bytes received, so a server that does not encode
  canonically (wrong integer narrowing, optional field not omitted, ...) fails the test with an
  :class:`OmtpProtocolError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from types import TracebackType
from typing import Self, TypeVar

from .tars_mini import (
    Fields,
    TarsDecodeError,
    TarsWriter,
    decode_struct,
    get_bytes,
    get_int,
    get_str,
    get_str_list,
    get_struct,
    get_struct_list,
)

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------


class PT(IntEnum):
    """PACK_TYPE (§5.1)."""

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


# OTIMHeader.flags bits (§1.4)
ACK = 0x001
DUP = 0x002
COUNTER = 0x004
OVERRIDE = 0x008
REVOKE = 0x010
HIGHPRJ = 0x020
COMPRESS_MASK = 0x1C0
CRYPTO_MASK = 0xE00


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
    NONE = 0
    FRIEND = 1
    GROUP = 2
    GROUPINFO = 3
    GROUPMEMBER = 4


MAX_FRAME = 640_000


def new_pack_id() -> str:
    return str(uuid.uuid4())


def single_session_id(a: str, b: str) -> str:
    """Canonical single-chat sessionId ``LP_G1_<a>_<b>``, a the byte-wise smaller uid (§5.3.1)."""
    lo, hi = sorted((a, b))
    return f"LP_G1_{lo}_{hi}"


def group_id(gid: int) -> str:
    return f"GC_{gid}"


def _short(v: int) -> int:
    """Store an int in a C ``short`` (wraps like TarsCpp: 40000 -> -25536)."""
    return ((int(v) + 0x8000) & 0xFFFF) - 0x8000


# --------------------------------------------------------------------------------------------
# Struct base
# --------------------------------------------------------------------------------------------


class TarsStruct:
    """Base of every payload struct: ``write`` fields, ``from_fields`` a decoded table."""

    def write(self, w: TarsWriter) -> None:
        raise NotImplementedError

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        raise NotImplementedError

    def encode(self) -> bytes:
        """Bare encoding (§3.7)."""
        w = TarsWriter()
        self.write(w)
        return w.to_bytes()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        return cls.from_fields(decode_struct(data))


S = TypeVar("S", bound=TarsStruct)


def _structs(items: Sequence[TarsStruct]) -> list[bytes]:
    return [x.encode() for x in items]


# --------------------------------------------------------------------------------------------
# Common and connection (§4.2, §4.3)
# --------------------------------------------------------------------------------------------


@dataclass
class CommonErrorCode(TarsStruct):
    code: int = 0
    desc: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.code).write_string(1, self.desc)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0, bits=32), get_str(f, 1))


def _error_at_0(f: Fields, *, seed_int: bool = False) -> CommonErrorCode:
    """Tag 0 ``errorCode`` struct; with ``seed_int`` the seed's ``int code`` is accepted too."""
    if seed_int and isinstance(f.get(0), int):
        return CommonErrorCode(get_int(f, 0, bits=32), "")
    return CommonErrorCode.from_fields(get_struct(f, 0))


@dataclass
class _WithError(TarsStruct):
    """A response whose tag 0 is ``struct CommonErrorCode errorCode``."""

    error: CommonErrorCode = field(default_factory=CommonErrorCode)

    @property
    def code(self) -> int:
        return self.error.code

    @property
    def ok(self) -> bool:
        return self.error.code == 0


@dataclass
class LoginReq(TarsStruct):
    client_id: str = ""
    user_name: str = ""
    password: str = ""
    device_type: int = 0
    device_name: str = ""
    device_id: str = ""
    version: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.client_id).write_string(1, self.user_name)
        w.opt_string(2, self.password)
        w.write_int(3, self.device_type)  # optional enum: always written
        w.opt_string(4, self.device_name).opt_string(5, self.device_id).opt_string(6, self.version)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            get_str(f, 0),
            get_str(f, 1),
            get_str(f, 2, required=False),
            get_int(f, 3, required=False, bits=32),
            get_str(f, 4, required=False),
            get_str(f, 5, required=False),
            get_str(f, 6, required=False),
        )


@dataclass
class LoginResp(_WithError):
    client_id: str = ""
    extra_data: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode())
        w.opt_string(1, self.client_id).opt_string(2, self.extra_data)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            _error_at_0(f, seed_int=True),
            get_str(f, 1, required=False),
            get_str(f, 2, required=False),
        )


@dataclass
class KickOutReq(TarsStruct):
    device_type: int = 0
    device_id: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.device_type).write_string(1, self.device_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0, bits=32), get_str(f, 1))


@dataclass
class KickOutAck(_WithError):
    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode())

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f))


# --------------------------------------------------------------------------------------------
# Frames (§2)
# --------------------------------------------------------------------------------------------


@dataclass
class OtimHeader(TarsStruct):
    type: int = 0
    version: int = 1
    flags: int = 0
    pack_id: str = ""

    @property
    def is_ack(self) -> bool:
        return bool(self.flags & ACK)

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, _short(self.type)).write_int(1, _short(self.version))
        w.write_int(2, self.flags).write_string(3, self.pack_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0, bits=16), get_int(f, 1, bits=16), get_int(f, 2), get_str(f, 3))


@dataclass
class OtimPack(TarsStruct):
    header: OtimHeader = field(default_factory=OtimHeader)
    payload: bytes = b""

    @property
    def type(self) -> int:
        return self.header.type

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.header.encode()).write_bytes(1, self.payload)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(OtimHeader.from_fields(get_struct(f, 0)), get_bytes(f, 1))

    def body(self) -> TarsStruct | None:
        """The payload decoded by pack type (messages, control, read, sync); else None."""
        cls = _PUSH_BODY.get(self.header.type)
        return None if cls is None else cls.decode(self.payload)

    @property
    def msg(self) -> MsgReq:
        """The payload as MsgReq (for packs of type 14/15/16)."""
        return MsgReq.decode(self.payload)


def encode_frame(header: OtimHeader, payload: bytes = b"") -> bytes:
    """Length prefix (big-endian, includes itself) + bare OTIMPack (§2.1)."""
    body = OtimPack(header, payload).encode()
    return struct.pack(">I", len(body) + 4) + body


def decode_pack(body: bytes) -> OtimPack:
    """A frame body (bare OTIMPack) without the length prefix."""
    return OtimPack.decode(body)


def decode_frame(frame: bytes) -> tuple[OtimHeader, bytes]:
    """One complete frame including its 4-byte length prefix."""
    if len(frame) < 4:
        raise TarsDecodeError("frame shorter than its length prefix")
    (length,) = struct.unpack(">I", frame[:4])
    if length != len(frame):
        raise TarsDecodeError(f"length prefix {length} but frame has {len(frame)} bytes")
    pack = decode_pack(frame[4:])
    return pack.header, pack.payload


# --------------------------------------------------------------------------------------------
# Messages (§4.4)
# --------------------------------------------------------------------------------------------


@dataclass
class PushInfo(TarsStruct):
    title: str = ""
    summary: str = ""
    url: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.title).write_string(1, self.summary).opt_string(2, self.url)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1), get_str(f, 2, required=False))


@dataclass
class MsgReq(TarsStruct):
    session_id: str = ""
    seq_id: int = 0
    timestamp: int = 0
    from_: str = ""
    to: str = ""
    push_info: PushInfo = field(default_factory=PushInfo)
    content_type: int = 0
    content: str = ""
    status: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.session_id).opt_int(1, self.seq_id).opt_int(2, self.timestamp)
        w.write_string(3, self.from_).write_string(4, self.to)
        w.write_struct(5, self.push_info.encode())  # optional struct: always written
        w.opt_int(6, self.content_type).opt_string(7, self.content).opt_int(8, self.status)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        if isinstance(f.get(5), str):  # the seed's `string pushInfo`
            push = PushInfo(summary=get_str(f, 5))
        else:
            push = PushInfo.from_fields(get_struct(f, 5)) if 5 in f else PushInfo()
        return cls(
            get_str(f, 0),
            get_int(f, 1, required=False),
            get_int(f, 2, required=False),
            get_str(f, 3),
            get_str(f, 4),
            push,
            get_int(f, 6, required=False, bits=32),
            get_str(f, 7, required=False),
            get_int(f, 8, required=False, bits=32),
        )


@dataclass
class MsgAck(_WithError):
    session_id: str = ""
    seq_id: int = 0
    timestamp: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_string(1, self.session_id)
        w.write_int(2, self.seq_id).write_int(3, self.timestamp)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f, seed_int=True), get_str(f, 1), get_int(f, 2), get_int(f, 3))


@dataclass
class MsgControl(TarsStruct):
    command: int = 0
    session_id: str = ""
    pack_id: str = ""
    seq_id: int = 0
    content: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.command).write_string(1, self.session_id).write_string(2, self.pack_id)
        w.write_int(3, self.seq_id).opt_string(4, self.content)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            get_int(f, 0, bits=32),
            get_str(f, 1),
            get_str(f, 2),
            get_int(f, 3),
            get_str(f, 4, required=False),
        )


@dataclass
class MsgReaded(TarsStruct):
    session_id: str = ""
    seq_id: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.session_id).write_int(1, self.seq_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_int(f, 1))


@dataclass
class HotSessionReq(TarsStruct):
    timestamp: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.timestamp)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0))


@dataclass
class HotSessionItem(TarsStruct):
    session_id: str = ""
    read_seq_id: int = 0
    unread_count: int = 0
    last_msgs: list[OtimPack] = field(default_factory=list)
    attribute: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.session_id).write_int(1, self.read_seq_id)
        w.write_int(2, self.unread_count)
        w.opt_struct_list(3, _structs(self.last_msgs)).opt_string(4, self.attribute)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            get_str(f, 0),
            get_int(f, 1),
            get_int(f, 2, bits=32),
            [OtimPack.from_fields(x) for x in get_struct_list(f, 3, required=False)],
            get_str(f, 4, required=False),
        )


@dataclass
class HotSessionResp(_WithError):
    timestamp: int = 0
    sessions: list[HotSessionItem] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_int(1, self.timestamp)
        w.write_struct_list(2, _structs(self.sessions))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            _error_at_0(f),
            get_int(f, 1),
            [HotSessionItem.from_fields(x) for x in get_struct_list(f, 2)],
        )

    def session(self, session_id: str) -> HotSessionItem | None:
        return next((s for s in self.sessions if s.session_id == session_id), None)


@dataclass
class MsgHighPrioritySyncReq(TarsStruct):
    seq_id: int = 0
    count: int = 200

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.seq_id).write_int(1, self.count)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0), get_int(f, 1, bits=32))


@dataclass
class MsgHighPrioritySyncResp(_WithError):
    last_seq_id: int = 0
    msgs: list[OtimPack] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_int(1, self.last_seq_id)
        w.opt_struct_list(2, _structs(self.msgs))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            _error_at_0(f),
            get_int(f, 1),
            [OtimPack.from_fields(x) for x in get_struct_list(f, 2, required=False)],
        )


@dataclass
class HistoryMsgPullReq(TarsStruct):
    session_id: str = ""
    seq_id: int = 0
    count: int = 200

    def write(self, w: TarsWriter) -> None:
        w.opt_string(0, self.session_id).write_int(1, self.seq_id).write_int(2, self.count)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0, required=False), get_int(f, 1), get_int(f, 2, bits=32))


@dataclass
class HistoryMsgPullResp(_WithError):
    session_id: str = ""
    msgs: list[OtimPack] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_string(1, self.session_id)
        w.write_struct_list(2, _structs(self.msgs))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            _error_at_0(f),
            get_str(f, 1),
            [OtimPack.from_fields(x) for x in get_struct_list(f, 2)],
        )


@dataclass
class SessionMonitor(TarsStruct):
    session_id: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.session_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0))


@dataclass
class SyncDataReq(TarsStruct):
    command: int = 0
    content: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.command).write_string(1, self.content)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0, bits=32), get_str(f, 1))


# --------------------------------------------------------------------------------------------
# Groups (§4.5)
# --------------------------------------------------------------------------------------------


@dataclass
class GroupChatInfo(TarsStruct):
    group_id: str = ""
    name: str = ""
    avatar: str = ""
    creator_id: str = ""
    desc: str = ""
    member_limit: int = 0
    create_time: int = 0
    update_time: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.group_id).write_string(1, self.name).opt_string(2, self.avatar)
        w.write_string(3, self.creator_id).opt_string(4, self.desc).opt_int(5, self.member_limit)
        w.opt_int(6, self.create_time).opt_int(7, self.update_time)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            get_str(f, 0),
            get_str(f, 1),
            get_str(f, 2, required=False),
            get_str(f, 3),
            get_str(f, 4, required=False),
            get_int(f, 5, required=False, bits=32),
            get_int(f, 6, required=False),
            get_int(f, 7, required=False),
        )


@dataclass
class GroupChatSyncReq(TarsStruct):
    timestamp: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.timestamp)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0))


@dataclass
class GroupChatSyncResp(_WithError):
    timestamp: int = 0
    group_chats: list[GroupChatInfo] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_int(1, self.timestamp)
        w.write_struct_list(2, _structs(self.group_chats)).write_string_list(3, self.group_ids)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            _error_at_0(f),
            get_int(f, 1),
            [GroupChatInfo.from_fields(x) for x in get_struct_list(f, 2)],
            get_str_list(f, 3),
        )


@dataclass
class GroupChatCreateReq(TarsStruct):
    group_info: GroupChatInfo = field(default_factory=GroupChatInfo)
    member_ids: list[str] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.group_info.encode()).write_string_list(1, self.member_ids)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(GroupChatInfo.from_fields(get_struct(f, 0)), get_str_list(f, 1))


@dataclass
class GroupChatCreateResp(_WithError):
    group_id: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_string(1, self.group_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f), get_str(f, 1))


@dataclass
class GroupChatJoinQuitReq(TarsStruct):
    """42 JOIN and 43 QUIT (original layout)."""

    group_id: str = ""
    member_ids: list[str] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.group_id).write_string_list(1, self.member_ids)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str_list(f, 1))


@dataclass
class GroupChatQuitReqSeed(TarsStruct):
    """43 QUIT in the seed's layout {groupId, operatorId, memberIds}."""

    group_id: str = ""
    operator_id: str = ""
    member_ids: list[str] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.group_id).write_string(1, self.operator_id)
        w.write_string_list(2, self.member_ids)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1), get_str_list(f, 2))


@dataclass
class GroupChatDismissReq(TarsStruct):
    group_id: str = ""
    operator_id: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.group_id).write_string(1, self.operator_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1))


@dataclass
class GroupChatCreatorUpdateReq(TarsStruct):
    group_id: str = ""
    operator_id: str = ""
    new_creator_id: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.group_id).write_string(1, self.operator_id)
        w.write_string(2, self.new_creator_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1), get_str(f, 2))


@dataclass
class GroupChatInfoUpdateReq(TarsStruct):
    operator_id: str = ""
    group_info: GroupChatInfo = field(default_factory=GroupChatInfo)

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.operator_id).write_struct(1, self.group_info.encode())

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), GroupChatInfo.from_fields(get_struct(f, 1)))


@dataclass
class GroupChatMemberGetReq(TarsStruct):
    group_id: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.group_id)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0))


@dataclass
class GroupChatMemberGetResp(_WithError):
    group_id: str = ""
    member_ids: list[str] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_string(1, self.group_id)
        w.write_string_list(2, self.member_ids)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f), get_str(f, 1), get_str_list(f, 2))


# --------------------------------------------------------------------------------------------
# Friends, users, attributes (§4.6)
# --------------------------------------------------------------------------------------------


@dataclass
class FriendInfo(TarsStruct):
    user_id: str = ""
    friend_id: str = ""
    remark: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.user_id).write_string(1, self.friend_id).write_string(2, self.remark)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1), get_str(f, 2))


@dataclass
class _FriendsReq(TarsStruct):
    friends: list[FriendInfo] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct_list(0, _structs(self.friends))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls([FriendInfo.from_fields(x) for x in get_struct_list(f, 0)])


@dataclass
class FriendAddReq(_FriendsReq):
    pass


@dataclass
class FriendDelReq(_FriendsReq):
    pass


@dataclass
class FriendSyncReq(TarsStruct):
    timestamp: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_int(0, self.timestamp)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_int(f, 0))


@dataclass
class FriendSyncResp(_WithError):
    friends: list[FriendInfo] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_struct_list(1, _structs(self.friends))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f), [FriendInfo.from_fields(x) for x in get_struct_list(f, 1)])


@dataclass
class UserInfo(TarsStruct):
    user_id: str = ""
    name: str = ""
    avatar: str = ""
    mobile: str = ""
    birthday: int = 0

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.user_id).write_string(1, self.name).opt_string(2, self.avatar)
        w.opt_string(3, self.mobile).opt_int(4, self.birthday)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(
            get_str(f, 0),
            get_str(f, 1),
            get_str(f, 2, required=False),
            get_str(f, 3, required=False),
            get_int(f, 4, required=False),
        )


@dataclass
class UserInfoGetReq(TarsStruct):
    user_ids: list[str] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_string_list(0, self.user_ids)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str_list(f, 0))


@dataclass
class UserInfoGetResp(_WithError):
    user_infos: list[UserInfo] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_struct_list(1, _structs(self.user_infos))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f), [UserInfo.from_fields(x) for x in get_struct_list(f, 1)])


@dataclass
class UserInfoUpdateReq(TarsStruct):
    user_info: UserInfo = field(default_factory=UserInfo)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.user_info.encode())

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(UserInfo.from_fields(get_struct(f, 0)))


@dataclass
class UserAttribute(TarsStruct):
    """Also the 57 request (a filter)."""

    user_id: str = ""
    friend_id: str = ""
    attr_name: str = ""
    attr_value: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.user_id).write_string(1, self.friend_id)
        w.write_string(2, self.attr_name).write_string(3, self.attr_value)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1), get_str(f, 2), get_str(f, 3))


@dataclass
class UserAttrSetReq(TarsStruct):
    attribute: UserAttribute = field(default_factory=UserAttribute)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.attribute.encode())

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(UserAttribute.from_fields(get_struct(f, 0)))


@dataclass
class UserAttrGetResp(_WithError):
    attributes: list[UserAttribute] = field(default_factory=list)

    def write(self, w: TarsWriter) -> None:
        w.write_struct(0, self.error.encode()).write_struct_list(1, _structs(self.attributes))

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(_error_at_0(f), [UserAttribute.from_fields(x) for x in get_struct_list(f, 1)])


@dataclass
class SessionAttrSetReq(TarsStruct):
    user_id: str = ""
    session_id: str = ""
    attr_name: str = ""
    attr_value: str = ""

    def write(self, w: TarsWriter) -> None:
        w.write_string(0, self.user_id).write_string(1, self.session_id)
        w.write_string(2, self.attr_name).write_string(3, self.attr_value)

    @classmethod
    def from_fields(cls, f: Fields) -> Self:
        return cls(get_str(f, 0), get_str(f, 1), get_str(f, 2), get_str(f, 3))


_PUSH_BODY: dict[int, type[TarsStruct]] = {
    PT.MSG_SINGLE_CHAT: MsgReq,
    PT.MSG_GROUP_CHAT: MsgReq,
    PT.MSG_BIZ_NOTIFY: MsgReq,
    PT.MSG_CTRL: MsgControl,
    PT.MSG_READ: MsgReaded,
    PT.SYNC_DATA_CMD: SyncDataReq,
}


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------

Frame = tuple[OtimHeader, bytes]


class OmtpProtocolError(AssertionError):
    """The server sent something the spec does not allow (undecodable or non-canonical)."""


def typed(cls: type[S], payload: bytes, *, strict: bool = True) -> S:
    """Decode ``payload`` as ``cls``; with ``strict`` also require the canonical encoding."""
    try:
        obj = cls.decode(payload)
    except TarsDecodeError as exc:
        raise OmtpProtocolError(f"{cls.__name__} does not decode from {payload.hex()}: {exc}") from exc
    if strict and obj.encode() != payload:
        raise OmtpProtocolError(
            f"{cls.__name__} not canonically encoded: got {payload.hex()}, "
            f"canonical {obj.encode().hex()} ({obj!r})"
        )
    return obj


class OmtpClient:
    """An OMTP connection. Create with ``await OmtpClient.connect(host, port)``."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, strict: bool = True
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.strict = strict
        self.uid = ""  # decimal uid after a successful login
        self.device_id = ""
        self.login_resp: LoginResp | None = None
        self.errors: list[str] = []  # protocol violations seen by the reader
        self.unmatched: list[Frame] = []  # ACK frames no request was waiting for
        self.skipped: list[Frame] = []  # pushes dropped by expect_push
        self._pending: dict[str, deque[asyncio.Future[Frame]]] = {}
        self._pushes: asyncio.Queue[Frame | OmtpProtocolError] = asyncio.Queue()
        self._closed = asyncio.Event()
        self._task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(cls, host: str, port: int, *, strict: bool = True, timeout: float = 5.0) -> OmtpClient:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        return cls(reader, writer, strict=strict)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- reader ------------------------------------------------------------------------

    def _violation(self, text: str) -> OmtpProtocolError:
        self.errors.append(text)
        return OmtpProtocolError(text)

    async def _read_loop(self) -> None:
        try:
            while True:
                prefix = await self._reader.readexactly(4)
                (length,) = struct.unpack(">I", prefix)
                if length < 4 or length > MAX_FRAME:
                    self._violation(f"server frame length {length} out of bounds")
                    break
                body = await self._reader.readexactly(length - 4)
                try:
                    pack = decode_pack(body)
                except TarsDecodeError as exc:
                    self._violation(f"server frame body {body.hex()} does not decode: {exc}")
                    break
                problem: OmtpProtocolError | None = None
                if self.strict and pack.encode() != body:
                    problem = self._violation(
                        f"server frame body not canonical: {body.hex()} vs {pack.encode().hex()}"
                    )
                item = (pack.header, pack.payload)
                if pack.header.flags & ACK:
                    queue = self._pending.get(pack.header.pack_id)
                    while queue and queue[0].done():
                        queue.popleft()
                    if queue:
                        fut = queue.popleft()
                        if problem is not None:
                            fut.set_exception(problem)
                        else:
                            fut.set_result(item)
                    else:
                        self.unmatched.append(item)
                else:
                    self._pushes.put_nowait(problem if problem is not None else item)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._closed.set()
            for queue in self._pending.values():
                for fut in queue:
                    if not fut.done():
                        err: Exception = (
                            OmtpProtocolError(self.errors[-1])
                            if self.errors
                            else ConnectionError("connection closed by the server")
                        )
                        fut.set_exception(err)
            self._pending.clear()

    # ---- raw I/O -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection has ended (EOF, reset, or close())."""
        return self._closed.is_set()

    def send_raw(self, data: bytes) -> None:
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()

    def send(
        self,
        pack_type: int,
        payload: bytes = b"",
        flags: int = 0,
        pack_id: str | None = None,
        version: int = 1,
    ) -> OtimHeader:
        """Write one frame without waiting for anything; returns its header."""
        header = OtimHeader(pack_type, version, flags, new_pack_id() if pack_id is None else pack_id)
        self._writer.write(encode_frame(header, payload))
        return header

    def ack_push(self, header: OtimHeader, payload: bytes = b"") -> None:
        """Acknowledge a push: same type/version/packId, ACK set (the server sends no reply)."""
        self.send(header.type, payload, (header.flags | ACK) & ~DUP, header.pack_id, header.version)

    async def request(
        self,
        pack_type: int,
        payload: bytes = b"",
        flags: int = 0,
        pack_id: str | None = None,
        timeout: float = 5.0,
        version: int = 1,
    ) -> Frame:
        """Send a request and wait for the frame with ACK set and the same packId."""
        if self._closed.is_set():
            raise ConnectionError("connection is closed")
        pid = new_pack_id() if pack_id is None else pack_id
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(pid, deque()).append(fut)
        try:
            self.send(pack_type, payload, flags, pid, version)
            return await asyncio.wait_for(fut, timeout)
        finally:
            queue = self._pending.get(pid)
            if queue is not None and fut in queue:
                queue.remove(fut)
                if not queue:
                    del self._pending[pid]

    async def next_push(self, timeout: float = 5.0) -> Frame:
        """The next frame without ACK. TimeoutError if none, ConnectionError if closed and none."""
        if self._pushes.empty() and self._closed.is_set():
            raise ConnectionError("connection closed and no push pending")
        getter = asyncio.ensure_future(self._pushes.get())
        closer = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, closer}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            closer.cancel()
            got = getter.done()
            if not got:
                getter.cancel()
        if got:
            item = getter.result()
        elif not self._pushes.empty():
            item = self._pushes.get_nowait()
        elif closer in done:
            raise ConnectionError("connection closed and no push pending")
        else:
            raise TimeoutError(f"no push within {timeout} s")
        if isinstance(item, OmtpProtocolError):
            raise item
        return item

    async def poll_push(self, timeout: float = 0.3) -> Frame | None:
        """The next push if one arrives within ``timeout``, else None (also when closed)."""
        try:
            return await self.next_push(timeout)
        except (TimeoutError, ConnectionError):
            return None

    async def expect_push(self, pack_type: int, timeout: float = 5.0) -> Frame:
        """The next push of ``pack_type``; other pushes are dropped (kept in ``self.skipped``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                seen = [(h.type, h.pack_id) for h, _ in self.skipped]
                raise TimeoutError(f"no push of type {pack_type} within {timeout} s (skipped {seen})")
            try:
                header, payload = await self.next_push(left)
            except TimeoutError:
                continue
            if header.type == pack_type:
                return header, payload
            self.skipped.append((header, payload))

    async def expect_push_as(
        self, pack_type: int, cls: type[S], timeout: float = 5.0
    ) -> tuple[OtimHeader, S]:
        header, payload = await self.expect_push(pack_type, timeout)
        return header, typed(cls, payload, strict=self.strict)

    async def expect_msg(
        self, pack_type: int = PT.MSG_SINGLE_CHAT, timeout: float = 5.0
    ) -> tuple[OtimHeader, MsgReq]:
        return await self.expect_push_as(pack_type, MsgReq, timeout)

    async def expect_sync(self, timeout: float = 5.0) -> tuple[OtimHeader, SyncDataReq]:
        return await self.expect_push_as(PT.SYNC_DATA_CMD, SyncDataReq, timeout)

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        """True if the connection ends within ``timeout`` (server closed it)."""
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task

    # ---- typed calls -------------------------------------------------------------------

    async def call(
        self,
        pack_type: int,
        req: TarsStruct | bytes,
        resp_cls: type[S],
        *,
        flags: int = 0,
        pack_id: str | None = None,
        timeout: float = 5.0,
    ) -> S:
        """Request with a struct (or raw payload) and decode the response as ``resp_cls``."""
        payload = req if isinstance(req, bytes) else req.encode()
        _, resp = await self.request(pack_type, payload, flags, pack_id, timeout)
        return typed(resp_cls, resp, strict=self.strict)

    async def login(
        self,
        user_name: str = "",
        password: str = "",
        client_id: str = "",
        device_type: int = DeviceType.WINDOWS,
        device_id: str = "pc-1",
        version: str = "1.0",
        *,
        device_name: str = "",
        pack_id: str | None = None,
        timeout: float = 5.0,
    ) -> tuple[int, str]:
        req = LoginReq(client_id, user_name, password, device_type, device_name, device_id, version)
        resp = await self.call(PT.LOGIN, req, LoginResp, pack_id=pack_id, timeout=timeout)
        self.login_resp = resp
        if resp.code == 0:
            self.uid = resp.client_id
            self.device_id = device_id
        return resp.code, resp.client_id

    async def ping(self, pack_id: str | None = None, timeout: float = 5.0) -> OtimHeader:
        header, _ = await self.request(PT.PING, b"", 0, pack_id, timeout)
        return header

    async def logout(self, pack_id: str | None = None, timeout: float = 5.0) -> OtimHeader:
        header, _ = await self.request(PT.LOGOUT, b"", 0, pack_id, timeout)
        return header

    async def kick(self, device_type: int, device_id: str) -> CommonErrorCode:
        ack = await self.call(PT.KICKOUT, KickOutReq(device_type, device_id), KickOutAck)
        return ack.error

    async def send_msg(
        self, pack_type: int, msg: MsgReq, *, flags: int = 0, pack_id: str | None = None, timeout: float = 5.0
    ) -> MsgAck:
        return await self.call(pack_type, msg, MsgAck, flags=flags, pack_id=pack_id, timeout=timeout)

    async def send_single(
        self,
        to: str,
        content: str,
        from_: str | None = None,
        pack_id: str | None = None,
        content_type: int = 1,
        flags: int = 0,
        *,
        session_id: str | None = None,
        push_info: PushInfo | None = None,
        timeout: float = 5.0,
    ) -> MsgAck:
        sender = self.uid if from_ is None else from_
        msg = MsgReq(
            session_id=single_session_id(sender, to) if session_id is None else session_id,
            from_=sender,
            to=to,
            push_info=push_info or PushInfo(),
            content_type=content_type,
            content=content,
        )
        return await self.send_msg(PT.MSG_SINGLE_CHAT, msg, flags=flags, pack_id=pack_id, timeout=timeout)

    async def send_group(
        self,
        gid_str: str,
        content: str,
        from_: str | None = None,
        pack_id: str | None = None,
        content_type: int = 1,
        flags: int = 0,
        *,
        session_id: str | None = None,
        push_info: PushInfo | None = None,
        timeout: float = 5.0,
    ) -> MsgAck:
        msg = MsgReq(
            session_id=gid_str if session_id is None else session_id,
            from_=self.uid if from_ is None else from_,
            to=gid_str,
            push_info=push_info or PushInfo(),
            content_type=content_type,
            content=content,
        )
        return await self.send_msg(PT.MSG_GROUP_CHAT, msg, flags=flags, pack_id=pack_id, timeout=timeout)

    async def control(
        self,
        cmd: int,
        session_id: str,
        pack_id: str,
        seq_id: int,
        content: str = "",
        *,
        frame_pack_id: str | None = None,
    ) -> CommonErrorCode:
        """MSG_CTRL; ``pack_id`` is the target message's packId, ``frame_pack_id`` this request's."""
        req = MsgControl(cmd, session_id, pack_id, seq_id, content)
        return await self.call(PT.MSG_CTRL, req, CommonErrorCode, pack_id=frame_pack_id)

    async def read(self, session_id: str, seq_id: int) -> CommonErrorCode:
        return await self.call(PT.MSG_READ, MsgReaded(session_id, seq_id), CommonErrorCode)

    async def hot_sessions(self, timestamp: int = 0) -> HotSessionResp:
        return await self.call(PT.HOTSESSION_SYNC, HotSessionReq(timestamp), HotSessionResp)

    async def priority_sync(self, seq_id: int = 0, count: int = 200) -> MsgHighPrioritySyncResp:
        req = MsgHighPrioritySyncReq(seq_id, count)
        return await self.call(PT.HIGH_PRIOR_MSG_SYNC, req, MsgHighPrioritySyncResp)

    async def history(self, session_id: str, seq_id: int = 0, count: int = 200) -> HistoryMsgPullResp:
        req = HistoryMsgPullReq(session_id, seq_id, count)
        return await self.call(PT.HISTORY_MSG_PULL, req, HistoryMsgPullResp)

    async def monitor_start(self, session_id: str) -> CommonErrorCode:
        return await self.call(PT.SESSION_MONITOR_START, SessionMonitor(session_id), CommonErrorCode)

    async def monitor_stop(self, session_id: str) -> CommonErrorCode:
        return await self.call(PT.SESSION_MONITOR_STOP, SessionMonitor(session_id), CommonErrorCode)

    async def monitor_sync(self) -> HotSessionResp:
        return await self.call(PT.SESSION_MONITOR_SYNC, b"", HotSessionResp)

    async def sync_data(self, command: int, content: str) -> CommonErrorCode:
        return await self.call(PT.SYNC_DATA_CMD, SyncDataReq(command, content), CommonErrorCode)

    async def group_sync(self, timestamp: int = 0) -> GroupChatSyncResp:
        return await self.call(PT.GROUPCHAT_SYNC, GroupChatSyncReq(timestamp), GroupChatSyncResp)

    async def group_create(
        self,
        name: str,
        creator: str | None = None,
        members: Sequence[str] = (),
        *,
        avatar: str = "",
        desc: str = "",
        member_limit: int = 0,
    ) -> GroupChatCreateResp:
        info = GroupChatInfo(
            name=name,
            avatar=avatar,
            creator_id=self.uid if creator is None else creator,
            desc=desc,
            member_limit=member_limit,
        )
        req = GroupChatCreateReq(info, list(members))
        return await self.call(PT.GROUPCHAT_CREATE, req, GroupChatCreateResp)

    async def group_join(self, group_id: str, members: Sequence[str]) -> CommonErrorCode:
        req = GroupChatJoinQuitReq(group_id, list(members))
        return await self.call(PT.GROUPCHAT_JION, req, CommonErrorCode)

    async def group_quit(self, group_id: str, members: Sequence[str]) -> CommonErrorCode:
        req = GroupChatJoinQuitReq(group_id, list(members))
        return await self.call(PT.GROUPCHAT_QUIT, req, CommonErrorCode)

    async def group_quit_seed(
        self, group_id: str, members: Sequence[str], *, operator_id: str | None = None
    ) -> CommonErrorCode:
        op = self.uid if operator_id is None else operator_id
        req = GroupChatQuitReqSeed(group_id, op, list(members))
        return await self.call(PT.GROUPCHAT_QUIT, req, CommonErrorCode)

    async def group_dismiss(self, group_id: str, *, operator_id: str | None = None) -> CommonErrorCode:
        req = GroupChatDismissReq(group_id, self.uid if operator_id is None else operator_id)
        return await self.call(PT.GROUPCHAT_DISMISS, req, CommonErrorCode)

    async def group_update_creator(
        self, group_id: str, new_creator_id: str, *, operator_id: str | None = None
    ) -> CommonErrorCode:
        op = self.uid if operator_id is None else operator_id
        req = GroupChatCreatorUpdateReq(group_id, op, new_creator_id)
        return await self.call(PT.GROUPCHAT_UPDATE_CREATOR, req, CommonErrorCode)

    async def group_info_update(
        self, info: GroupChatInfo, *, operator_id: str | None = None
    ) -> CommonErrorCode:
        req = GroupChatInfoUpdateReq(self.uid if operator_id is None else operator_id, info)
        return await self.call(PT.GROUPCHAT_INFO_UPDATE, req, CommonErrorCode)

    async def group_members(self, group_id: str) -> GroupChatMemberGetResp:
        req = GroupChatMemberGetReq(group_id)
        return await self.call(PT.GROUPCHAT_MEMBERS_GET, req, GroupChatMemberGetResp)

    async def friend_add(self, me: str, friend: str, remark: str = "") -> CommonErrorCode:
        req = FriendAddReq([FriendInfo(me, friend, remark)])
        return await self.call(PT.FRIEND_ADD, req, CommonErrorCode)

    async def friend_del(self, me: str, friend: str) -> CommonErrorCode:
        req = FriendDelReq([FriendInfo(me, friend, "")])
        return await self.call(PT.FRIEND_DEL, req, CommonErrorCode)

    async def friend_sync(self, timestamp: int = 0) -> FriendSyncResp:
        return await self.call(PT.FRIEND_SYNC, FriendSyncReq(timestamp), FriendSyncResp)

    async def user_info_get(self, user_ids: Sequence[str]) -> UserInfoGetResp:
        return await self.call(PT.USERINFO_GET, UserInfoGetReq(list(user_ids)), UserInfoGetResp)

    async def user_info_update(self, info: UserInfo) -> CommonErrorCode:
        return await self.call(PT.USERINFO_UPDATE, UserInfoUpdateReq(info), CommonErrorCode)

    async def user_attr_set(
        self, user_id: str, friend_id: str, attr_name: str, attr_value: str
    ) -> CommonErrorCode:
        req = UserAttrSetReq(UserAttribute(user_id, friend_id, attr_name, attr_value))
        return await self.call(PT.USERATTRIBUTE_SET, req, CommonErrorCode)

    async def user_attr_get(
        self, user_id: str = "", friend_id: str = "", attr_name: str = "", *, empty_payload: bool = False
    ) -> UserAttrGetResp:
        req: TarsStruct | bytes = b"" if empty_payload else UserAttribute(user_id, friend_id, attr_name, "")
        return await self.call(PT.USERATTRIBUTE_GET, req, UserAttrGetResp)

    async def session_attr_set(
        self, user_id: str, session_id: str, attr_name: str, attr_value: str
    ) -> CommonErrorCode:
        req = SessionAttrSetReq(user_id, session_id, attr_name, attr_value)
        return await self.call(PT.SESSIONATTRIBUTE_SET, req, CommonErrorCode)
