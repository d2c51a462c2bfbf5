"""The domain records shared by the core, the store and the protocol adapters.

They are plain frozen dataclasses with no behaviour so that both the store implementations and the
core can use them without importing each other's logic, and so that one record can be handed to many
protocol adapters during a fan-out without anyone mutating it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from polyim.memo import remember

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class Role(enum.IntEnum):
    USER = 0
    OPERATOR = 1


class DeviceClass(enum.Enum):
    """The kick policy keeps one live session per (uid, device class) across all protocols."""

    DESKTOP = "desktop"
    MOBILE = "mobile"
    WEB = "web"


class ContentType(enum.IntEnum):
    """Core content kinds; numbered as OMTP's original msgcontent IDL so OMTP needs no mapping."""

    NONE = 0
    TEXT = 1
    IMAGE = 2
    VOICE = 3
    VIDEO = 4
    FILE = 5
    LOCATION = 6


class MsgStatus(enum.IntEnum):
    NORMAL = 0
    RECALLED = 1
    EDITED = 2
    DELETED = 3


class ControlCmd(enum.IntEnum):
    """Changes to a stored message; numbered as OMTP's MSG_CTL_CMD."""

    RECALL = 1
    EDIT = 2
    DELETE = 3


class GroupRole(enum.IntEnum):
    MEMBER = 0
    MANAGER = 1
    OWNER = 2


class GroupKind(enum.IntEnum):
    NORMAL = 1
    TEMPORARY = 2


class ConvKind(str, enum.Enum):
    PEER = "p"
    GROUP = "g"
    ROOM = "r"
    NOTIFY = "n"


@dataclass(frozen=True, slots=True)
class ConvId:
    """A conversation: 1:1 ``(p, a, b)`` with a < b, group ``(g, gid)``, room ``(r, rid)``, or a user's
    notification stream ``(n, uid)``. ``key`` is the stable text form used by the store."""

    kind: ConvKind
    a: int
    b: int = 0
    #: Computed once: every append, receipt and fan-out of the conversation uses it.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = f"p:{self.a}:{self.b}" if self.kind is ConvKind.PEER else f"{self.kind.value}:{self.a}"
        object.__setattr__(self, "key", key)

    @staticmethod
    def peer(x: int, y: int) -> ConvId:
        a, b = (x, y) if x <= y else (y, x)
        if b >> 31:
            return _interned(ConvKind.PEER, a, b)
        # Both ids under 2**31 (every id polyim hands out): one integer for the key, half the cost of
        # building and hashing a (kind, a, b) tuple; a 1:1 conversation is named several times a message.
        key = a << 31 | b
        conv = _PEERS.get(key)
        return conv if conv is not None else remember(_PEERS, key, ConvId(ConvKind.PEER, a, b))

    @staticmethod
    def group(gid: int) -> ConvId:
        return _interned(ConvKind.GROUP, gid, 0)

    @staticmethod
    def room(rid: int) -> ConvId:
        return _interned(ConvKind.ROOM, rid, 0)

    @staticmethod
    def notify(uid: int) -> ConvId:
        return _interned(ConvKind.NOTIFY, uid, 0)

    @staticmethod
    def from_key(key: str) -> ConvId:
        parts = key.split(":")
        kind = ConvKind(parts[0])
        a, b = int(parts[1]), int(parts[2]) if len(parts) > 2 else 0
        return ConvId.peer(a, b) if kind is ConvKind.PEER and a <= b else _interned(kind, a, b)

    def peer_of(self, uid: int) -> int:
        """The other user of a 1:1 conversation (the user itself for a self-chat)."""
        return self.b if self.a == uid else self.a


_INTERNED: Final[dict[tuple[ConvKind, int, int], ConvId]] = {}
_PEERS: Final[dict[int, ConvId]] = {}


def _interned(kind: ConvKind, a: int, b: int) -> ConvId:
    """Active conversations are named on every frame; reusing one immutable id per conversation saves
    building it (and its key) each time."""
    key = (kind, a, b)
    conv = _INTERNED.get(key)
    return conv if conv is not None else remember(_INTERNED, key, ConvId(kind, a, b))


