"""Typed events the core emits to sessions.

Events are frozen and shared by every recipient of a fan-out; an adapter that encodes one caches the
bytes in ``wire_cache`` (keyed by protocol and variant) so a frame is encoded once per protocol, not
once per recipient.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from polyim.cluster.base import NO_SESSION, SessionId
from polyim.model import Control, ConvId, Group, Message


class KickReason(enum.Enum):
    DUPLICATE_LOGIN = "duplicate_login"
    OWN_DEVICE = "own_device"
    OPERATOR = "operator"
    DISABLED = "disabled"


class Presence(enum.IntEnum):
    OFFLINE = 0
    ONLINE = 1
    BUSY = 2
    AWAY = 3


@dataclass(slots=True)
class MessageEvent:
    """A newly committed message (1:1, group, room, or a notification in a user's stream)."""

    message: Message
    origin_protocol: str = ""

    def __init__(self, message: Message, origin_protocol: str = "") -> None:
        self.message = message  # written out to be compiled: see Message
        self.origin_protocol = origin_protocol


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """A recall / edit / delete of ``control.seq`` in ``control.conv``."""

    control: Control
    message: Message | None
    wire_cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ReadEvent:
    """``uid`` has read ``conv`` up to ``seq``; goes to the reader's other sessions (and 1:1 peers)."""

    uid: int
    conv: ConvId
    seq: int
    topic: str = ""


class FriendChange(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    UPDATED = "updated"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    REQUESTED = "requested"  # ``uid`` asks ``peer`` to be friends (sent to ``peer``'s sessions)
    DECLINED = "declined"  # a pending request between the two was withdrawn or declined by ``uid``


@dataclass(frozen=True, slots=True)
class FriendEvent:
    """A relation between ``uid`` and ``peer`` changed (sent to both users' sessions). ``uid`` is who
    acted; ``remark`` is the remark ``uid`` gave ``peer`` with a request or an acceptance."""

    uid: int
    peer: int
    change: FriendChange
    remark: str = ""


class GroupChange(enum.Enum):
    CREATED = "created"
    DISMISSED = "dismissed"
    JOINED = "joined"
    LEFT = "left"
    REMOVED = "removed"
    OWNER = "owner"
    INFO = "info"
    MUTE = "mute"  # ``uids`` muted (``on``) or unmuted; no uids = mute-all switched
    MANAGER = "manager"  # ``uids`` made managers (``on``) or made plain members again
    BLACKLIST = "blacklist"  # ``uids`` banned (``on``; a banned member has left the group) or unbanned


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """A change of group ``group.gid`` made by ``actor`` (0 = an operator); ``uids`` are the users it
    concerns; ``on`` tells an addition (True) from a removal (False) for MUTE, MANAGER and BLACKLIST.
    ``origin`` names the protocol whose request made a membership change ("" otherwise): TeamTalk tells
    of its own 5/14 with 5/15 and of any other change to a normal group with 5/19."""

    group: Group
    change: GroupChange
    actor: int
    uids: tuple[int, ...] = ()
    members: tuple[int, ...] = ()
    on: bool = True
    origin: str = ""


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """``uid`` now shows ``presence``. ``friend``: the recipient watches as one who has ``uid`` as a
    friend; False for the wider watchers a protocol may ask for (1:1 peers and members of small groups,
    TeamTalk §4.7), whom a protocol that shows friends' presence only ignores."""

    uid: int
    presence: Presence
    friend: bool = True


@dataclass(frozen=True, slots=True)
class SyncCommandEvent:
    """Tell a client to re-run a sync (OMTP SYNC_DATA_CMD from the HTTP API or a user's own device)."""

    command: int
    content: str
    request_id: str = ""


class RoomChange(enum.Enum):
    JOIN = "join"
    QUIT = "quit"
    KICK = "kick"
    CHAT = "chat"
    BC = "bc"
    COUNT = "count"
    DISMISS = "dismiss"


@dataclass(frozen=True, slots=True)
class RoomBroadcast:
    """An operator's broadcast to room ``rid``; sessions joining before it expires get it too."""

    rid: int
    msgid: int
    data: bytes
    ts_ms: int
    expire_s: int
    level: int = 0

    @property
    def expires_ms(self) -> int:
        return self.ts_ms + self.expire_s * 1000


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """Something that happened in room ``rid``, sent to the sessions inside it (membership is sessions).

    ``uid`` is who joined, quit or was kicked (0 for DISMISS); CHAT carries the committed ``message`` and
    the target ``subgroup`` (0 = whole room); BC the ``broadcast``; COUNT the room's ``count``.
    """

    rid: int
    kind: RoomChange
    uid: int = 0
    subgroup: int = 0
    count: int = 0
    message: Message | None = None
    broadcast: RoomBroadcast | None = None
    origin: SessionId = NO_SESSION  # CHAT: the sending session (a protocol that acks instead skips it)
    wire_cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A push from the admin API that is not stored (design.md §4 "Push"): point to point to a user's
    (or one device's) sessions, or a broadcast to every matching session. Stored pushes travel as a
    :class:`MessageEvent` of the user's notification stream instead.

    ``msgid`` is the push id (the same id space as message ids); ``payload`` the bytes as given and
    ``text`` the same as text (the payload decoded as UTF-8, or its base64 when it is not UTF-8).
    """

    msgid: int
    payload: bytes
    text: str
    ts_ms: int
    broadcast: bool = False
    wire_cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """A transient 1:1 signal (``kind`` "typing"): delivered to the peer's live sessions and never
    stored (design.md §4 "Signals"). ``text``, ``data`` and ``extra`` are the sender's, for the
    protocols that can show them; the others ignore the event."""

    sender: int
    peer: int
    kind: str
    ts_ms: int
    text: str = ""
    data: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    origin_protocol: str = ""


@dataclass(frozen=True, slots=True)
class FileEvent:
    """File ``task_id`` offered by ``sender`` to ``recipient`` (to the recipient's sessions): when the
    task is made, and for an offline file again once it is ``ready`` to download."""

    task_id: str
    sender: int
    recipient: int
    name: str
    size: int
    offline: bool
    ready: bool


Event = (
    MessageEvent
    | ControlEvent
    | ReadEvent
    | FriendEvent
    | GroupEvent
    | PresenceEvent
    | SyncCommandEvent
    | RoomEvent
    | PushEvent
    | SignalEvent
    | FileEvent
)
