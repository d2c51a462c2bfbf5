"""TeamTalk wire codec: the 12-byte header and the length-prefixed binary bodies (teamtalk.md §2, §3).

Sans-I/O: bytes in, :class:`Frame` objects out, and back; no socket, loop or clock lives here, so the
server, its test client and ``polyim bench`` can share it. Written as plain typed Python (dataclasses,
no metaclasses, no dynamic attributes) so that mypyc can compile it.

Two layers:

* :class:`Decoder` cuts frames out of the stream and applies the header checks of §2.6 step 2 (a
  ``length`` below 12 or above the listener's maximum ends the stream);
* one dataclass per body (§3), each with ``decode(body) -> instance`` and ``encode() -> bytes``. A body
  that runs short, a list count above :data:`MAX_COUNT` or a string above its bound raises
  :class:`TeamTalkDecodeError` (§2.6 step 5: close); extra bytes after the last field are ignored.

Every ``id`` field stays the string the peer sent: whether it names a user or a group is the adapter's
question (§2.6 step 5, last bullet).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from librt.strings import BytesWriter, write_i32_be
from mypy_extensions import i32, i64
from mypy_extensions import u8 as byte

from polyim.protocols.base import ProtocolError, joined, u32_at

#: length, module_id, command_id, version, reserved; big-endian (§2.1).
HEADER: Final = struct.Struct(">IHHHH")
HEADER_SIZE: Final = 12
VERSION: Final = 1

#: Frame bounds per listener (§2.5).
MAX_LOGIN_FRAME: Final = 4096
MAX_MSG_FRAME: Final = 262_144
MAX_FILE_FRAME: Final = 1_048_576 + 4096
#: Field bounds of a request (§2.5).
MAX_STR: Final = 4096
MAX_COUNT: Final = 10_000
MAX_TEXT: Final = 16_384
MAX_AUDIO: Final = 200_000
MAX_ATTACH: Final = 4096
MAX_FILE_DATA: Final = 1_048_576

_U32_MAX: Final = 0xFFFFFFFF


class TeamTalkDecodeError(ProtocolError):
    """The peer sent something that cannot be framed or parsed; the connection is closed (§2.6).

    ``frames`` are the well-formed frames that preceded the bad bytes in the same :meth:`Decoder.feed`
    call: they arrived first and may still be served before the close."""

    def __init__(self, reason: str, frames: tuple[Frame, ...] = ()) -> None:
        super().__init__(reason)
        self.frames = frames


# --------------------------------------------------------------------------------------------------
# Modules, commands, enumerations (§2.4, §3, §6)


class M:
    """Module ids (§2.4)."""

    LOGIN: Final = 1
    BUDDY: Final = 2
    MSG: Final = 3
    SWITCH: Final = 4
    GROUP: Final = 5
    FILE: Final = 6
    OTHER: Final = 7


MSGSERVER_REQ: Final = (1, 1)
MSGSERVER_RES: Final = (1, 2)
USERLOGIN_REQ: Final = (1, 3)
USERLOGIN_RES: Final = (1, 4)
KICK_USER: Final = (1, 7)
RECENT_CONTACT_REQ: Final = (2, 1)
RECENT_CONTACT_LIST: Final = (2, 3)
ONLINE_FRIEND_LIST: Final = (2, 4)
STATUS_NOTIFY: Final = (2, 5)
USER_STATUS_REQ: Final = (2, 8)
USER_STATUS_RES: Final = (2, 9)
USER_INFO_RES: Final = (2, 10)
USER_INFO_REQ: Final = (2, 11)
REMOVE_SESSION_REQ: Final = (2, 12)
REMOVE_SESSION_RES: Final = (2, 13)
ALL_USER_REQ: Final = (2, 14)
ALL_USER_RES: Final = (2, 15)
USERS_STATUS_REQ: Final = (2, 16)
USERS_STATUS_RES: Final = (2, 17)
DEPARTMENT_REQ: Final = (2, 18)
DEPARTMENT_RES: Final = (2, 19)
MSG_DATA: Final = (3, 1)
MSG_DATA_ACK: Final = (3, 2)
MSG_READ_ACK: Final = (3, 3)
TIME_REQ: Final = (3, 5)
TIME_RES: Final = (3, 6)
UNREAD_CNT_REQ: Final = (3, 7)
UNREAD_CNT_RES: Final = (3, 8)
UNREAD_MSG_REQ: Final = (3, 9)
UNREAD_MSG_RES: Final = (3, 14)
P2P_CMD: Final = (4, 1)
GROUP_LIST_REQ: Final = (5, 1)
GROUP_LIST_RES: Final = (5, 2)
GROUP_USER_LIST_REQ: Final = (5, 3)
GROUP_USER_LIST_RES: Final = (5, 4)
GROUP_UNREAD_CNT_REQ: Final = (5, 5)
GROUP_UNREAD_CNT_RES: Final = (5, 6)
GROUP_UNREAD_MSG_REQ: Final = (5, 7)
GROUP_UNREAD_MSG_RES: Final = (5, 8)
GROUP_MSG_READ_ACK: Final = (5, 11)
CREATE_TMP_GROUP_REQ: Final = (5, 12)
CREATE_TMP_GROUP_RES: Final = (5, 13)
CHANGE_MEMBER_REQ: Final = (5, 14)
CHANGE_MEMBER_RES: Final = (5, 15)
RECENT_GROUP_LIST_REQ: Final = (5, 16)
RECENT_GROUP_LIST_RES: Final = (5, 17)
NORMAL_GROUP_CREATED: Final = (5, 18)
NORMAL_GROUP_MEMBERS: Final = (5, 19)
FILE_LOGIN_REQ: Final = (6, 1)
FILE_LOGIN_RES: Final = (6, 2)
FILE_STATE: Final = (6, 3)
PULL_DATA_REQ: Final = (6, 4)
PULL_DATA_RES: Final = (6, 5)
FILE_REQ: Final = (6, 10)
FILE_RES: Final = (6, 11)
FILE_NOTIFY: Final = (6, 12)
HAS_OFFLINE_REQ: Final = (6, 16)
HAS_OFFLINE_RES: Final = (6, 17)
ADD_OFFLINE_REQ: Final = (6, 18)
DEL_OFFLINE_REQ: Final = (6, 19)
HEARTBEAT: Final = (7, 1)
CLIENT_DB_QUERY: Final = (7, 53)
SERVICE_SETTING: Final = (7, 61)

#: ``msg_type`` (§3.3): bit 0x10 = group, low nibble = kind.
MSG_TEXT: Final = 0x01
MSG_AUDIO: Final = 0x02
MSG_GROUP_TEXT: Final = 0x11
MSG_GROUP_AUDIO: Final = 0x12
GROUP_BIT: Final = 0x10

#: Online status (§3.2) and client type (§3.1).
STATUS_ONLINE: Final = 1
STATUS_OFFLINE: Final = 2
STATUS_LEAVE: Final = 3
MOBILE_BIT: Final = 0x10

#: Group types (§3.5), file modes and states (§3.6).
GROUP_NORMAL: Final = 1
GROUP_TEMPORARY: Final = 2
MODE_ONLINE: Final = 1
MODE_OFFLINE: Final = 2
CLIENT_REALTIME_SENDER: Final = 1
CLIENT_REALTIME_RECEIVER: Final = 2
CLIENT_OFFLINE_UPLOAD: Final = 3
CLIENT_OFFLINE_DOWNLOAD: Final = 4
STATE_PEER_READY: Final = 0
STATE_CANCEL: Final = 1
STATE_REFUSE: Final = 2
STATE_DONE: Final = 3

#: Login results (§6.1).
RESULT_OK: Final = 0
RESULT_NO_MSG_SERVER: Final = 1
RESULT_NO_DB_SERVER: Final = 3
RESULT_VALIDATE_FAILED: Final = 6
RESULT_NO_FILE_SERVER: Final = 8


# --------------------------------------------------------------------------------------------------
# Frames


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: header fields and the raw body (decoded separately, by the body's class)."""

    module: int
    command: int
    reserved: int
    body: bytes
    version: int = VERSION

    def __init__(self, module: int, command: int, reserved: int, body: bytes, version: int = VERSION) -> None:
        """Written out, not generated: mypyc compiles these stores into native ones (about 30 ns)
        where the generated frozen ``__init__`` runs interpreted (about 2 µs); frames, 3/1 and 3/2
        bodies are built several times for every message."""
        object.__setattr__(self, "module", module)
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "reserved", reserved)
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "version", version)

    @property
    def key(self) -> tuple[int, int]:
        return (self.module, self.command)


