"""The narrow async storage interface of design.md §5.

Methods name domain operations, not SQL, so that the SQLite and PostgreSQL implementations can each
do them their own fastest way. Every write returns only after its transaction is committed.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mypy_extensions import mypyc_attr

from polyim.histogram import LATENCY_BOUNDS, SIZE_BOUNDS, Histogram
from polyim.model import (
    Account,
    AccountUpdate,
    Control,
    ConvId,
    ConvState,
    Friend,
    FriendRequest,
    Group,
    GroupMember,
    GroupRole,
    GroupUpdate,
    Message,
    MsgStatus,
    OfflineFile,
    PriorityEntry,
    Role,
    RoomList,
    RoomRecord,
    RoomUser,
)
from polyim.pending import Pending


class Conflict(Exception):
    """A unique name or id is taken."""


@dataclass(frozen=True, slots=True)
class StoreMetrics:
    """What ``/metrics`` shows of the store: running totals since start, and the writer's backlog."""

    messages_stored: int  # appends committed as new messages (a resend of a stored one is not counted)
    commits: int  # write transactions committed
    commit_seconds: float  # wall time spent in them, BEGIN to COMMIT
    write_queue: int  # calls waiting for the writer
    #: calls per committed write transaction (a loop turn's appends are one call)
    commit_batch: Histogram = field(default_factory=lambda: Histogram(SIZE_BOUNDS))
    #: seconds per committed write transaction, BEGIN to COMMIT
    commit_latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BOUNDS))
    #: time the writer waited for more work after a costly settle (SQLite's linger; 0 where none)
    linger_seconds: float = 0.0


@dataclass(slots=True)
class NewMessage:
    """A message to append; the store assigns ``seq`` at commit."""

    conv: ConvId
    msg_id: int
    sender: int
    device: str
    client_id: str
    ctype: int
    content: str
    ts_ms: int
    activity_us: int
    data: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)
    topic: str = ""
    priority_uids: tuple[int, ...] = ()

    def __init__(
        self,
        conv: ConvId,
        msg_id: int,
        sender: int,
        device: str,
        client_id: str,
        ctype: int,
        content: str,
        ts_ms: int,
        activity_us: int,
        data: bytes = b"",
        extra: dict[str, Any] | None = None,
        topic: str = "",
        priority_uids: tuple[int, ...] = (),
    ) -> None:
        # written out to be compiled: see polyim.model.Message
        self.conv = conv
        self.msg_id = msg_id
        self.sender = sender
        self.device = device
        self.client_id = client_id
        self.ctype = ctype
        self.content = content
        self.ts_ms = ts_ms
        self.activity_us = activity_us
        self.data = data
        self.extra = {} if extra is None else extra
        self.topic = topic
        self.priority_uids = priority_uids


def stored(new: NewMessage, seq: int) -> Message:
    """The message ``new`` became, committed under ``seq`` (every backend's append returns it)."""
    return Message(
        new.conv,
        seq,
        new.msg_id,
        new.sender,
        new.device,
        new.client_id,
        new.ctype,
        new.content,
        new.ts_ms,
        MsgStatus.NORMAL,
        new.data,
        new.extra,
        new.topic,
    )


@dataclass(slots=True)
class SendResult:
    """What an append settles to: the stored message, and whether the append was a resend of it (the
    same sender, device and client id; nothing was written then). It is also a send's result: the store
    settles the caller's own :class:`Pending` with it (:meth:`Store.append_message`), one object a
    message from the commit to the adapter's ack."""

    message: Message
    duplicate: bool

    def __init__(self, message: Message, duplicate: bool) -> None:
        self.message = message  # written out to be compiled: see polyim.model.Message
        self.duplicate = duplicate


