"""Typed events the core emits to sessions.

Events are frozen and shared by every recipient of a fan-out; an adapter that encodes one caches the
bytes in ``wire_cache`` (keyed by protocol and variant) so a frame is encoded once per protocol, not
once per recipient.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from polyim.core.model import Control, ConvId, Group, Message


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


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A newly committed message (1:1, group, room, or a notification in a user's stream)."""

    message: Message
    origin_protocol: str = ""


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


@dataclass(frozen=True, slots=True)
class FriendEvent:
    """A relation between ``uid`` and ``peer`` changed (sent to both users' sessions)."""

    uid: int
    peer: int
    change: FriendChange


class GroupChange(enum.Enum):
    CREATED = "created"
    DISMISSED = "dismissed"
    JOINED = "joined"
    LEFT = "left"
    REMOVED = "removed"
    OWNER = "owner"
    INFO = "info"
    MUTE = "mute"


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """A change of group ``group.gid`` made by ``actor``; ``uids`` are the users it concerns."""

    group: Group
    change: GroupChange
    actor: int
    uids: tuple[int, ...] = ()
    members: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    uid: int
    presence: Presence


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
    wire_cache: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


Event = (
    MessageEvent
    | ControlEvent
    | ReadEvent
    | FriendEvent
    | GroupEvent
    | PresenceEvent
    | SyncCommandEvent
    | RoomEvent
)
