"""Chat rooms (design.md §4 "Rooms", beehive.md §4.4, §6.6): membership is the sessions inside a room now.

A room is a numeric ``rid`` with an owner (none for auto-created rooms), managers, an open/closed switch,
a sub-group capacity and an optional total limit, a gag list and a ban list (a kick bans). Its members
are live sessions, not users: joining is per connection, and a session that ends for any reason
(close, OFFLINE, kick, disabled account) leaves every room it was in — :class:`Rooms` hooks
:meth:`SessionRegistry.on_detach <polyim.core.sessions.SessionRegistry.on_detach>` for that, so every
protocol's sessions obey it. Inside a room each session sits in one sub-group of at most ``capacity``
sessions; a chat may target one sub-group, and fan-out walks the sub-groups.

Decisions where the design is silent:

* **Room chat is stored** in conversation ``(r, rid)`` (design.md §4 "Conversations") with a gapless
  seq and acknowledged after the commit, as beehive.md §10 #10 decides, so the wire carries the room
  seq, resends are answered from the store and other protocols can read the history. Rooms are not
  listed among a user's conversations, and only operators may read that history (no one is a
  "participant" of a room conversation).
* **Room settings are kept in the store** (owner, name, open/closed, capacity, limit, dismissal and the
  ban, gag and manager lists) and loaded at start, so a restart keeps a room ban; who is inside and the
  broadcasts are live state and are not kept. A change applies in memory at once, so no frame sees it
  half-made, and queues its store write in the same call, in order; :meth:`Rooms.flush` waits for
  those writes (``Core.stop`` does). An auto-created room is written only once something is set on it.
* **Broadcasts**: ``msgid`` counts per room from 1; a broadcast goes to the sessions inside now and,
  while unexpired (``expire_s`` > 0), to each session that joins later, right after its join; the frame
  is the original one (same time and expire), so a client computes what is left itself. At most
  :data:`KEPT_BROADCASTS` are kept per room.
* **Member counts** are per node: :meth:`Rooms.node_stats` is this node's report (the ROOM-LSN-STAT
  records), and reports of other nodes (:meth:`Rooms.apply_node_report`, 30 s TTL) add to the totals.
  Every ``count_interval`` seconds each room with sessions gets a COUNT event with its total; the
  adapter passes it on only to connections that asked for it (beehive SUB 0x0410).
* **Sub-groups** are the room's, on every node: sub-group k is the sessions in sub-group k of every
  node. A join takes the lowest index whose count (this node's, plus the other nodes' last reports)
  is below the capacity; a freed place is reused. Two joins on two nodes at the same instant may both
  take the last place of a sub-group: the capacity is kept to within a report's delay.
* **Across nodes** (scaled mode) each node keeps the rooms its own sessions are in. Its report (rid →
  sessions here) is a node record (:data:`ROOMS_RECORD`), written when a room gains or loses a session
  here and every few seconds; from the other nodes' reports a node knows where a room has sessions. A
  room's JOIN, QUIT, KICK, BC, DISMISS and whole-room CHAT go to those nodes as a ``RoomCast``, fanned out
  there to the sessions inside (a sub-group chat, to those of that sub-group); a
  change of a room's kept settings or lists is announced to every node once committed, and each reads
  the room again from the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from polyim.cluster.base import NodeRegistry, SessionId
from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import Event, MessageEvent, RoomBroadcast, RoomChange, RoomEvent
from polyim.core.ids import check_name
from polyim.core.messaging import (
    DEFAULT_POLICY,
    Outgoing,
    SendPolicy,
    SendResult,
    check_size,
    commit_then,
    new_message,
)
from polyim.core.sessions import Session, fan_out
from polyim.core.stats import bump
from polyim.model import ConvKind, Message, RoomList, RoomRecord
from polyim.pending import Pending

log = logging.getLogger(__name__)

ROOMS_PER_SESSION = 64
KEPT_BROADCASTS = 100
NODE_REPORT_TTL = 30.0
# a node's report, keyed by node id: {rid: [sessions here in sub-group 0, 1, …]} as JSON
ROOMS_RECORD = "core.rooms"
MAX_NAME = 64
MAX_DESC = 512


@dataclass
class RoomSettings:
    """Defaults the protocols configure (beehive ``room_group_capacity``, ``room_autocreate``, …)."""

    group_capacity: int = 10_000
    autocreate: bool = True
    count_interval: float = 5.0


@dataclass(frozen=True, slots=True)
class JoinResult:
    subgroup: int
    joined: bool  # False when this session was inside already (nothing announced)
    broadcasts: tuple[RoomBroadcast, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomStat:
    """One node's session count in one room: the ROOM-LSN-STAT record of beehive.md §4.4."""

    rid: int
    nid: int
    num: int
    groups: tuple[int, ...] = ()  # sessions per sub-group on that node