@mypyc_attr(allow_interpreted_subclasses=True)  # PostgresStore stays interpreted
class Store(abc.ABC):
    @abc.abstractmethod
    async def open(self) -> None:
        """Apply missing schema migrations (as :meth:`upgrade`), then start serving calls."""

    @abc.abstractmethod
    async def upgrade(self) -> tuple[int, list[int]]:
        """Apply the versioned schema migrations the database lacks, and nothing else (``polyim db
        upgrade``, which works beside a running server): (schema version now, versions applied)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def metrics(self) -> StoreMetrics: ...

    @abc.abstractmethod
    async def create_account(
        self,
        username: str,
        pw_hash: str,
        *,
        uid: int | None = None,
        nickname: str = "",
        email: str = "",
        role: Role = Role.USER,
        activated: bool = True,
    ) -> Account: ...

    @abc.abstractmethod
    async def get_account(self, uid: int) -> Account | None: ...

    @abc.abstractmethod
    async def get_account_by_name(self, username: str) -> Account | None: ...

    @abc.abstractmethod
    async def get_accounts(self, uids: Iterable[int]) -> list[Account]: ...

    @abc.abstractmethod
    async def list_accounts(self, limit: int = 10_000) -> list[Account]: ...

    @abc.abstractmethod
    async def get_password_hash(self, uid: int) -> str | None: ...

    @abc.abstractmethod
    async def update_account(self, uid: int, change: AccountUpdate) -> Account | None:
        """Write the fields ``change`` sets; the account as stored after it, None for an unknown uid."""
        ...

    @abc.abstractmethod
    def append_message(self, new: NewMessage, into: Pending[SendResult] | None = None) -> Pending[SendResult]:
        """Queue ``new`` for the next grouped commit; the result, settled after COMMIT, is the stored
        message and whether it was a resend (same sender, device and client id: the first one is
        returned and nothing is written). Not a coroutine, so the hot path creates no task. The result
        is ``into`` when given (the core's send result, settled by the writer's callback itself: no
        second object and callback a message), else a new one.

        The backend allocates ``seq`` atomically with the insert: the conversation's next seq, gapless,
        and never given twice however many writers (nodes) append to one conversation at once. SQLite
        does it in its one writer thread, the only connection that appends; a database server does it
        in the insert's own transaction, with ``UPDATE conversations SET last_seq = last_seq + 1 …
        RETURNING last_seq`` or an equivalent, whose row lock orders concurrent appenders. A caller never
        computes a seq."""

    @abc.abstractmethod
    async def get_message(self, conv: ConvId, seq: int) -> Message | None: ...

    @abc.abstractmethod
    async def find_message(self, sender: int, device: str, client_id: str) -> Message | None: ...

    async def max_client_seq(self, sender: int, device: str) -> int:
        """The highest numeric client message id stored from (sender, device); 0 when there is none.
        Protocols whose client ids are counters use it to continue a counter across logins."""
        return 0

    @abc.abstractmethod
    async def message_by_id(self, conv: ConvId, msg_id: int) -> Message | None:
        """The message of ``conv`` whose global ``msg_id`` this is."""
        ...

    @abc.abstractmethod
    async def history(
        self, conv: ConvId, before_seq: int, count: int, topic: str = "", *, deleted: bool = False
    ) -> list[Message]:
        """Newest first, seq <= before_seq (0 = from the newest); deleted messages only with ``deleted``."""
        ...

    @abc.abstractmethod
    async def messages_after(self, conv: ConvId, after_seq: int, count: int) -> list[Message]:
        """Oldest first, seq > after_seq, deleted ones included (sync must learn of deletions)."""
        ...

    @abc.abstractmethod
    async def last_message(self, conv: ConvId, topic: str = "") -> Message | None: ...

    @abc.abstractmethod
    async def last_seq(self, conv: ConvId) -> int: ...

    @abc.abstractmethod
    async def apply_control(
        self,
        control: Control,
        device: str,
        new_status: MsgStatus,
        new_content: str | None,
        queue_uids: Sequence[int],
        activity_us: int,
    ) -> tuple[Control, bool]: ...

    @abc.abstractmethod
    async def find_control(self, actor: int, device: str, client_id: str) -> Control | None: ...

    @abc.abstractmethod
    async def advance_read(
        self, uid: int, conv: ConvId, seq: int, activity_us: int, topic: str = ""
    ) -> int: ...

    @abc.abstractmethod
    def note_delivered(self, uid: int, conv: ConvId, seq: int) -> None:
        """Advance a delivered cursor without waiting: receipts are coalesced and written in the
        background (a lost receipt only means a message is offered again)."""

    @abc.abstractmethod
    async def advance_delivered(self, uid: int, conv: ConvId, seq: int) -> None: ...

    @abc.abstractmethod
    async def set_conv_attr(
        self, uid: int, conv: ConvId, name: str, value: str, activity_us: int
    ) -> None: ...

    @abc.abstractmethod
    async def conv_state(self, uid: int, conv: ConvId, topic: str = "") -> ConvState: ...

    @abc.abstractmethod
    async def user_conversations(self, uid: int) -> list[ConvState]:
        """Every conversation of the user: 1:1 with messages, groups, notification topics."""
        ...

    @abc.abstractmethod
    async def peers(self, uid: int) -> list[int]:
        """The users ``uid`` has a 1:1 conversation with (a note to self not counted)."""
        ...

    @abc.abstractmethod
    async def peer_cursors(self, uid: int) -> dict[str, tuple[int, int]]:
        """For each 1:1 conversation of ``uid`` with another user: that user's read cursor and the time
        (µs) it last moved, by conversation key (a conversation list with read receipts)."""
        ...

    @abc.abstractmethod
    async def priority_entries(
        self, uid: int, after_key: int, count: int, min_key: int
    ) -> list[PriorityEntry]: ...

    @abc.abstractmethod
    async def add_friends(self, uid: int, peer: int, remark: str, both: bool) -> None: ...

    @abc.abstractmethod
    async def remove_friends(self, uid: int, peer: int, both: bool = True) -> bool:
        """Delete the edge uid→peer (and peer→uid when ``both``); True when an edge was there."""

    @abc.abstractmethod
    async def set_buddy_group(self, uid: int, peer: int, group: str) -> bool:
        """Put the edge uid→peer into ``uid``'s buddy group ``group``; False when there is no such edge."""

    @abc.abstractmethod
    async def rename_buddy_group(self, uid: int, old: str, new: str) -> None:
        """Move every edge of ``uid`` in buddy group ``old`` to ``new``."""

    @abc.abstractmethod
    async def friends(self, uid: int, since_ms: int = 0) -> list[Friend]: ...

    @abc.abstractmethod
    async def followers(self, uid: int) -> set[int]:
        """The users who have ``uid`` as a friend (edges ``x``→``uid``)."""

    @abc.abstractmethod
    async def is_friend(self, uid: int, peer: int) -> bool: ...

    @abc.abstractmethod
    async def set_blocked(self, uid: int, peer: int, blocked: bool) -> None: ...

    @abc.abstractmethod
    async def blocked_by(self, uid: int) -> set[int]:
        """The users that ``uid`` has blocked."""
        ...

    @abc.abstractmethod
    async def set_muted(self, uid: int, peer: int, muted: bool) -> None: ...

    @abc.abstractmethod
    async def muted_by(self, uid: int) -> set[int]:
        """The users that ``uid`` has muted."""
        ...

    @abc.abstractmethod
    async def put_friend_request(self, request: FriendRequest, min_ms: int) -> None:
        """Store (or replace) a pending request; requests created before ``min_ms`` are dropped."""
        ...

    @abc.abstractmethod
    async def accept_friend_request(self, requester: int, accepter: int, remark: str, min_ms: int) -> bool:
        """If ``requester`` has a pending request to ``accepter`` made since ``min_ms``: in one transaction
        make both friend edges (accepter→requester with ``remark``, requester→accepter with the request's
        remark) and drop the requests between the two. False (nothing changed) without such a request."""
        ...

    @abc.abstractmethod
    async def delete_friend_requests(self, uid: int, peer: int) -> bool:
        """Drop the pending requests between the two, both directions; True if there were any."""
        ...

    @abc.abstractmethod
    async def friend_requests_to(self, peer: int, min_ms: int) -> list[FriendRequest]:
        """Pending requests addressed to ``peer`` made since ``min_ms``, oldest first."""
        ...

    @abc.abstractmethod
    async def set_friend_attr(self, uid: int, peer: int, name: str, value: str) -> None: ...

    @abc.abstractmethod
    async def friend_attrs(self, uid: int, peer: int | None, name: str) -> list[tuple[int, str, str]]: ...

    @abc.abstractmethod
    async def create_group(self, group: Group, members: Sequence[int]) -> Group: ...

    @abc.abstractmethod
    async def get_group(self, gid: int) -> Group | None: ...

    @abc.abstractmethod
    async def get_group_by_name(self, name: str) -> Group | None: ...

    @abc.abstractmethod
    async def list_groups(self, limit: int = 10_000) -> list[Group]:
        """Every group, by gid, at most ``limit``."""

    @abc.abstractmethod
    async def update_group(self, gid: int, change: GroupUpdate) -> Group:
        """Write the fields ``change`` sets (a new owner swaps the roles too) and stamp the update time;
        :class:`Conflict` if the new name is another group's."""
        ...

    @abc.abstractmethod
    async def delete_group(self, gid: int) -> list[int]: ...

    @abc.abstractmethod
    async def group_members(self, gid: int) -> list[GroupMember]: ...

    @abc.abstractmethod
    async def add_group_members(self, gid: int, uids: Sequence[int]) -> None: ...

    @abc.abstractmethod
    async def remove_group_members(self, gid: int, uids: Sequence[int]) -> None: ...

    @abc.abstractmethod
    async def set_member_role(self, gid: int, uid: int, role: GroupRole) -> None: ...

    @abc.abstractmethod
    async def set_member_muted(self, gid: int, uid: int, muted: bool) -> None: ...

    @abc.abstractmethod
    async def set_group_blacklisted(self, gid: int, uid: int, listed: bool) -> None: ...

    @abc.abstractmethod
    async def group_blacklist(self, gid: int) -> set[int]: ...

    @abc.abstractmethod
    async def groups_of(self, uid: int) -> list[Group]: ...

    @abc.abstractmethod
    async def new_device(self, uid: int, nation: int, city: int, town: int, now_ms: int) -> int:
        """Allocate the next device id of the sequence (skipping ids already bound) and bind it to ``uid``."""
        ...

    @abc.abstractmethod
    async def bind_device(self, device: int, uid: int, now_ms: int) -> int:
        """Bind ``device`` (an unsigned 64-bit id) to ``uid`` if it is unbound; return its owner."""
        ...

    @abc.abstractmethod
    async def device_owner(self, device: int) -> int | None: ...

    @abc.abstractmethod
    async def devices_since(self, uid: int, since_ms: int) -> int:
        """How many devices were allocated to ``uid`` by :meth:`new_device` since ``since_ms``."""
        ...

    @abc.abstractmethod
    async def next_rid(self) -> int:
        """The next value of the room id sequence."""
        ...

    @abc.abstractmethod
    def save_room(self, room: RoomRecord) -> asyncio.Future[None]:
        """Create or replace the room's settings; a dismissed room's lists are dropped with it.

        Queued in the call, not when awaited, like every room write: the core applies a room change
        synchronously and its writes must reach the database in the order it made them. The future
        settles after COMMIT."""

    @abc.abstractmethod
    def set_room_user(self, rid: int, uid: int, kind: RoomList, listed: bool) -> asyncio.Future[None]:
        """Put ``uid`` on (or take it off) one of the room's lists; queued in the call (see
        :meth:`save_room`)."""

    @abc.abstractmethod
    async def rooms(self) -> list[RoomRecord]:
        """Every room kept, dismissed ones included (their rids stay dead), in rid order."""

    @abc.abstractmethod
    async def room_users(self) -> list[RoomUser]:
        """The entries of every room's lists."""

    @abc.abstractmethod
    async def remember(self, key: str, result: str) -> str:
        """Store ``result`` under ``key`` unless a result is there already; return the stored one."""
        ...

    @abc.abstractmethod
    async def recall(self, key: str) -> str | None: ...

    # -- offline files ----------------------------------------------------------------------------
    @abc.abstractmethod
    async def keep_offline_file(self, record: OfflineFile) -> None:
        """Record a complete offline file for its recipient (its bytes are in the FileStore already)."""

    @abc.abstractmethod
    async def forget_offline_file(self, task_id: str) -> None:
        """Drop the record (downloaded and deleted, or expired); nothing when there is none."""

    @abc.abstractmethod
    async def offline_files(self, *, recipient: int = 0, task_id: str = "") -> list[OfflineFile]:
        """The recorded offline files, oldest first: every one (loaded at start), or those for
        ``recipient``, or the one of ``task_id`` (another node may have recorded or dropped it)."""


