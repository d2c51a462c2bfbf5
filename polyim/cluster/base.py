"""The cluster seams (design.md §1, §6): everything the core asks of "the other nodes", as interfaces.

The core talks only to these. :mod:`polyim.cluster.local` implements them for nodes that share one
process (a single node in production); the scaled mode adds a Redis implementation beside it, and the
core does not change.

One rule keeps the single-node path as fast as it was: what the hot path reads (is a user online, which
of a user's sessions live on another node) comes from this node's memory, which the implementation keeps
current; nothing on a send waits for a round trip. Writes (a session came or went, a cache entry is
stale) may travel in the background. Only events for sessions on other nodes are serialized.

This module imports nothing but the core's vocabulary (events and records), so the core imports it
without a cycle; the implementations live beside it and the core never imports them, except
:mod:`polyim.core.app`, which builds the local ones.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NewType

from polyim.model import DeviceClass

SessionId = NewType("SessionId", int)
"""Names a live session on every node: an id from its node's message-id clock (time, node, counter),
so it is unique across nodes and restarts."""
NO_SESSION = SessionId(0)  # a session not yet attached

RECORD_TTL = 30.0  # a node record is alive this long after its last refresh
GONE_KEPT = 600.0  # and listed (as gone) this long, so readers can tell a node that went away


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """What every node knows of a live session: enough to route an event to it and to apply the kick
    policy (design.md §4 "Sessions") to it from any node."""

    sid: SessionId
    node: int
    uid: int
    protocol: str
    device_class: DeviceClass
    device_id: str
    device_type: int = 0


class Directory(ABC):
    """Which sessions every user has, and on which node.

    Reads are answered from this node's view at once; :meth:`remote` is that view of other nodes'
    sessions, which the session registry checks on every delivery, so with one node it stays empty and
    a delivery costs nothing more than before.
    """

    node_id: int

    @abstractmethod
    def add(self, record: SessionRecord) -> None:
        """A session went live on ``record.node``."""

    @abstractmethod
    def remove(self, sid: SessionId) -> SessionRecord | None:
        """A session ended (or was kicked, from any node); the record it had, if it was known."""

    @abstractmethod
    def get(self, sid: SessionId) -> SessionRecord | None: ...

    @abstractmethod
    def of(self, uid: int) -> Sequence[SessionRecord]:
        """Every live session of ``uid``, on every node."""

    @abstractmethod
    def online(self, uid: int) -> bool:
        """``uid`` has a live session on some node (presence)."""

    @abstractmethod
    def remote(self) -> Mapping[int, Sequence[SessionRecord]]:
        """uid → that user's sessions on other nodes: one live mapping, kept current, read often."""

    def connected(self) -> bool:
        """Whether events for other nodes' sessions can be routed now (False while the backend that
        carries them is unreachable; always True in one process)."""
        return True


Inbox = Callable[[bytes], None]


class Router(ABC):
    """Carries envelopes (:mod:`polyim.cluster.codec`) to the node that holds their sessions.

    Delivery is at most once: a lost event is repaired by seq sync when the client reconnects
    (design.md §6), so the sender never waits for it.
    """

    @abstractmethod
    def publish(self, node: int, envelope: bytes) -> None:
        """Queue ``envelope`` for ``node``'s inbox; never blocks."""

    @abstractmethod
    def subscribe(self, inbox: Inbox) -> None:
        """Hand the envelopes published to this node to ``inbox``, on the event loop."""


class Throttle(ABC):
    """Failed logins per key (``acct:<uid or name>``, ``addr:<ip>``) shared by every node, so N nodes do
    not allow N times the attempts (design.md §7). Async: a shared count lives in another process."""

    @abstractmethod
    async def locked(self, key: str) -> bool: ...

    @abstractmethod
    async def fail(self, key: str) -> None: ...

    @abstractmethod
    async def succeed(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """An opaque fact a node publishes about itself (beehive LSND-INFO, FRWD-INFO), refreshed
    periodically. ``refreshed`` is on the reader's ``time.monotonic()`` clock: an implementation that
    shares records between machines translates it when it reads them."""

    kind: str
    key: str
    value: bytes
    refreshed: float

    def alive(self, now: float) -> bool:
        return now - self.refreshed < RECORD_TTL


class NodeRegistry(ABC):
    """The records every node publishes (design.md §6 node registry). Reads come from this node's view,
    so the protocols' server-lookup handlers answer without a round trip."""

    @abstractmethod
    def put(self, kind: str, key: str, value: bytes) -> None: ...

    @abstractmethod
    def records(self, kind: str) -> list[NodeRecord]:
        """The records of ``kind`` still listed (alive or recently gone), by key."""


class CacheKind(enum.Enum):
    """The core's read-through caches (:class:`polyim.core.context.Caches`), by what names an entry."""

    ACCOUNT = "account"  # uid
    GROUP = "group"  # gid: the group and its members
    FRIENDS = "friends"  # uid
    BLOCKS = "blocks"  # uid
    MUTES = "mutes"  # uid


Drop = Callable[[CacheKind, tuple[int, ...]], None]


class CacheBus(ABC):
    """Cache invalidation between nodes: a write on one node makes every node's entry stale."""

    @abstractmethod
    def subscribe(self, drop: Drop) -> None:
        """Call ``drop`` for every invalidation, this node's own included."""

    @abstractmethod
    def drop(self, kind: CacheKind, keys: tuple[int, ...]) -> None:
        """Drop the entries everywhere: on this node before it returns (a write's next read is fresh),
        on the others as soon as they hear."""


class Membership(ABC):
    """A node joining the cluster before it serves and leaving it when it stops, so the other nodes never
    route to a node that has gone (one that dies instead is forgotten when its directory entries expire)."""

    @abstractmethod
    async def join(self) -> None:
        """Connect to the backend; called before the first session attaches."""

    @abstractmethod
    async def leave(self) -> None:
        """Take this node's sessions out of the directory and stop receiving envelopes."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """One node's set of seams, built together because they share their backend."""

    directory: Directory
    router: Router
    throttle: Throttle
    nodes: NodeRegistry
    caches: CacheBus
    membership: Membership