@dataclass(eq=False)
class Room:
    rid: int
    capacity: int
    owner: int = 0
    name: str = ""
    desc: str = ""
    closed: bool = False
    limit: int = 0  # sessions in the room on this node; 0 = no limit
    managers: set[int] = field(default_factory=set)
    gagged: set[int] = field(default_factory=set)
    banned: set[int] = field(default_factory=set)
    groups: list[set[Session]] = field(default_factory=list)
    where: dict[Session, int] = field(default_factory=dict)
    broadcasts: deque[RoomBroadcast] = field(default_factory=lambda: deque(maxlen=KEPT_BROADCASTS))
    last_msgid: int = 0
    kept: bool = False  # its settings are in the store (its list entries may be)

    @classmethod
    def restored(cls, record: RoomRecord) -> Room:
        return cls(
            record.rid,
            record.capacity,
            owner=record.owner,
            name=record.name,
            desc=record.desc,
            closed=record.closed,
            limit=record.limit,
            kept=True,
        )

    def record(self, *, dismissed: bool = False) -> RoomRecord:
        return RoomRecord(
            self.rid, self.capacity, self.owner, self.name, self.desc, self.closed, self.limit, dismissed
        )

    def listed(self, kind: RoomList) -> set[int]:
        """The room's list of that kind."""
        if kind is RoomList.BANNED:
            return self.banned
        return self.gagged if kind is RoomList.GAGGED else self.managers

    @property
    def size(self) -> int:
        return len(self.where)

    def place(self, session: Session, elsewhere: list[int]) -> int:
        """The lowest sub-group below capacity, else a new one (beehive.md §4.4 ROOM-JOIN); ``elsewhere``
        is each sub-group's sessions on the other nodes."""
        known = max(len(self.groups), len(elsewhere))
        counts = [(len(self.groups[i]) if i < len(self.groups) else 0) for i in range(known)]
        counts = [n + (elsewhere[i] if i < len(elsewhere) else 0) for i, n in enumerate(counts)]
        index = next((i for i, n in enumerate(counts) if n < self.capacity), known)
        while len(self.groups) <= index:
            self.groups.append(set())
        self.groups[index].add(session)
        self.where[session] = index
        return index

    def remove(self, session: Session) -> bool:
        index = self.where.pop(session, None)
        if index is None:
            return False
        self.groups[index].discard(session)
        while self.groups and not self.groups[-1]:
            self.groups.pop()
        return True

    def sessions_of(self, uid: int) -> list[Session]:
        return [s for s in self.where if s.uid == uid]

    def live_broadcasts(self, now_ms: int) -> tuple[RoomBroadcast, ...]:
        while self.broadcasts and self.broadcasts[0].expires_ms <= now_ms:
            self.broadcasts.popleft()
        return tuple(b for b in self.broadcasts if b.expires_ms > now_ms)

    def pristine(self, default_capacity: int) -> bool:
        """Nothing worth keeping: an empty, ownerless room with default settings and no history."""
        return not (
            self.where
            or self.owner
            or self.managers
            or self.gagged
            or self.banned
            or self.closed
            or self.limit
            or self.last_msgid
            or self.capacity != default_capacity
        )