class FileTooLarge(Exception):
    """A file grew past its size limit while it was being stored; nothing of it was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class FileRef:
    """A stored file: its id (the only name a caller needs), its size and the SHA-256 of its bytes (hex),
    which a client can be given to check what it fetched."""

    id: str
    size: int
    sha256: str


@mypyc_attr(allow_interpreted_subclasses=True)
class FileStore(abc.ABC):
    """Blobs (offline files of TeamTalk and XMMEP) kept apart from the database: streamed in and out in
    chunks, never whole in memory, and either stored completely and durably or not at all."""

    @abc.abstractmethod
    async def put(self, stream: AsyncIterator[bytes], limit: int | None = None) -> FileRef:
        """Store what ``stream`` yields; durable when this returns. :class:`FileTooLarge` once it passes
        ``limit`` (or the store's own limit, whichever is lower), leaving no file behind; an error of the
        stream leaves none either."""

    @abc.abstractmethod
    def open(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, in chunks; ``FileNotFoundError`` (at the first chunk) for an unknown id."""

    @abc.abstractmethod
    async def delete(self, file_id: str) -> bool:
        """Drop the file; False if there was none."""

    @abc.abstractmethod
    async def size(self, file_id: str) -> int | None:
        """The file's size in bytes, None for an unknown id."""

    async def close(self) -> None:  # noqa: B027 - a store with nothing to release keeps this one
        """Release what the store holds (connections); the core calls it when it stops."""