@dataclass(frozen=True, slots=True)
class Account:
    uid: int
    username: str
    nickname: str = ""
    email: str = ""
    avatar: str = ""
    mobile: str = ""
    birthday: int = 0
    role: Role = Role.USER
    disabled: bool = False
    activated: bool = True
    created_ms: int = 0
    signature: str = ""  # the personal message shown to buddies
    location: str = ""
    gender: int = 0  # 1 male, 0 female or unknown
    last_login_ms: int = 0  # 0 = never

    @property
    def display_name(self) -> str:
        return self.nickname or self.username


@dataclass(slots=True)
class Message:
    """One stored message. ``client_id`` is the sender's own message id (OMTP packId, beehive sid+seq,
    TeamTalk seq_no, imlc messageId); ``extra`` holds protocol-neutral attributes (push title and
    summary, mentions, media URL, OMTP pack version and flags).

    Immutable by convention, not ``frozen``: one is built for every message sent, and a frozen
    dataclass sets each field through ``object.__setattr__`` (5.5 µs here against 1.8 µs). Its
    ``__init__`` is written out rather than generated: mypyc compiles a written one into native stores,
    while the one ``dataclass`` generates runs as interpreted code (38 ns against 187 ns for three
    fields). The other per-message records (``NewMessage``, ``Outgoing``, ``SendResult``,
    ``MessageEvent``) follow suit on both counts."""

    conv: ConvId
    seq: int
    msg_id: int
    sender: int
    device: str
    client_id: str
    ctype: int
    content: str
    ts_ms: int
    status: MsgStatus = MsgStatus.NORMAL
    data: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    topic: str = ""
    # The frames adapters rendered from it (:meth:`rendered`), kept on this node only (not ``init``
    # fields, so the cluster codec leaves them out).
    _frame_key: str = field(default="", init=False, compare=False, repr=False)
    _frame: bytes = field(default=b"", init=False, compare=False, repr=False)
    _more_frames: dict[str, bytes] | None = field(default=None, init=False, compare=False, repr=False)

    def __init__(
        self,
        conv: ConvId,
        seq: int,
        msg_id: int,
        sender: int,
        device: str,
        client_id: str,
        ctype: int,
        content: str,
        ts_ms: int,
        status: MsgStatus = MsgStatus.NORMAL,
        data: bytes = b"",
        extra: dict[str, Any] | None = None,
        topic: str = "",
    ) -> None:
        self.conv = conv
        self.seq = seq
        self.msg_id = msg_id
        self.sender = sender
        self.device = device
        self.client_id = client_id
        self.ctype = ctype
        self.content = content
        self.ts_ms = ts_ms
        self.status = status
        self.data = data
        self.extra = {} if extra is None else extra
        self.topic = topic
        self._frame_key = ""
        self._frame = b""
        self._more_frames = None

    def rendered(self, key: str) -> bytes | None:
        """The frame an adapter kept under ``key`` (a protocol and its variant), or None: a message
        fanned out is encoded once per protocol, not once per recipient."""
        if key == self._frame_key:
            return self._frame
        more = self._more_frames
        return None if more is None else more.get(key)

    def keep_rendered(self, key: str, frame: bytes) -> bytes:
        """Keep ``frame`` under ``key``; returns it. The first frame takes two slots, others a dict made
        only for them: most messages are 1:1 and rendered once, and a dict per message (and its keys
        table at the first insert) was two allocations on every message's path."""
        if not self._frame_key:
            self._frame_key, self._frame = key, frame
        else:
            if self._more_frames is None:
                self._more_frames = {}
            self._more_frames[key] = frame
        return frame

    @property
    def recipient(self) -> int:
        """The addressee of a 1:1 message (the group or stream owner otherwise)."""
        if self.conv.kind is ConvKind.PEER:
            return self.conv.peer_of(self.sender)
        return self.conv.a


@dataclass(frozen=True, slots=True)
class Control:
    """A recall / edit / delete applied to a stored message, as replayed to devices that were away."""

    conv: ConvId
    seq: int
    cmd: ControlCmd
    client_id: str
    content: str
    actor: int
    ts_ms: int
    target_client_id: str = ""