def encode_frame(key: tuple[int, int], reserved: int, body: bytes = b"") -> bytes:
    """A whole frame: header (version 1) and ``body``."""
    return HEADER.pack(HEADER_SIZE + len(body), key[0], key[1], VERSION, reserved & 0xFFFF) + body


class Decoder:
    """Frames out of one connection's bytes, any split of the stream giving the same frames.

    Frames are cut from the read itself when nothing is buffered (the common case: a read holds whole
    frames). Bytes of an incomplete frame wait in a ``bytearray`` with the length they must reach
    (``_need``), so a frame that trickles in is neither rescanned nor copied more than once. After an
    error the decoder is dead and raises on every call: the connection is closed (§2.6 step 2)."""

    __slots__ = ("_buf", "_dead", "_max_frame", "_need")

    def __init__(self, max_frame: int = MAX_MSG_FRAME) -> None:
        self._max_frame = max_frame
        self._buf = bytearray()
        self._dead = False
        self._need = HEADER_SIZE

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        if self._dead:
            raise TeamTalkDecodeError("decoder closed after an earlier error")
        whole = joined(self._buf, data, self._need)
        if whole is None:
            return []
        data = whole
        frames: list[Frame] = []
        pos, end = 0, len(data)
        self._need = HEADER_SIZE
        while end - pos >= HEADER_SIZE:
            # HEADER's fields by indexing (compiled, far cheaper than unpack_from and its tuple)
            length = u32_at(data, pos)
            module = data[pos + 4] << 8 | data[pos + 5]
            command = data[pos + 6] << 8 | data[pos + 7]
            version = data[pos + 8] << 8 | data[pos + 9]
            reserved = data[pos + 10] << 8 | data[pos + 11]
            if length < HEADER_SIZE or length > self._max_frame:
                self._dead = True
                raise TeamTalkDecodeError(
                    f"frame length {length} out of range (module {module}, command {command})", tuple(frames)
                )
            if end - pos < length:
                self._need = length
                break
            frames.append(Frame(module, command, reserved, data[pos + HEADER_SIZE : pos + length], version))
            pos += length
        if pos < end:
            self._buf += memoryview(data)[pos:]
        return frames


# --------------------------------------------------------------------------------------------------
# Primitives (§2.3)