class Rooms:
    def __init__(self, ctx: Context, registry: NodeRegistry) -> None:
        self.ctx = ctx
        self._registry = registry  # the node reports: where each room has sessions
        self.settings = RoomSettings()
        self._rooms: dict[int, Room] = {}
        self._dismissed: set[int] = set()
        self._of_session: dict[Session, set[int]] = {}
        self._reports: dict[int, tuple[float, dict[int, int]]] = {}  # remote nid → (time, rid → num)
        self._ticker: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Future[None]] = set()
        self._heard_reports: dict[int, bytes] = {}  # nid → the report last applied
        self._remote_groups: dict[int, dict[int, tuple[int, ...]]] = {}  # nid → rid → per sub-group
        self._report_queued = False
        ctx.sessions.on_detach(self.leave_all)
        ctx.sessions.on_room_cast(self._heard)
        ctx.rooms = self

    # -- what the store keeps -----------------------------------------------------------------------
    async def load(self) -> None:
        """Bring back the kept rooms (at start, before any session): settings, lists, dead rids."""
        for record in await self.ctx.store.rooms():
            if record.dismissed:
                self._dismissed.add(record.rid)
            else:
                self._rooms[record.rid] = Room.restored(record)
        for entry in await self.ctx.store.room_users():
            room = self._rooms.get(entry.rid)
            if room is not None:
                room.listed(entry.kind).add(entry.uid)

    async def flush(self) -> None:
        """Wait until every room change made so far is committed (or has failed, which is logged)."""
        while self._writes:
            await asyncio.wait(set(self._writes))

    def _keep(self, room: Room, *, dismissed: bool = False) -> asyncio.Future[None]:
        """Queue the room's settings for the store (the other nodes read them again once committed)."""
        room.kept = True
        return self._announced(
            room.rid, self._track(self.ctx.store.save_room(room.record(dismissed=dismissed)))
        )

    def _set_listed(self, room: Room, kind: RoomList, uid: int, listed: bool) -> None:
        """Put ``uid`` on (or off) one of the room's lists, and queue the change for the store."""
        entries = room.listed(kind)
        if (uid in entries) == listed:
            return
        if listed:
            entries.add(uid)
        else:
            entries.discard(uid)
        if not room.kept:
            self._keep(room)
        self._announced(room.rid, self._track(self.ctx.store.set_room_user(room.rid, uid, kind, listed)))

    def _track(self, write: asyncio.Future[None]) -> asyncio.Future[None]:
        self._writes.add(write)
        write.add_done_callback(self._written)
        return write

    def _written(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            log.error("a room change was not stored: %s", write.exception())

    # -- other nodes ----------------------------------------------------------------------------------
    def _announced(self, rid: int, write: asyncio.Future[None]) -> asyncio.Future[None]:
        """Once ``write`` (a change of room ``rid``'s kept state) committed, tell every node to read it."""

        def committed(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.ctx.sessions.cast_room(self._nodes(), rid, None)

        write.add_done_callback(committed)
        return write

    def report(self) -> None:
        """Write this node's report (rid → sessions here) into the node registry."""
        self._report_queued = False
        counts = {str(r.rid): [len(g) for g in r.groups] for r in self._rooms.values() if r.where}
        self._registry.put(ROOMS_RECORD, str(self.ctx.clock.node_id), json.dumps(counts).encode())

    def _report_soon(self) -> None:
        """A room gained or lost a session here: report once this loop turn is over."""
        if not self._report_queued:
            self._report_queued = True
            asyncio.get_running_loop().call_soon(self.report)

    def _absorb_reports(self) -> None:
        """Apply the other nodes' reports that changed since last read (see :meth:`apply_node_report`)."""
        now = time.monotonic()
        for record in self._registry.records(ROOMS_RECORD):
            nid = int(record.key)
            if record.alive(now) and self._heard_reports.get(nid) != record.value:
                self._heard_reports[nid] = record.value
                stats = [_stat(int(rid), nid, num) for rid, num in json.loads(record.value).items()]
                self.apply_node_report(nid, stats)

    def _elsewhere(self, rid: int) -> list[int]:
        """Sessions per sub-group of room ``rid`` on the other live nodes, from their reports."""
        self._absorb_reports()
        now = time.monotonic()
        total: list[int] = []
        for nid, (at, _) in self._reports.items():
            if now - at >= NODE_REPORT_TTL:
                continue
            for i, num in enumerate(self._remote_groups.get(nid, {}).get(rid, ())):
                if i == len(total):
                    total.append(0)
                total[i] += num
        return total

    def _nodes(self, rid: int = 0) -> list[int]:
        """The other live nodes (with sessions in room ``rid`` when given)."""
        self._absorb_reports()
        now = time.monotonic()
        return [
            nid
            for nid, (at, counts) in self._reports.items()
            if now - at < NODE_REPORT_TTL and (not rid or counts.get(rid))
        ]

    def _spread(self, rid: int, event: RoomEvent, *, everywhere: bool = False) -> None:
        self.ctx.sessions.cast_room(self._nodes(0 if everywhere else rid), rid, event)

    def _heard(self, rid: int, event: Event | None) -> None:
        """Another node's room event for the sessions inside here, or a change of the room to read."""
        if event is None:
            self._track(asyncio.ensure_future(self._reload(rid)))
            return
        if not isinstance(event, RoomEvent):
            return
        room = self._rooms.get(rid)
        if event.kind is RoomChange.DISMISS:
            self._dismissed.add(rid)
        if room is None:
            return
        inside = list(room.where)
        # another node's chat reaches this node's sessions: counted as this node's messages out
        counts = self.ctx.stats.messages_out if event.kind is RoomChange.CHAT else None
        if event.kind is RoomChange.CHAT and event.subgroup:
            in_group = room.groups[event.subgroup] if event.subgroup < len(room.groups) else set()
            fan_out(list(in_group), event, counts)  # a sub-group chat: that sub-group's sessions here
            return
        fan_out(inside, event, counts)
        if event.kind is RoomChange.DISMISS:
            self._drop(room, inside)
        elif event.kind is RoomChange.KICK:
            room.banned.add(event.uid)
            for session in room.sessions_of(event.uid):
                self._unlink(session, rid)
        elif event.kind is RoomChange.BC and event.broadcast is not None and event.broadcast.expire_s:
            room.broadcasts.append(event.broadcast)

    async def _reload(self, rid: int) -> None:
        """Read room ``rid``'s kept settings and lists again (another node changed them)."""
        record = next((r for r in await self.ctx.store.rooms() if r.rid == rid), None)
        if record is None or record.dismissed:
            return
        entries = [e for e in await self.ctx.store.room_users() if e.rid == rid]
        room = self._rooms.get(rid)
        if room is None:
            room = self._rooms[rid] = Room.restored(record)
        else:
            room.owner, room.name, room.desc = record.owner, record.name, record.desc
            room.closed, room.limit, room.capacity, room.kept = (
                record.closed,
                record.limit,
                record.capacity,
                True,
            )
        for kind in RoomList:
            room.listed(kind).clear()
            room.listed(kind).update(e.uid for e in entries if e.kind is kind)

    # -- settings and the periodic tick -----------------------------------------------------------
    def configure(
        self,
        *,
        group_capacity: int | None = None,
        autocreate: bool | None = None,
        count_interval: float | None = None,
    ) -> None:
        """Set the defaults; a count interval also starts the periodic member-count tick (the smallest
        interval any protocol asks for wins). Needs a running loop when ``count_interval`` is given."""
        s = self.settings
        if group_capacity is not None:
            s.group_capacity = max(1, group_capacity)
        if autocreate is not None:
            s.autocreate = autocreate
        if (
            count_interval is not None
            and count_interval > 0
            and (self._ticker is None or count_interval < s.count_interval)
        ):
            s.count_interval = count_interval
            self.stop()
            self._ticker = asyncio.ensure_future(self._tick_forever())

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.count_interval)
            try:
                self.tick()
            except Exception:
                log.exception("room tick failed")

    def tick(self) -> int:
        """Push member counts into every room with sessions; returns the rooms counted."""
        now_ms = self.ctx.clock.now_ms()
        counted = 0
        for room in list(self._rooms.values()):
            room.live_broadcasts(now_ms)  # drop expired ones
            if room.where:
                fan_out(list(room.where), RoomEvent(room.rid, RoomChange.COUNT, count=self.count(room.rid)))
                counted += 1
        return counted

    # -- lookups ----------------------------------------------------------------------------------
    def get(self, rid: int) -> Room | None:
        return self._rooms.get(rid)

    def require(self, rid: int) -> Room:
        room = self._rooms.get(rid)
        if room is None:
            raise CoreError(Code.ROOM_NOT_FOUND, "no such room")
        return room

    # -- the conversation rules' view (context.RoomView) ------------------------------------------------
    def inside(self, session: Session, rid: int) -> bool:
        room = self._rooms.get(rid)
        return room is not None and session in room.where

    def moderates(self, uid: int, rid: int) -> bool:
        """The owner and the managers may recall others' messages in the room."""
        room = self._rooms.get(rid)
        return room is not None and (uid == room.owner or uid in room.managers)

    def sessions(self, rid: int) -> list[Session]:
        room = self._rooms.get(rid)
        return list(room.where) if room is not None else []

    def rooms_of(self, session: Session) -> list[int]:
        return sorted(self._of_session.get(session, ()))

    def subgroups(self, rid: int) -> list[int]:
        """Session count of each sub-group of the room, on every node."""
        here = [len(g) for g in self.require(rid).groups]
        elsewhere = self._elsewhere(rid)
        size = max(len(here), len(elsewhere))
        here += [0] * (size - len(here))
        return [n + (elsewhere[i] if i < len(elsewhere) else 0) for i, n in enumerate(here)]

    # -- life of a room ---------------------------------------------------------------------------
    async def create(self, owner: int, name: str = "", desc: str = "", *, rid: int | None = None) -> Room:
        """A new open, empty room; ``rid`` None takes the next rid of the sequence not in use."""
        if len(name) > MAX_NAME or len(desc) > MAX_DESC:
            raise CoreError(Code.BAD_REQUEST, "name or description too long")
        check_name(name, "room name")
        if rid is None:
            rid = await self.ctx.store.next_rid()
            while rid in self._rooms or rid in self._dismissed:
                rid = await self.ctx.store.next_rid()
        elif rid <= 0 or rid in self._rooms or rid in self._dismissed:
            raise CoreError(Code.BAD_REQUEST, "rid in use")
        room = Room(rid, self.settings.group_capacity, owner=owner, name=name, desc=desc)
        self._rooms[rid] = room  # taken now: a second create of the same rid is refused while this one saves
        try:
            await self._keep(room)
        except Exception:
            del self._rooms[rid]
            raise
        return room

    def dismiss(self, actor: int, rid: int, *, skip: SessionId | None = None) -> bool:
        """Owner only. Everyone inside gets DISMISS and is removed; the rid stays dead. Returns whether
        ``skip`` (the acting session, told by its adapter) was inside."""
        room = self.require(rid)
        if not room.owner or actor != room.owner:
            raise CoreError(Code.NOT_OWNER, "not the room owner")
        inside = list(room.where)
        event = RoomEvent(rid, RoomChange.DISMISS)
        fan_out([s for s in inside if s.sid != skip], event)
        self._spread(rid, event, everywhere=True)
        self._drop(room, inside)
        self._dismissed.add(rid)
        self._keep(room, dismissed=True)
        return any(s.sid == skip for s in inside)

    def _drop(self, room: Room, inside: list[Session]) -> None:
        for session in inside:
            self._unlink(session, room.rid)
        self._rooms.pop(room.rid, None)

    # -- membership -------------------------------------------------------------------------------
    def join(self, session: Session, rid: int, *, create: bool = True) -> JoinResult:
        """Put ``session`` in the room; others inside get JOIN (the joiner's adapter tells it itself).
        Without ``create``, a room nobody created or used is not found even while rooms are
        auto-created (a protocol that never creates rooms, imlc)."""
        room = self._joinable(rid, create)
        index = room.where.get(session)
        if index is not None:
            return JoinResult(index, False)
        self._check_entry(room, session)
        others = list(room.where)
        index = room.place(session, self._elsewhere(rid))
        self._of_session.setdefault(session, set()).add(rid)
        event = RoomEvent(rid, RoomChange.JOIN, uid=session.uid)
        fan_out(others, event)
        self._spread(rid, event)
        self._report_soon()
        return JoinResult(index, True, room.live_broadcasts(self.ctx.clock.now_ms()))

    def _joinable(self, rid: int, create: bool) -> Room:
        if rid <= 0 or rid in self._dismissed:
            raise CoreError(Code.ROOM_NOT_FOUND, "no such room")
        room = self._rooms.get(rid)
        if room is None:
            if not (create and self.settings.autocreate):
                raise CoreError(Code.ROOM_NOT_FOUND, "no such room")
            room = self._rooms[rid] = Room(rid, self.settings.group_capacity)
        return room

    def _check_entry(self, room: Room, session: Session) -> None:
        if session.uid in room.banned:
            raise CoreError(Code.BLOCKED, "banned from the room")
        if room.closed:
            raise CoreError(Code.ROOM_CLOSED, "room closed")
        if room.limit and room.size >= room.limit:
            raise CoreError(Code.ROOM_FULL, "room full")
        if len(self._of_session.get(session, ())) >= ROOMS_PER_SESSION:
            raise CoreError(Code.LIMIT, "too many rooms")

    def quit(self, session: Session, rid: int) -> bool:
        """Leave the room; the remaining sessions get QUIT. False (and nothing sent) if not inside —
        also for a never-created rid while rooms are auto-created, since any such rid could be joined."""
        room = self._rooms.get(rid)
        if room is None and (rid <= 0 or rid in self._dismissed or not self.settings.autocreate):
            raise CoreError(Code.ROOM_NOT_FOUND, "no such room")
        if room is None or session not in room.where:
            return False
        self._unlink(session, rid)
        event = RoomEvent(rid, RoomChange.QUIT, uid=session.uid)
        fan_out(list(room.where), event)
        self._spread(rid, event)
        self._report_soon()
        self._forget_if_pristine(room)
        return True

    def leave_all(self, session: Session) -> None:
        """A session ended: it quits every room it was in (the others get QUIT)."""
        for rid in list(self._of_session.get(session, ())):
            self.quit(session, rid)
        self._of_session.pop(session, None)

    def kick(self, actor: Session | None, rid: int, uid: int) -> bool:
        """Kick = ban (beehive.md §4.4): ``uid`` goes on the ban list and each of its sessions inside gets
        KICK and is removed; the others get KICK too (their adapters tell them apart by uid). ``actor``
        None is an operator. Returns whether ``actor``'s session is inside (its adapter tells it)."""
        room = self.require(rid)
        if actor is not None and actor.uid != room.owner and actor.uid not in room.managers:
            raise CoreError(Code.NOT_OWNER, "not the room owner or a manager")
        if uid <= 0 or (actor is not None and uid == actor.uid):
            raise CoreError(Code.BAD_REQUEST, "bad kick target")
        if uid == room.owner:
            raise CoreError(Code.FORBIDDEN, "the owner cannot be kicked")
        self._set_listed(room, RoomList.BANNED, uid, True)
        victims = room.sessions_of(uid)
        event = RoomEvent(rid, RoomChange.KICK, uid=uid)
        if victims:
            fan_out([s for s in room.where if s is not actor], event)
            for session in victims:
                self._unlink(session, rid)
            self._report_soon()
        self._spread(rid, event)
        return actor is not None and bool(victims) and actor in room.where

    def _unlink(self, session: Session, rid: int) -> None:
        room = self._rooms.get(rid)
        if room is not None:
            room.remove(session)
        rooms = self._of_session.get(session)
        if rooms is not None:
            rooms.discard(rid)
            if not rooms:
                del self._of_session[session]

    def _forget_if_pristine(self, room: Room) -> None:
        """Auto-created rooms nobody configured vanish when empty, so joins of random rids cost nothing."""
        if room.pristine(self.settings.group_capacity):
            self._rooms.pop(room.rid, None)

    # -- operator settings ------------------------------------------------------------------------
    def unban(self, rid: int, uid: int) -> None:
        self._set_listed(self.require(rid), RoomList.BANNED, uid, False)

    def set_gagged(self, rid: int, uid: int, gagged: bool) -> None:
        self._set_listed(self.require(rid), RoomList.GAGGED, uid, gagged)

    def set_manager(self, rid: int, uid: int, manager: bool) -> None:
        self._set_listed(self.require(rid), RoomList.MANAGER, uid, manager)

    def set_closed(self, rid: int, closed: bool) -> None:
        """Closed: no joins and no chat; the sessions inside stay."""
        room = self.require(rid)
        room.closed = closed
        self._keep(room)

    def set_limit(self, rid: int, limit: int) -> None:
        room = self.require(rid)
        room.limit = max(0, limit)
        self._keep(room)

    def set_capacity(self, rid: int | None, capacity: int) -> None:
        """Sub-group capacity of one room (new placements only, kept), or the default for new rooms (a
        setting of the protocols' configuration, set again at every start)."""
        if capacity <= 0:
            raise CoreError(Code.BAD_REQUEST, "capacity must be positive")
        if rid is None:
            self.settings.group_capacity = capacity
        else:
            room = self.require(rid)
            room.capacity = capacity
            self._keep(room)

    def capacity(self, rid: int | None) -> int:
        return self.settings.group_capacity if rid is None else self.require(rid).capacity

    # -- traffic ----------------------------------------------------------------------------------
    def chat(
        self, session: Session, out: Outgoing, subgroup: int = 0, policy: SendPolicy = DEFAULT_POLICY
    ) -> Pending[SendResult]:
        """Check and queue a room message; the result is settled after the commit, when it has been fanned
        out to the room (or the sub-group ``subgroup`` ≠ 0), **the sender's session included**. A resend
        of a committed client id resolves to the original with ``duplicate`` and is not sent again."""
        room = self._check_chat(session, out, subgroup, policy)
        bump(self.ctx.stats.messages_in, session.protocol)
        new = new_message(self.ctx.clock, out, session.uid, session.device_id)
        return commit_then(
            self.ctx.store,
            new,
            lambda message: self._deliver_chat(room.rid, session, subgroup, message),
        )

    def _check_chat(self, session: Session, out: Outgoing, subgroup: int, policy: SendPolicy) -> Room:
        if out.conv.kind is not ConvKind.ROOM:
            raise CoreError(Code.BAD_REQUEST, "not a room")
        room = self.require(out.conv.a)
        if session not in room.where:
            raise CoreError(Code.NOT_IN_ROOM, "not in the room")
        if room.closed:
            raise CoreError(Code.ROOM_CLOSED, "room closed")
        if session.uid in room.gagged:
            raise CoreError(Code.MUTED, "gagged in the room")
        check_size(out, self.ctx.settings.max_message_bytes, policy)
        if subgroup < 0 or subgroup >= max(1, len(room.groups), len(self._elsewhere(room.rid))):
            raise CoreError(Code.BAD_REQUEST, "no such sub-group")
        return room

    def _deliver_chat(self, rid: int, sender: Session, subgroup: int, message: Message) -> None:
        room = self._rooms.get(rid)
        if room is not None:
            event = RoomEvent(
                rid, RoomChange.CHAT, uid=sender.uid, subgroup=subgroup, message=message, origin=sender.sid
            )
            groups = room.groups if subgroup == 0 else room.groups[subgroup : subgroup + 1]
            stats = self.ctx.stats
            reached = 0
            for group in groups:  # fan-out walks the sub-groups
                reached += fan_out(list(group), event, stats.messages_out)
            stats.fanout.observe_count(reached)
            self._spread(rid, event)  # the other nodes' sessions of the room (or of that sub-group)
            if sender in room.where and room.where[sender] != subgroup and subgroup != 0:
                sender.sink.deliver(event)  # the sender always gets its own message
        # operators monitoring the room conversation (design.md §4 roles)
        self.ctx.sessions.deliver((), MessageEvent(message), conv_key=message.conv.key)

    def broadcast(self, rid: int, data: bytes, expire_s: int = 0) -> RoomBroadcast:
        """An operator's broadcast: to every session inside now and, until it expires, to later joiners."""
        room = self.require(rid)
        room.last_msgid += 1
        bc = RoomBroadcast(rid, room.last_msgid, data, self.ctx.clock.now_ms(), max(0, expire_s))
        if bc.expire_s:
            room.broadcasts.append(bc)
        event = RoomEvent(rid, RoomChange.BC, broadcast=bc)
        fan_out(list(room.where), event)
        self._spread(rid, event)
        return bc

    # -- member counts ----------------------------------------------------------------------------
    def count(self, rid: int) -> int:
        """Sessions in the room on every node: this node's live count plus fresh remote node reports."""
        self._absorb_reports()
        room = self._rooms.get(rid)
        here = room.size if room is not None else 0
        now = time.monotonic()
        return here + sum(
            counts.get(rid, 0) for at, counts in self._reports.values() if now - at < NODE_REPORT_TTL
        )

    def node_stats(self) -> list[RoomStat]:
        """This node's report: one record per room with sessions here."""
        nid = self.ctx.clock.node_id
        return [
            RoomStat(r.rid, nid, r.size, tuple(len(g) for g in r.groups))
            for r in self._rooms.values()
            if r.where
        ]

    def apply_node_report(self, nid: int, stats: list[RoomStat]) -> None:
        """Another node's report (scaled mode); it counts until it is :data:`NODE_REPORT_TTL` old."""
        if nid != self.ctx.clock.node_id:
            self._reports[nid] = (time.monotonic(), {s.rid: s.num for s in stats})
            self._remote_groups[nid] = {s.rid: s.groups for s in stats if s.groups}

    def top(self, num: int) -> list[tuple[int, int]]:
        """(rid, total) of the ``num`` rooms with the most sessions, largest first."""
        self._absorb_reports()
        rids = set(self._rooms) | {rid for _, counts in self._reports.values() for rid in counts}
        totals = [(rid, self.count(rid)) for rid in rids]
        totals = [t for t in totals if t[1] > 0]
        totals.sort(key=lambda t: (-t[1], t[0]))
        return totals[:num]


def _stat(rid: int, nid: int, reported: int | list[int]) -> RoomStat:
    """A room's entry in a node's report: sessions per sub-group (a bare count from an older node)."""
    if isinstance(reported, int):
        return RoomStat(rid, nid, reported)
    return RoomStat(rid, nid, sum(reported), tuple(reported))
