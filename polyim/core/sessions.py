"""Live sessions: one per authenticated connection, whatever its protocol, named by id on every node."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mypy_extensions import mypyc_attr

from polyim.cluster.base import NO_SESSION, Directory, Router, SessionId, SessionRecord
from polyim.cluster.codec import Broadcast, Delivery, Kick, RoomCast, decode_envelope, encode_envelope
from polyim.core.events import Event, KickReason, MessageEvent, Presence
from polyim.core.stats import NodeStats, bump
from polyim.logctx import LogContext, scoped
from polyim.model import DeviceClass, Role

log = logging.getLogger(__name__)


@mypyc_attr(allow_interpreted_subclasses=True)  # the web chat's reader and the tests' sinks
class Sink:
    """What the core needs from a connection: hand it an event, or tell it it has been kicked.

    Both are synchronous and must not block: the adapter encodes and queues a write. A base class, not
    a ``Protocol``: compiled delivery (every message's) then calls a channel's ``deliver`` natively."""

    def deliver(self, event: Event) -> None:
        raise NotImplementedError

    def kick(self, reason: KickReason) -> None:
        raise NotImplementedError

    @classmethod
    def deliver_all(cls, sinks: Sequence[Sink], event: Event) -> None:
        """``deliver`` to many sinks of this class at once (see :func:`fan_out`); one by one unless the
        class has a faster way."""
        for sink in sinks:
            sink.deliver(event)


def fan_out(sessions: Iterable[Session], event: Event, counts: dict[str, int] | None = None) -> int:
    """Hand ``event`` to many sessions (a room, a broadcast), grouped by adapter class: an adapter renders
    the frame once and writes it to all its connections in one tight loop (design.md §8). ``counts``
    (protocol → sessions) adds how many of each protocol's sessions got it, once per adapter class."""
    groups: dict[type[Sink], list[Sink]] = {}
    n = 0
    for s in sessions:
        sink = s.sink
        group = groups.get(type(sink))
        if group is None:
            groups[type(sink)] = [sink]
        else:
            group.append(sink)
        n += 1
    for kind, sinks in groups.items():
        kind.deliver_all(sinks, event)
        if counts is not None:
            bump(counts, getattr(kind, "protocol", ""), len(sinks))
    return n


def _distinct(uids: list[int]) -> bool:
    """Whether no user repeats in ``uids``, answered without a set for the one or two of a 1:1 send."""
    n = len(uids)
    if n < 2:
        return True
    if n == 2:
        return uids[0] != uids[1]
    return len(set(uids)) == n


@dataclass(eq=False, slots=True)
class Session:
    """One live session held by this node. ``sid`` is given by :meth:`SessionRegistry.attach`."""

    uid: int
    device_id: str
    device_class: DeviceClass
    protocol: str
    sink: Sink
    role: Role = Role.USER
    device_type: int = 0
    peer_addr: str = ""
    app: str = ""  # the client application's own name and version, where its protocol reports them
    app_version: str = ""
    sid: SessionId = NO_SESSION
    #: Replaced, not mutated, on a change (monitors are rare): a shared empty one instead of a set per
    #: session saves 216 bytes each.
    monitors: frozenset[str] = frozenset()
    #: What this session shows its user's friends (``Accounts.set_presence``); OFFLINE = invisible.
    presence: Presence = Presence.ONLINE
    #: Who its connection's log lines are about: a kick from elsewhere logs under it.
    log_context: LogContext | None = None

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def record(self, node: int) -> SessionRecord:
        """What the other nodes learn of this session."""
        return SessionRecord(
            self.sid, node, self.uid, self.protocol, self.device_class, self.device_id, self.device_type
        )


class SessionRegistry:
    """This node's live sessions (and conversation monitors) in front of the cluster's
    :class:`~polyim.cluster.base.Directory` and :class:`~polyim.cluster.base.Router`.

    The kick policy lives here: a new session takes the slot of any older session of the same uid
    and device class (or the same device id), in any protocol, on any node. Sessions are named by id, so
    a session on another node is kicked or skipped the way one here is; a delivery hands this node's
    sessions the event object itself and serializes it only for sessions held elsewhere.
    """

    def __init__(
        self,
        directory: Directory,
        router: Router,
        new_id: Callable[[], int],
        stats: NodeStats | None = None,
    ) -> None:
        self.node_id = directory.node_id
        self.stats = stats if stats is not None else NodeStats()
        self._directory = directory
        self._remote = directory.remote()
        self._router = router
        self._new_id = new_id
        self._by_uid: dict[int, list[Session]] = {}
        self._by_sid: dict[SessionId, Session] = {}
        self._monitors: dict[str, set[Session]] = {}
        self._on_detach: list[Callable[[Session], None]] = []
        self._room_casts: Callable[[int, Event | None], None] = lambda rid, event: None
        router.subscribe(self._received)

    def on_detach(self, hook: Callable[[Session], None]) -> None:
        """Call ``hook`` whenever a session ends, whatever ended it (close, OFFLINE, kick, disabling):
        every end passes through :meth:`detach`, so services holding sessions (rooms) clean up here."""
        self._on_detach.append(hook)

    def on_room_cast(self, hook: Callable[[int, Event | None], None]) -> None:
        """Hand the room casts other nodes send (:meth:`cast_room`) to ``hook`` (the rooms service)."""
        self._room_casts = hook

    def cast_room(self, nodes: Iterable[int], rid: int, event: Event | None) -> None:
        """Send room ``rid``'s ``event`` (None: its kept state changed) to ``nodes`` other than this one."""
        envelope = b""
        for node in nodes:
            if node != self.node_id:
                envelope = envelope or encode_envelope(RoomCast(rid, event))
                self._router.publish(node, envelope)

    def deliver_to(self, records: Iterable[SessionRecord], event: Event) -> int:
        """Hand ``event`` to the sessions ``records`` name, wherever they are; returns how many."""
        here: list[Session] = []
        by_node: dict[int, list[SessionId]] = {}
        for r in records:
            if r.node != self.node_id:
                by_node.setdefault(r.node, []).append(r.sid)
            elif (s := self._by_sid.get(r.sid)) is not None:
                here.append(s)
        for node, sids in by_node.items():
            self._router.publish(node, encode_envelope(Delivery(tuple(sids), event)))
        return fan_out(here, event) + sum(len(sids) for sids in by_node.values())

    def broadcast(self, event: Event, app: str = "", version: str = "") -> int:
        """``event`` to every session of every node whose client application is ``app`` (and
        ``version``; every session when ``app`` is empty); returns how many of this node's."""
        nodes = {r.node for records in self._remote.values() for r in records}
        if nodes:
            envelope = encode_envelope(Broadcast(event, app, version))
            for node in nodes:
                self._router.publish(node, envelope)
        return self._broadcast_here(Broadcast(event, app, version))

    def _broadcast_here(self, cast: Broadcast) -> int:
        app, version = cast.app, cast.version
        targets = [
            s
            for s in self._by_sid.values()
            if not app or (s.app == app and (not version or s.app_version == version))
        ]
        return fan_out(targets, cast.event)

    def attach(self, session: Session) -> list[SessionRecord]:
        """Register ``session`` under a new id; kick (wherever they are) and return the sessions it
        replaces."""
        if session.sid in self._by_sid:
            return []
        session.sid = SessionId(self._new_id())
        replaced = [
            r
            for r in self._directory.of(session.uid)
            if r.device_class is session.device_class or r.device_id == session.device_id
        ]
        for old in replaced:
            self.kick(old.sid, KickReason.DUPLICATE_LOGIN)
        self._by_uid.setdefault(session.uid, []).append(session)
        self._by_sid[session.sid] = session
        self._directory.add(session.record(self.node_id))
        return replaced

    def detach(self, sid: SessionId) -> bool:
        """Forget this node's session ``sid``; returns True when its user has no session left on any node."""
        session = self._by_sid.pop(sid, None)
        if session is None:
            return False
        sessions = self._by_uid[session.uid]
        sessions.remove(session)
        if not sessions:
            del self._by_uid[session.uid]
        self._directory.remove(sid)
        self._ended(session)
        for key in list(session.monitors):
            self.unmonitor(session, key)
        return not self._directory.online(session.uid)

    def kick(self, sid: SessionId, reason: KickReason) -> bool:
        """End session ``sid`` wherever it is: here its sink speaks the kick; another node is told, and
        the session leaves the directory at once (so presence is right before that node hears).
        False when no node has it."""
        record = self._directory.get(sid)
        if record is None or record.node == self.node_id:
            return self._kick_here(sid, reason)
        self._directory.remove(sid)
        self._router.publish(record.node, encode_envelope(Kick(sid, reason)))
        return True

    def _kick_here(self, sid: SessionId, reason: KickReason) -> bool:
        session = self._by_sid.get(sid)
        if session is None:
            return False
        self.detach(sid)
        with scoped(session.log_context):  # the kicker runs in its own connection's context
            session.sink.kick(reason)
        return True

    def _ended(self, session: Session) -> None:
        for hook in self._on_detach:
            try:
                hook(session)
            except Exception:  # one service's bug must not keep a dead session registered
                log.exception("session end hook failed for uid %d", session.uid)

    def of(self, uid: int) -> list[Session]:
        """``uid``'s sessions on this node."""
        return self._by_uid.get(uid, [])

    def records(self, uid: int) -> Sequence[SessionRecord]:
        """``uid``'s sessions on every node."""
        return self._directory.of(uid)

    def online(self, uid: int) -> bool:
        return self._directory.online(uid)

    def record(self, sid: SessionId) -> SessionRecord | None:
        """The session ``sid`` on any node."""
        return self._directory.get(sid)

    def listing(self) -> list[tuple[SessionRecord, Session | None]]:
        """Every live session of every node this node knows of, by id: its record, and the session
        itself when it is held here (an operator's view; never on a message's path)."""
        here = [(s.record(self.node_id), s) for s in self._by_sid.values()]
        there: list[tuple[SessionRecord, Session | None]] = [
            (r, None) for records in self._remote.values() for r in records
        ]
        return sorted(here + there, key=lambda pair: pair[0].sid)

    def routable(self, uids: Iterable[int]) -> bool:
        """Whether every session of ``uids`` can be reached now: false only while the cluster backend
        is unreachable and one of them has a session on another node."""
        remote = self._remote
        if not remote:  # one node, or no user elsewhere now: every message's question, answered at once
            return True
        return self._directory.connected() or not any(uid in remote for uid in uids)

    def count(self) -> int:
        return len(self._by_sid)

    def users(self) -> int:
        return len(self._by_uid)

    def all(self) -> list[Session]:
        return list(self._by_sid.values())

    def remote_counts(self) -> dict[tuple[int, str], int]:
        """Sessions held by the other nodes, per (node, protocol), as this node's view knows them."""
        counts: dict[tuple[int, str], int] = {}
        for records in self._remote.values():
            for r in records:
                counts[r.node, r.protocol] = counts.get((r.node, r.protocol), 0) + 1
        return counts

    def monitor(self, session: Session, conv_key: str) -> None:
        session.monitors = session.monitors | {conv_key}
        self._monitors.setdefault(conv_key, set()).add(session)

    def unmonitor(self, session: Session, conv_key: str) -> None:
        session.monitors = session.monitors - {conv_key}
        watchers = self._monitors.get(conv_key)
        if watchers is not None:
            watchers.discard(session)
            if not watchers:
                del self._monitors[conv_key]

    def monitors_of(self, conv_key: str) -> set[Session]:
        return self._monitors.get(conv_key, set())

    def deliver(
        self, uids: Iterable[int], event: Event, *, skip: SessionId | None = None, conv_key: str = ""
    ) -> int:
        """Send ``event`` to every session of ``uids`` on any node and to this node's monitors of
        ``conv_key``, each session once, except ``skip``. Returns the number of sessions.

        This node's sessions get the event object itself; the other nodes are looked up only when some
        user has a session there (never on one node), and only then is the event serialized."""
        targets = uids if isinstance(uids, list) else list(uids)
        watchers = self._monitors.get(conv_key) if conv_key else None
        out = self.stats.messages_out if type(event) is MessageEvent else None
        if watchers is None and not self._remote and _distinct(targets):
            n = self._deliver_distinct(targets, event, NO_SESSION if skip is None else skip, out)
        else:
            n = self._deliver_once(targets, watchers or (), event, skip, out)
        if out is not None:
            self.stats.fanout.observe_count(n)
        return n

    def _deliver_distinct(
        self, uids: list[int], event: Event, skip: SessionId, out: dict[str, int] | None
    ) -> int:
        """:meth:`deliver` to this node alone, to distinct users (each session then comes up once): a
        1:1 message's two, with no set of the sessions reached (every message takes this way). Each uid
        is looked up as the list's own object (typed ``Any``): compiled, an ``int`` taken from the list
        is unboxed and boxed again for the lookup, a new object each."""
        n = 0
        uid: Any
        for uid in uids:
            sessions = self._by_uid.get(uid)
            if sessions is None:
                continue
            for s in sessions:
                if s.sid != skip:
                    s.sink.deliver(event)
                    n += 1
                    if out is not None:
                        bump(out, s.protocol)
        return n

    def _deliver_once(
        self,
        uids: list[int],
        watchers: Iterable[Session],
        event: Event,
        skip: SessionId | None,
        out: dict[str, int] | None,
    ) -> int:
        """:meth:`deliver` in general: users may repeat, monitors may be among them, some sessions may
        be on other nodes; a set keeps each session to one delivery."""
        seen: set[int] = set() if skip is None else {skip}
        n = 0
        candidates = [s for uid in uids for s in self._by_uid.get(uid, ())]
        candidates.extend(watchers)
        for s in candidates:
            if s.sid not in seen:
                seen.add(s.sid)
                s.sink.deliver(event)
                n += 1
                if out is not None:
                    bump(out, s.protocol)
        if self._remote:
            n += self._publish(uids, event, seen)
        return n

    def _publish(self, uids: Iterable[int], event: Event, seen: set[int]) -> int:
        """Route ``event`` to the sessions of ``uids`` on other nodes not yet ``seen``: one envelope per
        node. Returns how many sessions."""
        by_node: dict[int, list[SessionId]] = {}
        for uid in uids:
            for r in self._remote.get(uid, ()):
                if r.sid not in seen:
                    seen.add(r.sid)
                    by_node.setdefault(r.node, []).append(r.sid)
        for node, sids in by_node.items():
            self._router.publish(node, encode_envelope(Delivery(tuple(sids), event)))
        return sum(len(sids) for sids in by_node.values())

    def _received(self, envelope: bytes) -> None:
        """An envelope another node published for sessions held here. A session that has gone since is
        skipped: its client syncs what it missed when it reconnects."""
        try:
            message = decode_envelope(envelope)
        except Exception:  # a peer's bad envelope must not take the node down
            log.exception("node %d: undecodable envelope dropped", self.node_id)
            return
        if isinstance(message, Kick):
            self._kick_here(message.sid, message.reason)
            return
        if isinstance(message, RoomCast):
            self._room_casts(message.rid, message.event)
            return
        if isinstance(message, Broadcast):
            self._broadcast_here(message)
            return
        event = message.event
        out = self.stats.messages_out if type(event) is MessageEvent else None
        fan_out([s for sid in message.sids if (s := self._by_sid.get(sid)) is not None], event, out)