class Reader:
    """Fields read in wire order from one body; running past its end raises the codec's error."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _skip(self, n: int) -> int:
        """Where the next ``n`` bytes start, now passed: the numbers are read in place, not sliced out."""
        start = self.pos
        end = start + n
        if end > len(self.data):
            raise TeamTalkDecodeError("body too short")
        self.pos = end
        return start

    def _take(self, n: int) -> bytes:
        start = self._skip(n)
        return self.data[start : self.pos]

    def u8(self) -> int:
        return self.data[self._skip(1)]

    # Big-endian numbers by indexing: compiled, a tenth of the cost of a struct call and its tuple.
    def u16(self) -> int:
        data, at = self.data, self._skip(2)
        return data[at] << 8 | data[at + 1]

    def u32(self) -> int:
        return u32_at(self.data, self._skip(4))

    def blob(self, limit: int = MAX_STR) -> bytes:
        n = self.u32()
        if n > limit:
            raise TeamTalkDecodeError(f"field of {n} bytes over its bound {limit}")
        return self._take(n)

    def text(self, limit: int = MAX_STR) -> str:
        """UTF-8 text; invalid sequences become U+FFFD, never an error (§2.6, §9 #13)."""
        return self.blob(limit).decode("utf-8", "replace")

    def count(self) -> int:
        n = self.u32()
        if n > MAX_COUNT:
            raise TeamTalkDecodeError(f"list of {n} entries over the bound {MAX_COUNT}")
        return n

    def ids(self) -> list[str]:
        return [self.text() for _ in range(self.count())]


class Writer:
    """Fields appended in wire order into a ``BytesWriter`` (whose ``append`` and ``write_i32_be``
    compile to native stores; a list of pieces joined once cost ~100 instructions a piece)."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = BytesWriter()

    def u8(self, value: int) -> Writer:
        self.buf.append(byte(value & 0xFF))
        return self

    def u16(self, value: int) -> Writer:
        self.buf.append(byte(value >> 8 & 0xFF))
        self.buf.append(byte(value & 0xFF))
        return self

    def u32(self, value: int) -> Writer:
        bits = i64(value & _U32_MAX)
        write_i32_be(self.buf, i32(bits - 0x1_0000_0000 if bits >= 0x8000_0000 else bits))
        return self

    def blob(self, value: bytes) -> Writer:
        self.u32(len(value))
        self.buf.write(value)
        return self

    def text(self, value: str) -> Writer:
        return self.blob(value.encode("utf-8", "replace"))

    def ids(self, values: list[str]) -> Writer:
        self.u32(len(values))
        for value in values:
            self.text(value)
        return self

    def done(self) -> bytes:
        return self.buf.getvalue()


# --------------------------------------------------------------------------------------------------
# Shared records


@dataclass(frozen=True, slots=True)
class IdValue:
    """An ``(id, u32)`` pair: a status (2/4, 2/17), a count (3/8, 5/6) or an update time (2/3)."""

    id: str
    value: int


def _read_pairs(r: Reader) -> list[IdValue]:
    return [IdValue(r.text(), r.u32()) for _ in range(r.count())]


def _write_pairs(w: Writer, pairs: list[IdValue]) -> None:
    w.u32(len(pairs))
    for pair in pairs:
        w.text(pair.id).u32(pair.value)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """One user of 2/10 and 2/15 (and the profile part of 1/4)."""

    id: str
    name: str
    nick_name: str = ""
    avatar_url: str = ""
    title: str = ""
    position: str = ""
    role_status: int = 0
    sex: int = 0
    depart_id: str = "0"
    job_num: int = 0
    telephone: str = ""
    email: str = ""

    @staticmethod
    def read(r: Reader) -> UserInfo:
        return UserInfo(
            r.text(), r.text(), r.text(), r.text(), r.text(), r.text(), r.u32(), r.u32(), r.text(), r.u32(),
            r.text(), r.text(),
        )  # fmt: skip

    def write(self, w: Writer) -> None:
        w.text(self.id).text(self.name).text(self.nick_name).text(self.avatar_url).text(self.title)
        w.text(self.position).u32(self.role_status).u32(self.sex).text(self.depart_id).u32(self.job_num)
        w.text(self.telephone).text(self.email)


@dataclass(frozen=True, slots=True)
class Address:
    """A server address of 1/2, 6/11, 6/12, 6/17."""

    ip: str
    port: int


def _read_addrs(r: Reader) -> list[Address]:
    return [Address(r.text(), r.u16()) for _ in range(r.count())]


def _write_addrs(w: Writer, addrs: list[Address]) -> None:
    w.u32(len(addrs))
    for addr in addrs:
        w.text(addr.ip).u16(addr.port)


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """One group of 5/2 and 5/17 (``updated`` is on the wire in 5/17 only)."""

    id: str
    name: str
    avatar: str
    creator_id: str
    group_type: int
    members: list[str]
    updated: int = 0

    @staticmethod
    def read(r: Reader, with_updated: bool) -> GroupInfo:
        gid, name, avatar, creator, kind = r.text(), r.text(), r.text(), r.text(), r.u32()
        updated = r.u32() if with_updated else 0
        return GroupInfo(gid, name, avatar, creator, kind, r.ids(), updated)

    def write(self, w: Writer, with_updated: bool) -> None:
        w.text(self.id).text(self.name).text(self.avatar).text(self.creator_id).u32(self.group_type)
        if with_updated:
            w.u32(self.updated)
        w.ids(self.members)


# --------------------------------------------------------------------------------------------------
# Module 1 — LOGIN


@dataclass(frozen=True, slots=True)
class Empty:
    """A body with no fields (1/1, 2/14, 2/18, 3/5, 3/7, 5/1, 5/5, 5/16, 6/16, 7/1)."""

    @staticmethod
    def decode(body: bytes) -> Empty:
        return EMPTY

    def encode(self) -> bytes:
        return b""


EMPTY: Final = Empty()


@dataclass(frozen=True, slots=True)
class MsgServerRes:
    """1/2: the message server's address, present only when ``result`` is 0."""

    result: int
    ip1: str = ""
    ip2: str = ""
    port: int = 0

    @staticmethod
    def decode(body: bytes) -> MsgServerRes:
        r = Reader(body)
        result = r.u32()
        if result != RESULT_OK:
            return MsgServerRes(result)
        return MsgServerRes(result, r.text(), r.text(), r.u16())

    def encode(self) -> bytes:
        w = Writer().u32(self.result)
        if self.result == RESULT_OK:
            w.text(self.ip1).text(self.ip2).u16(self.port)
        return w.done()


@dataclass(frozen=True, slots=True)
class LoginReq:
    """1/3. ``user_name`` is ``""`` when its bytes are not UTF-8: such a login fails (§2.6)."""

    user_name: str
    password: str
    online_status: int
    client_type: int
    client_version: str

    @staticmethod
    def decode(body: bytes) -> LoginReq:
        r = Reader(body)
        raw = r.blob()
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            name = ""
        return LoginReq(name, r.text(), r.u32(), r.u32(), r.text())

    def encode(self) -> bytes:
        w = Writer().text(self.user_name).text(self.password).u32(self.online_status)
        return w.u32(self.client_type).text(self.client_version).done()


@dataclass(frozen=True, slots=True)
class LoginRes:
    """1/4: on success the status in force, the user's profile and the file-server token."""

    server_time: int
    result: int
    online_status: int = 0
    user: UserInfo | None = None
    token: str = ""

    @staticmethod
    def decode(body: bytes) -> LoginRes:
        r = Reader(body)
        server_time, result = r.u32(), r.u32()
        if result != RESULT_OK:
            return LoginRes(server_time, result)
        status, uid, nick, avatar, title, position = r.u32(), r.text(), r.text(), r.text(), r.text(), r.text()
        role, sex, depart, job = r.u32(), r.u32(), r.text(), r.u32()
        tel, email, token = r.text(), r.text(), r.text()
        user = UserInfo(uid, "", nick, avatar, title, position, role, sex, depart, job, tel, email)
        return LoginRes(server_time, result, status, user, token)

    def encode(self) -> bytes:
        w = Writer().u32(self.server_time).u32(self.result)
        if self.result != RESULT_OK or self.user is None:
            return w.done()
        u = self.user
        w.u32(self.online_status).text(u.id).text(u.nick_name).text(u.avatar_url).text(u.title)
        w.text(u.position).u32(u.role_status).u32(u.sex).text(u.depart_id).u32(u.job_num)
        return w.text(u.telephone).text(u.email).text(self.token).done()


@dataclass(frozen=True, slots=True)
class KickUser:
    """1/7: the only numeric user id on the wire (low 32 bits of the uid, §8.1)."""

    user_id: int
    reason: int = 1

    @staticmethod
    def decode(body: bytes) -> KickUser:
        r = Reader(body)
        return KickUser(r.u32(), r.u32())

    def encode(self) -> bytes:
        return Writer().u32(self.user_id).u32(self.reason).done()


# --------------------------------------------------------------------------------------------------
# Module 2 — BUDDY_LIST


@dataclass(frozen=True, slots=True)
class U32Body:
    """A body of one ``u32`` (2/1 ``req_type``, 3/6 ``server_time``)."""

    value: int

    @staticmethod
    def decode(body: bytes) -> U32Body:
        return U32Body(Reader(body).u32())

    def encode(self) -> bytes:
        return Writer().u32(self.value).done()


@dataclass(frozen=True, slots=True)
class IdBody:
    """A body of one ``id`` (2/8, 3/3, 3/9, 5/3, 5/7, 5/11)."""

    id: str

    @staticmethod
    def decode(body: bytes) -> IdBody:
        return IdBody(Reader(body).text())

    def encode(self) -> bytes:
        return Writer().text(self.id).done()


@dataclass(frozen=True, slots=True)
class IdList:
    """A body of one list of ids (2/11, 2/16)."""

    ids: list[str]

    @staticmethod
    def decode(body: bytes) -> IdList:
        return IdList(Reader(body).ids())

    def encode(self) -> bytes:
        return Writer().ids(self.ids).done()


@dataclass(frozen=True, slots=True)
class Pairs:
    """A body of one ``(id, u32)`` list (2/3, 2/17, 3/8, 5/6)."""

    pairs: list[IdValue]

    @staticmethod
    def decode(body: bytes) -> Pairs:
        return Pairs(_read_pairs(Reader(body)))

    def encode(self) -> bytes:
        w = Writer()
        _write_pairs(w, self.pairs)
        return w.done()


@dataclass(frozen=True, slots=True)
class OnlineFriendList:
    """2/4: the statuses of the online members of the groups just listed."""

    list_type: int
    pairs: list[IdValue]

    @staticmethod
    def decode(body: bytes) -> OnlineFriendList:
        r = Reader(body)
        return OnlineFriendList(r.u16(), _read_pairs(r))

    def encode(self) -> bytes:
        w = Writer().u16(self.list_type)
        _write_pairs(w, self.pairs)
        return w.done()


@dataclass(frozen=True, slots=True)
class IdStatus:
    """2/5 and 2/9: one user's status."""

    id: str
    status: int

    @staticmethod
    def decode(body: bytes) -> IdStatus:
        r = Reader(body)
        return IdStatus(r.text(), r.u32())

    def encode(self) -> bytes:
        return Writer().text(self.id).u32(self.status).done()


@dataclass(frozen=True, slots=True)
class UserInfoList:
    """2/10 and 2/15 (one layout, §7)."""

    users: list[UserInfo]

    @staticmethod
    def decode(body: bytes) -> UserInfoList:
        r = Reader(body)
        return UserInfoList([UserInfo.read(r) for _ in range(r.count())])

    def encode(self) -> bytes:
        w = Writer().u32(len(self.users))
        for user in self.users:
            user.write(w)
        return w.done()


@dataclass(frozen=True, slots=True)
class RemoveSessionReq:
    """2/12."""

    session_type: int
    session_id: str

    @staticmethod
    def decode(body: bytes) -> RemoveSessionReq:
        r = Reader(body)
        return RemoveSessionReq(r.u32(), r.text())

    def encode(self) -> bytes:
        return Writer().u32(self.session_type).text(self.session_id).done()


@dataclass(frozen=True, slots=True)
class RemoveSessionRes:
    """2/13."""

    result: int
    session_type: int
    session_id: str

    @staticmethod
    def decode(body: bytes) -> RemoveSessionRes:
        r = Reader(body)
        return RemoveSessionRes(r.u32(), r.u32(), r.text())

    def encode(self) -> bytes:
        return Writer().u32(self.result).u32(self.session_type).text(self.session_id).done()


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    title: str
    description: str
    parent_id: str
    leader_id: str
    status: int


@dataclass(frozen=True, slots=True)
class DepartmentRes:
    """2/19 (polyim has no departments and sends an empty list, §9 #2)."""

    departments: list[Department]

    @staticmethod
    def decode(body: bytes) -> DepartmentRes:
        r = Reader(body)
        return DepartmentRes(
            [Department(r.text(), r.text(), r.text(), r.text(), r.text(), r.u32()) for _ in range(r.count())]
        )

    def encode(self) -> bytes:
        w = Writer().u32(len(self.departments))
        for d in self.departments:
            w.text(d.id).text(d.title).text(d.description).text(d.parent_id).text(d.leader_id).u32(d.status)
        return w.done()


# --------------------------------------------------------------------------------------------------
# Module 3 — MSG


def data_limit(msg_type: int) -> int:
    """The bound of ``msg_data`` for a ``msg_type`` (§2.5): audio is larger than text."""
    return MAX_AUDIO if msg_type & 0x0F == MSG_AUDIO else MAX_TEXT


@dataclass(frozen=True, slots=True)
class MsgData:
    """3/1, both directions."""

    seq_no: int
    from_id: str
    to_id: str
    create_time: int
    msg_type: int
    msg_data: bytes
    attach: bytes = b""

    def __init__(
        self,
        seq_no: int,
        from_id: str,
        to_id: str,
        create_time: int,
        msg_type: int,
        msg_data: bytes,
        attach: bytes = b"",
    ) -> None:
        object.__setattr__(self, "seq_no", seq_no)  # native stores under mypyc (see Frame)
        object.__setattr__(self, "from_id", from_id)
        object.__setattr__(self, "to_id", to_id)
        object.__setattr__(self, "create_time", create_time)
        object.__setattr__(self, "msg_type", msg_type)
        object.__setattr__(self, "msg_data", msg_data)
        object.__setattr__(self, "attach", attach)

    @staticmethod
    def decode(body: bytes) -> MsgData:
        r = Reader(body)
        seq, sender, to, created, kind = r.u32(), r.text(), r.text(), r.u32(), r.u8()
        return MsgData(seq, sender, to, created, kind, r.blob(data_limit(kind)), r.blob(MAX_ATTACH))

    def encode(self) -> bytes:
        w = Writer().u32(self.seq_no).text(self.from_id).text(self.to_id).u32(self.create_time)
        return w.u8(self.msg_type).blob(self.msg_data).blob(self.attach).done()


@dataclass(frozen=True, slots=True)
class MsgDataAck:
    """3/2, both directions: ``from_id`` is the original sender of the acknowledged 3/1."""

    seq_no: int
    from_id: str

    def __init__(self, seq_no: int, from_id: str) -> None:
        object.__setattr__(self, "seq_no", seq_no)  # native stores under mypyc (see Frame)
        object.__setattr__(self, "from_id", from_id)

    @staticmethod
    def decode(body: bytes) -> MsgDataAck:
        r = Reader(body)
        return MsgDataAck(r.u32(), r.text())

    def encode(self) -> bytes:
        return Writer().u32(self.seq_no).text(self.from_id).done()


@dataclass(frozen=True, slots=True)
class UnreadMsg:
    """One message of 3/14 (with the sender's names) or 5/8 (``from_name`` etc. not on the wire)."""

    from_id: str
    create_time: int
    msg_type: int
    msg_data: bytes
    from_name: str = ""
    from_nick_name: str = ""
    from_avatar_url: str = ""


@dataclass(frozen=True, slots=True)
class UnreadMsgRes:
    """3/14 and 5/8: ``group`` says which layout (5/8 carries no sender names)."""

    display_id: str
    messages: list[UnreadMsg]
    group: bool = False

    @staticmethod
    def decode(body: bytes) -> UnreadMsgRes:
        return _decode_unread(body, False)

    @staticmethod
    def decode_group(body: bytes) -> UnreadMsgRes:
        return _decode_unread(body, True)

    def encode(self) -> bytes:
        w = Writer().text(self.display_id).u32(len(self.messages))
        for m in self.messages:
            w.text(m.from_id)
            if not self.group:
                w.text(m.from_name).text(m.from_nick_name).text(m.from_avatar_url)
            w.u32(m.create_time).u8(m.msg_type).blob(m.msg_data)
        return w.done()


def _decode_unread(body: bytes, group: bool) -> UnreadMsgRes:
    r = Reader(body)
    display, out = r.text(), []
    for _ in range(r.count()):
        sender = r.text()
        name, nick, avatar = ("", "", "") if group else (r.text(), r.text(), r.text())
        created, kind = r.u32(), r.u8()
        out.append(UnreadMsg(sender, created, kind, r.blob(data_limit(kind)), name, nick, avatar))
    return UnreadMsgRes(display, out, group)


# --------------------------------------------------------------------------------------------------
# Module 4 — SWITCH_SERVICE


@dataclass(frozen=True, slots=True)
class P2PCmd:
    """4/1: relayed unchanged between TeamTalk sessions."""

    seq_no: int
    from_id: str
    to_id: str
    cmd: bytes

    @staticmethod
    def decode(body: bytes) -> P2PCmd:
        r = Reader(body)
        return P2PCmd(r.u32(), r.text(), r.text(), r.blob(MAX_TEXT))

    def encode(self) -> bytes:
        return Writer().u32(self.seq_no).text(self.from_id).text(self.to_id).blob(self.cmd).done()


# --------------------------------------------------------------------------------------------------
# Module 5 — GROUP


@dataclass(frozen=True, slots=True)
class GroupListRes:
    """5/2 and 5/17 (``recent``: with ``group_updated``)."""

    groups: list[GroupInfo]
    recent: bool = False

    @staticmethod
    def decode(body: bytes) -> GroupListRes:
        r = Reader(body)
        return GroupListRes([GroupInfo.read(r, False) for _ in range(r.count())])

    @staticmethod
    def decode_recent(body: bytes) -> GroupListRes:
        r = Reader(body)
        return GroupListRes([GroupInfo.read(r, True) for _ in range(r.count())], True)

    def encode(self) -> bytes:
        w = Writer().u32(len(self.groups))
        for group in self.groups:
            group.write(w, self.recent)
        return w.done()


@dataclass(frozen=True, slots=True)
class GroupUserListRes:
    """5/4: the group's fields only when ``result`` is 0."""

    group_id: str
    result: int
    group: GroupInfo | None = None

    @staticmethod
    def decode(body: bytes) -> GroupUserListRes:
        r = Reader(body)
        gid, result = r.text(), r.u32()
        if result != RESULT_OK:
            return GroupUserListRes(gid, result)
        name, avatar, creator, kind = r.text(), r.text(), r.text(), r.u32()
        return GroupUserListRes(gid, result, GroupInfo(gid, name, avatar, creator, kind, r.ids()))

    def encode(self) -> bytes:
        w = Writer().text(self.group_id).u32(self.result)
        if self.result == RESULT_OK and self.group is not None:
            g = self.group
            w.text(g.name).text(g.avatar).text(g.creator_id).u32(g.group_type).ids(g.members)
        return w.done()


@dataclass(frozen=True, slots=True)
class CreateTmpGroupReq:
    """5/12."""

    name: str
    avatar: str
    members: list[str]

    @staticmethod
    def decode(body: bytes) -> CreateTmpGroupReq:
        r = Reader(body)
        return CreateTmpGroupReq(r.text(), r.text(), r.ids())

    def encode(self) -> bytes:
        return Writer().text(self.name).text(self.avatar).ids(self.members).done()


@dataclass(frozen=True, slots=True)
class CreateTmpGroupRes:
    """5/13 (no avatar field)."""

    result: int
    group_id: str
    name: str
    members: list[str]

    @staticmethod
    def decode(body: bytes) -> CreateTmpGroupRes:
        r = Reader(body)
        return CreateTmpGroupRes(r.u32(), r.text(), r.text(), r.ids())

    def encode(self) -> bytes:
        return Writer().u32(self.result).text(self.group_id).text(self.name).ids(self.members).done()


@dataclass(frozen=True, slots=True)
class ChangeMemberReq:
    """5/14: ``change_type`` 0 add, 1 delete."""

    group_id: str
    change_type: int
    users: list[str]

    @staticmethod
    def decode(body: bytes) -> ChangeMemberReq:
        r = Reader(body)
        return ChangeMemberReq(r.text(), r.u32(), r.ids())

    def encode(self) -> bytes:
        return Writer().text(self.group_id).u32(self.change_type).ids(self.users).done()


@dataclass(frozen=True, slots=True)
class ChangeMemberRes:
    """5/15."""

    result: int
    group_id: str
    change_type: int
    users: list[str]

    @staticmethod
    def decode(body: bytes) -> ChangeMemberRes:
        r = Reader(body)
        return ChangeMemberRes(r.u32(), r.text(), r.u32(), r.ids())

    def encode(self) -> bytes:
        w = Writer().u32(self.result).text(self.group_id).u32(self.change_type)
        return w.ids(self.users).done()


@dataclass(frozen=True, slots=True)
class GroupCreated:
    """5/18."""

    group_id: str
    name: str
    avatar: str
    members: list[str]

    @staticmethod
    def decode(body: bytes) -> GroupCreated:
        r = Reader(body)
        return GroupCreated(r.text(), r.text(), r.text(), r.ids())

    def encode(self) -> bytes:
        return Writer().text(self.group_id).text(self.name).text(self.avatar).ids(self.members).done()


@dataclass(frozen=True, slots=True)
class GroupMembers:
    """5/19: the full new member list (empty: the group is dismissed)."""

    group_id: str
    members: list[str]

    @staticmethod
    def decode(body: bytes) -> GroupMembers:
        r = Reader(body)
        return GroupMembers(r.text(), r.ids())

    def encode(self) -> bytes:
        return Writer().text(self.group_id).ids(self.members).done()


# --------------------------------------------------------------------------------------------------
# Module 6 — FILE


@dataclass(frozen=True, slots=True)
class FileLoginReq:
    """6/1 (field order as the original's code, §7)."""

    user_id: str
    token: str
    task_id: str
    client_mode: int

    @staticmethod
    def decode(body: bytes) -> FileLoginReq:
        r = Reader(body)
        return FileLoginReq(r.text(), r.text(), r.text(), r.u32())

    def encode(self) -> bytes:
        return Writer().text(self.user_id).text(self.token).text(self.task_id).u32(self.client_mode).done()


@dataclass(frozen=True, slots=True)
class FileLoginRes:
    """6/2."""

    result: int
    task_id: str

    @staticmethod
    def decode(body: bytes) -> FileLoginRes:
        r = Reader(body)
        return FileLoginRes(r.u32(), r.text())

    def encode(self) -> bytes:
        return Writer().u32(self.result).text(self.task_id).done()


@dataclass(frozen=True, slots=True)
class FileState:
    """6/3."""

    state: int
    task_id: str
    user_id: str

    @staticmethod
    def decode(body: bytes) -> FileState:
        r = Reader(body)
        return FileState(r.u32(), r.text(), r.text())

    def encode(self) -> bytes:
        return Writer().u32(self.state).text(self.task_id).text(self.user_id).done()


@dataclass(frozen=True, slots=True)
class PullDataReq:
    """6/4."""

    task_id: str
    user_id: str
    mode: int
    offset: int
    size: int

    @staticmethod
    def decode(body: bytes) -> PullDataReq:
        r = Reader(body)
        return PullDataReq(r.text(), r.text(), r.u32(), r.u32(), r.u32())

    def encode(self) -> bytes:
        w = Writer().text(self.task_id).text(self.user_id).u32(self.mode)
        return w.u32(self.offset).u32(self.size).done()


@dataclass(frozen=True, slots=True)
class PullDataRes:
    """6/5: ``user_id`` is always the file's sender; the data blob's length is the bytes delivered."""

    result: int
    task_id: str
    user_id: str
    offset: int
    data: bytes

    @staticmethod
    def decode(body: bytes) -> PullDataRes:
        r = Reader(body)
        return PullDataRes(r.u32(), r.text(), r.text(), r.u32(), r.blob(MAX_FILE_DATA))

    def encode(self) -> bytes:
        w = Writer().u32(self.result).text(self.task_id).text(self.user_id).u32(self.offset)
        return w.blob(self.data).done()


@dataclass(frozen=True, slots=True)
class FileReq:
    """6/10."""

    from_id: str
    to_id: str
    file_name: str
    file_size: int
    trans_mode: int

    @staticmethod
    def decode(body: bytes) -> FileReq:
        r = Reader(body)
        return FileReq(r.text(), r.text(), r.text(), r.u32(), r.u32())

    def encode(self) -> bytes:
        w = Writer().text(self.from_id).text(self.to_id).text(self.file_name)
        return w.u32(self.file_size).u32(self.trans_mode).done()


@dataclass(frozen=True, slots=True)
class FileRes:
    """6/11."""

    result: int
    from_id: str
    to_id: str
    file_name: str
    task_id: str
    addrs: list[Address]
    trans_mode: int

    @staticmethod
    def decode(body: bytes) -> FileRes:
        r = Reader(body)
        result, sender, to, name, task = r.u32(), r.text(), r.text(), r.text(), r.text()
        return FileRes(result, sender, to, name, task, _read_addrs(r), r.u32())

    def encode(self) -> bytes:
        w = Writer().u32(self.result).text(self.from_id).text(self.to_id).text(self.file_name)
        w.text(self.task_id)
        _write_addrs(w, self.addrs)
        return w.u32(self.trans_mode).done()


@dataclass(frozen=True, slots=True)
class FileNotify:
    """6/12."""

    from_id: str
    to_id: str
    file_name: str
    file_size: int
    task_id: str
    addrs: list[Address]
    trans_mode: int
    offline_ready: int

    @staticmethod
    def decode(body: bytes) -> FileNotify:
        r = Reader(body)
        sender, to, name, size, task = r.text(), r.text(), r.text(), r.u32(), r.text()
        return FileNotify(sender, to, name, size, task, _read_addrs(r), r.u32(), r.u32())

    def encode(self) -> bytes:
        w = Writer().text(self.from_id).text(self.to_id).text(self.file_name).u32(self.file_size)
        w.text(self.task_id)
        _write_addrs(w, self.addrs)
        return w.u32(self.trans_mode).u32(self.offline_ready).done()


@dataclass(frozen=True, slots=True)
class OfflineFile:
    from_id: str
    task_id: str
    file_name: str
    file_size: int


@dataclass(frozen=True, slots=True)
class HasOfflineRes:
    """6/17: one address list after all files (§7)."""

    files: list[OfflineFile]
    addrs: list[Address]

    @staticmethod
    def decode(body: bytes) -> HasOfflineRes:
        r = Reader(body)
        files = [OfflineFile(r.text(), r.text(), r.text(), r.u32()) for _ in range(r.count())]
        return HasOfflineRes(files, _read_addrs(r))

    def encode(self) -> bytes:
        w = Writer().u32(len(self.files))
        for f in self.files:
            w.text(f.from_id).text(f.task_id).text(f.file_name).u32(f.file_size)
        _write_addrs(w, self.addrs)
        return w.done()


@dataclass(frozen=True, slots=True)
class AddOfflineReq:
    """6/18."""

    from_id: str
    to_id: str
    task_id: str
    file_name: str
    file_size: int

    @staticmethod
    def decode(body: bytes) -> AddOfflineReq:
        r = Reader(body)
        return AddOfflineReq(r.text(), r.text(), r.text(), r.text(), r.u32())

    def encode(self) -> bytes:
        w = Writer().text(self.from_id).text(self.to_id).text(self.task_id).text(self.file_name)
        return w.u32(self.file_size).done()


@dataclass(frozen=True, slots=True)
class DelOfflineReq:
    """6/19: ``to_id`` (the downloader) acts."""

    from_id: str
    to_id: str
    task_id: str

    @staticmethod
    def decode(body: bytes) -> DelOfflineReq:
        r = Reader(body)
        return DelOfflineReq(r.text(), r.text(), r.text())

    def encode(self) -> bytes:
        return Writer().text(self.from_id).text(self.to_id).text(self.task_id).done()


# --------------------------------------------------------------------------------------------------
# Module 7 — OTHER


@dataclass(frozen=True, slots=True)
class ServiceSetting:
    """7/61: key 2 = online status."""

    key: int
    value: int

    @staticmethod
    def decode(body: bytes) -> ServiceSetting:
        r = Reader(body)
        return ServiceSetting(r.u32(), r.u32())

    def encode(self) -> bytes:
        return Writer().u32(self.key).u32(self.value).done()


# --------------------------------------------------------------------------------------------------
# The table of every body on the page

Body = (
    Empty
    | MsgServerRes
    | LoginReq
    | LoginRes
    | KickUser
    | U32Body
    | IdBody
    | IdList
    | Pairs
    | OnlineFriendList
    | IdStatus
    | UserInfoList
    | RemoveSessionReq
    | RemoveSessionRes
    | DepartmentRes
    | MsgData
    | MsgDataAck
    | UnreadMsgRes
    | P2PCmd
    | GroupListRes
    | GroupUserListRes
    | CreateTmpGroupReq
    | CreateTmpGroupRes
    | ChangeMemberReq
    | ChangeMemberRes
    | GroupCreated
    | GroupMembers
    | FileLoginReq
    | FileLoginRes
    | FileState
    | PullDataReq
    | PullDataRes
    | FileReq
    | FileRes
    | FileNotify
    | HasOfflineRes
    | AddOfflineReq
    | DelOfflineReq
    | ServiceSetting
)

#: (module, command) → the body's decoder, for every command of §3 (7/53 is ignored, §9 #7).
BODIES: Final[dict[tuple[int, int], Callable[[bytes], Body]]] = {
    MSGSERVER_REQ: Empty.decode,
    MSGSERVER_RES: MsgServerRes.decode,
    USERLOGIN_REQ: LoginReq.decode,
    USERLOGIN_RES: LoginRes.decode,
    KICK_USER: KickUser.decode,
    RECENT_CONTACT_REQ: U32Body.decode,
    RECENT_CONTACT_LIST: Pairs.decode,
    ONLINE_FRIEND_LIST: OnlineFriendList.decode,
    STATUS_NOTIFY: IdStatus.decode,
    USER_STATUS_REQ: IdBody.decode,
    USER_STATUS_RES: IdStatus.decode,
    USER_INFO_RES: UserInfoList.decode,
    USER_INFO_REQ: IdList.decode,
    REMOVE_SESSION_REQ: RemoveSessionReq.decode,
    REMOVE_SESSION_RES: RemoveSessionRes.decode,
    ALL_USER_REQ: Empty.decode,
    ALL_USER_RES: UserInfoList.decode,
    USERS_STATUS_REQ: IdList.decode,
    USERS_STATUS_RES: Pairs.decode,
    DEPARTMENT_REQ: Empty.decode,
    DEPARTMENT_RES: DepartmentRes.decode,
    MSG_DATA: MsgData.decode,
    MSG_DATA_ACK: MsgDataAck.decode,
    MSG_READ_ACK: IdBody.decode,
    TIME_REQ: Empty.decode,
    TIME_RES: U32Body.decode,
    UNREAD_CNT_REQ: Empty.decode,
    UNREAD_CNT_RES: Pairs.decode,
    UNREAD_MSG_REQ: IdBody.decode,
    UNREAD_MSG_RES: UnreadMsgRes.decode,
    P2P_CMD: P2PCmd.decode,
    GROUP_LIST_REQ: Empty.decode,
    GROUP_LIST_RES: GroupListRes.decode,
    GROUP_USER_LIST_REQ: IdBody.decode,
    GROUP_USER_LIST_RES: GroupUserListRes.decode,
    GROUP_UNREAD_CNT_REQ: Empty.decode,
    GROUP_UNREAD_CNT_RES: Pairs.decode,
    GROUP_UNREAD_MSG_REQ: IdBody.decode,
    GROUP_UNREAD_MSG_RES: UnreadMsgRes.decode_group,
    GROUP_MSG_READ_ACK: IdBody.decode,
    CREATE_TMP_GROUP_REQ: CreateTmpGroupReq.decode,
    CREATE_TMP_GROUP_RES: CreateTmpGroupRes.decode,
    CHANGE_MEMBER_REQ: ChangeMemberReq.decode,
    CHANGE_MEMBER_RES: ChangeMemberRes.decode,
    RECENT_GROUP_LIST_REQ: Empty.decode,
    RECENT_GROUP_LIST_RES: GroupListRes.decode_recent,
    NORMAL_GROUP_CREATED: GroupCreated.decode,
    NORMAL_GROUP_MEMBERS: GroupMembers.decode,
    FILE_LOGIN_REQ: FileLoginReq.decode,
    FILE_LOGIN_RES: FileLoginRes.decode,
    FILE_STATE: FileState.decode,
    PULL_DATA_REQ: PullDataReq.decode,
    PULL_DATA_RES: PullDataRes.decode,
    FILE_REQ: FileReq.decode,
    FILE_RES: FileRes.decode,
    FILE_NOTIFY: FileNotify.decode,
    HAS_OFFLINE_REQ: Empty.decode,
    HAS_OFFLINE_RES: HasOfflineRes.decode,
    ADD_OFFLINE_REQ: AddOfflineReq.decode,
    DEL_OFFLINE_REQ: DelOfflineReq.decode,
    HEARTBEAT: Empty.decode,
    SERVICE_SETTING: ServiceSetting.decode,
}


def decode_body(frame: Frame) -> Body:
    """The frame's body as its class; an unknown (module, command) raises the codec's error."""
    decoder = BODIES.get(frame.key)
    if decoder is None:
        raise TeamTalkDecodeError(f"unknown command {frame.module}/{frame.command}")
    return decoder(frame.body)


def frame_of(key: tuple[int, int], reserved: int, body: Body) -> bytes:
    """A whole frame of ``body`` under ``key``."""
    return encode_frame(key, reserved, body.encode())