@dataclass(frozen=True, slots=True)
class ConvState:
    """One user's view of one conversation."""

    conv: ConvId
    last_seq: int
    read_seq: int
    delivered_seq: int
    activity_us: int
    attrs: dict[str, str] = field(default_factory=dict, compare=False)
    topic: str = ""

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.read_seq)


@dataclass(frozen=True, slots=True)
class Friend:
    uid: int
    peer: int
    remark: str
    buddy_group: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class FriendRequest:
    """A pending friend request: ``uid`` asked ``peer``, giving ``peer`` the remark ``remark``."""

    uid: int
    peer: int
    remark: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Group:
    gid: int
    name: str
    owner: int
    avatar: str = ""
    desc: str = ""
    kind: GroupKind = GroupKind.NORMAL
    member_limit: int = 1000
    mute_all: bool = False
    closed: bool = False
    created_ms: int = 0
    updated_ms: int = 0


def changed_fields(update: DataclassInstance) -> dict[str, Any]:
    """The fields of an update record that are set (not None), by field name, in declaration order."""
    values = ((f.name, getattr(update, f.name)) for f in dataclasses.fields(update))
    return {name: value for name, value in values if value is not None}


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """A change to an account: only the fields that are set are written, the others keep their stored
    value. A typed record instead of keyword arguments, so that no caller names a column and every
    backend maps the same closed set of fields (see :func:`changed_fields`)."""

    password_hash: str | None = None
    nickname: str | None = None
    email: str | None = None
    avatar: str | None = None
    mobile: str | None = None
    birthday: int | None = None
    role: Role | None = None
    disabled: bool | None = None
    activated: bool | None = None
    signature: str | None = None
    location: str | None = None
    gender: int | None = None
    last_login_ms: int | None = None

    @property
    def profile_only(self) -> bool:
        """True when it changes nothing but what a user may change of their own profile."""
        return (
            self.password_hash is None
            and self.role is None
            and self.disabled is None
            and self.activated is None
            and self.last_login_ms is None
        )


@dataclass(frozen=True, slots=True)
class GroupUpdate:
    """A change to a group's record: only the fields that are set are written. A new ``owner`` also
    swaps the two members' roles in the same transaction (a transfer)."""

    name: str | None = None
    owner: int | None = None
    avatar: str | None = None
    desc: str | None = None
    member_limit: int | None = None
    mute_all: bool | None = None
    closed: bool | None = None


@dataclass(frozen=True, slots=True)
class GroupMember:
    uid: int
    role: GroupRole
    muted: bool = False


class RoomList(enum.IntEnum):
    """A room's lists of users, kept across restarts (design.md §4 "Rooms": kick = ban, gag list)."""

    BANNED = 1
    GAGGED = 2
    MANAGER = 3


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """What the store keeps of a room: its settings, and whether it was dismissed (its rid stays dead).
    Who is inside (live sessions) and its broadcasts are not kept; its lists are :class:`RoomUser` rows."""

    rid: int
    capacity: int  # sessions per sub-group
    owner: int = 0  # 0: auto-created, nobody's
    name: str = ""
    desc: str = ""
    closed: bool = False
    limit: int = 0  # sessions in the room on one node; 0 = no limit
    dismissed: bool = False


@dataclass(frozen=True, slots=True)
class RoomUser:
    """One user on one of a room's lists."""

    rid: int
    uid: int
    kind: RoomList


@dataclass(frozen=True, slots=True)
class PriorityEntry:
    """An entry of a user's high-priority queue: a message or a control notice."""

    key: int
    message: Message | None
    control: Control | None


@dataclass(frozen=True, slots=True)
class OfflineFile:
    """An offline file waiting for its recipient: the transfer task that made it and where its bytes
    are in the file store (``file_id``). Kept in the database, so a restart loses no waiting file."""

    task_id: str
    sender: int
    recipient: int
    name: str
    size: int
    file_id: str
    created_ms: int
