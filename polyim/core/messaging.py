"""Conversations and messages: send, control, read cursors, history, sync, notifications.

A send is checked, appended through the store's grouped commit, and only then acknowledged and
delivered; :meth:`Messaging.send` returns a future for the commit so an adapter can go on reading
frames of the same connection while earlier sends are being committed (pipelining), and ack each one
in order as its commit lands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from polyim.cluster.base import SessionId
from polyim.core.clock import Clock
from polyim.core.content import MEDIA_URL
from polyim.core.context import Context, audit
from polyim.core.errors import Code, CoreError
from polyim.core.events import ControlEvent, MessageEvent, ReadEvent, SignalEvent
from polyim.core.sessions import Session, SessionRegistry, fan_out
from polyim.model import (
    Control,
    ControlCmd,
    ConvId,
    ConvKind,
    ConvState,
    Group,
    GroupMember,
    GroupRole,
    Message,
    MsgStatus,
    PriorityEntry,
)
from polyim.pending import Pending
from polyim.store.base import NewMessage, Store
from polyim.store.base import SendResult as SendResult  # the send's result is the append's

PRIORITY_RETENTION_US = 30 * 24 * 3600 * 1_000_000


class Unroutable(Exception):
    """A send refused because a recipient's node cannot be reached (scaled mode, its backend down);
    adapters answer it as a store failure: retry later."""


@dataclass(slots=True)
class Outgoing:
    """What a client asks to send; protocol-neutral."""

    conv: ConvId
    ctype: int
    content: str
    client_id: str
    data: bytes = b""
    extra: dict[str, Any] | None = None
    high_priority: bool = False

    def __init__(
        self,
        conv: ConvId,
        ctype: int,
        content: str,
        client_id: str,
        data: bytes = b"",
        extra: dict[str, Any] | None = None,
        high_priority: bool = False,
    ) -> None:
        # written out to be compiled: see polyim.model.Message
        self.conv = conv
        self.ctype = ctype
        self.content = content
        self.client_id = client_id
        self.data = data
        self.extra = extra
        self.high_priority = high_priority


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """What a protocol adds to the core's rules for its users' sends, set once per protocol from its
    settings: the largest message its clients may send (design.md §4 "Sizes"; 0 = the core's limit
    alone), and whether a 1:1 message needs the two to be friends (any protocol may switch it on)."""

    max_bytes: int = 0
    require_friend: bool = False


DEFAULT_POLICY = SendPolicy()


def check_size(out: Outgoing, limit: int, policy: SendPolicy) -> None:
    """The one size rule of a send (1:1, group or room): not empty (media given by its URL alone counts
    as content), not above either limit."""
    if not out.content and not out.data and not (out.extra and out.extra.get(MEDIA_URL)):
        raise CoreError(Code.EMPTY, "empty message")
    content = out.content
    # UTF-8 bytes without encoding them where the text is ASCII (a flag of the string, read in O(1))
    size = (len(content) if content.isascii() else len(content.encode())) + len(out.data)
    if size > limit or (policy.max_bytes and size > policy.max_bytes):
        raise CoreError(Code.TOO_LARGE, "message too long")


def _peer_verdict(uid: object, blocked: frozenset[int], friend: bool) -> None:
    """The recipient's blacklist, then the protocol's friendship rule, for a 1:1 send or signal (``uid``
    as the object it already is: see :meth:`Messaging._peer_rules`)."""
    if uid in blocked:
        raise CoreError(Code.BLOCKED, "blocked by the recipient")
    if not friend:
        raise CoreError(Code.NOT_FRIEND, "not a friend")


def _boxed(uid: int) -> Any:
    """``uid`` as an object, made once where compiled code would box it at every use as a key (typed
    ``Any``, mypyc leaves it as it is)."""
    return uid


def new_message(
    clock: Clock, out: Outgoing, sender: int, device: str, *, topic: str = "", priority: tuple[int, ...] = ()
) -> NewMessage:
    """The store record of ``out``: stamped with a global message id, server time and activity time."""
    msg_id, ts_ms, activity_us = clock.stamp()
    return NewMessage(
        conv=out.conv,
        msg_id=msg_id,
        sender=sender,
        device=device,
        client_id=out.client_id,
        ctype=out.ctype,
        content=out.content,
        ts_ms=ts_ms,
        activity_us=activity_us,
        data=out.data,
        extra=out.extra or {},
        topic=topic,
        priority_uids=priority,
    )


class _Committed(Pending[SendResult]):
    """A send's result, which the store's writer settles itself (``append_message(new, into=…)``): the
    adapter's ack runs, then a new message is delivered (:meth:`deliver`). One object per send from the
    commit to the ack, where the append's own result, its callback and a tuple were three more."""

    def _settle(self, value: SendResult | None, exc: BaseException | None) -> None:
        super()._settle(value, exc)
        if value is not None and not value.duplicate:
            self.deliver(value.message)

    def deliver(self, message: Message) -> None:
        raise NotImplementedError


class _Then(_Committed):
    """:func:`commit_then`'s result: ``deliver`` is any callable (a room's fan-out)."""

    def __init__(self, deliver: Callable[[Message], None]) -> None:
        super().__init__()
        self._then = deliver

    def deliver(self, message: Message) -> None:
        self._then(message)


def commit_then(store: Store, new: NewMessage, deliver: Callable[[Message], None]) -> Pending[SendResult]:
    """Append ``new``; the result is settled after COMMIT, then ``deliver`` runs for a new message (a
    resend of a committed client id settles to the original, marked duplicate, and is not delivered)."""
    result = _Then(deliver)
    store.append_message(new, result)
    return result


class _Delivered(_Committed):
    """The result of a 1:1, group or notification send, which hands the committed message to its
    recipients' sessions (all but the sender's own, ``skip``) itself: what to deliver is kept on the
    result, one object per send where a separate callable was another."""

    def __init__(
        self, sessions: SessionRegistry, recipients: Sequence[int], origin: str, skip: SessionId | None
    ) -> None:
        super().__init__()
        self.sessions = sessions
        self.recipients = recipients
        self.origin = origin
        self.skip = skip

    def deliver(self, message: Message) -> None:
        event = MessageEvent(message, self.origin)
        self.sessions.deliver(self.recipients, event, skip=self.skip, conv_key=message.conv.key)


@dataclass(frozen=True, slots=True)
class ConvActivity:
    """One conversation in a user's list with its activity time (µs): the latest of its newest message,
    a recall, edit or delete in it, the user's read cursor and, in a 1:1, the peer's
    (``peer_read_seq``), so that a receipt shows a conversation as changed too."""

    state: ConvState
    peer_read_seq: int
    activity_us: int


class Messaging:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- send -------------------------------------------------------------------------------------
    async def send(
        self, session: Session, out: Outgoing, origin: str = "", policy: SendPolicy = DEFAULT_POLICY
    ) -> Pending[SendResult]:
        """Check ``out`` for ``session``'s user under ``policy`` and queue it for commit.

        Every rule of a send is checked here, once, for every protocol: the conversation and the
        sender's place in it, the size, the recipient's blacklist and mute list, the group's closure
        and mutes, and the protocol's friendship rule. Raises :class:`CoreError` when refused (nothing
        stored). The returned result is settled after the commit, when the message has also been
        delivered; a resend of a committed client id resolves to the original message with
        ``duplicate=True`` and is not delivered again.
        """
        recipients = self._recipients_now(session, out, policy)
        if recipients is None:
            recipients = await self._check_send(session, out, policy)
        return self._queue(session, out, recipients, origin)

    def send_now(
        self, session: Session, out: Outgoing, origin: str = "", policy: SendPolicy = DEFAULT_POLICY
    ) -> Pending[SendResult] | None:
        """:meth:`send` without a coroutine, when every fact its check needs is cached; None, having
        done nothing, when one must first be loaded (then call :meth:`send`)."""
        recipients = self._recipients_now(session, out, policy)
        return None if recipients is None else self._queue(session, out, recipients, origin)

    def _queue(
        self, session: Session, out: Outgoing, recipients: list[int], origin: str
    ) -> Pending[SendResult]:
        """A checked send: counted, refused if its recipient's node is out of reach, else queued."""
        messages_in = self.ctx.stats.messages_in
        messages_in[session.protocol] = messages_in.get(session.protocol, 0) + 1
        if out.conv.kind is ConvKind.PEER and not self.ctx.sessions.routable(recipients):
            # the peer is on a node this one cannot reach now: refused like a failed commit, so the
            # protocol answers "try again later" in its own words, and nothing is stored
            refused: Pending[SendResult] = Pending()
            refused.set_exception(Unroutable("the recipient's node cannot be reached now"))
            return refused
        priority = tuple(u for u in recipients if u != session.uid) if out.high_priority else ()
        return self._commit(session, out, recipients, priority, origin)

    def _recipients_now(self, session: Session, out: Outgoing, policy: SendPolicy) -> list[int] | None:
        """The common send's check, from the caches alone and without a coroutine: the rules of
        :meth:`_check_send` applied to the cached facts. None when a fact must first be loaded (or the
        send is refused for who is asking), which :meth:`_check_send` then does."""
        conv, uid, cache = out.conv, session.uid, self.ctx.cache
        if conv.kind is ConvKind.PEER:
            if uid != conv.a and uid != conv.b:
                return None
            me, peer = _boxed(uid), _boxed(conv.peer_of(uid))
            if peer not in cache.accounts or (policy.require_friend and conv.a != conv.b):
                return None
            blocked, muted = cache.blocks.get(peer), cache.mutes.get(peer)
            if blocked is None or muted is None:
                return None
            return self._peer_rules(me, peer, out, policy, blocked, muted, True)
        if conv.kind is ConvKind.GROUP:
            group, members = cache.groups.get(conv.a), cache.members.get(conv.a)
            if group is None or members is None:
                return None
            return self._group_rules(uid, out, policy, group, members)
        return None

    async def _check_send(self, session: Session, out: Outgoing, policy: SendPolicy) -> list[int]:
        """Load the facts a send's rules need, then apply them; the recipients, or a CoreError."""
        conv, uid = out.conv, session.uid
        if conv.kind is ConvKind.PEER:
            if uid not in (conv.a, conv.b):
                raise CoreError(Code.IDENTITY_MISMATCH)
            peer = conv.peer_of(uid)
            await self.ctx.require_account(peer)
            blocked, muted = await self.ctx.blocked_by(peer), await self.ctx.muted_by(peer)
            friend = await self._friends_if_needed(uid, peer, policy)
            return self._peer_rules(_boxed(uid), _boxed(peer), out, policy, blocked, muted, friend)
        if conv.kind is ConvKind.GROUP:
            group = await self.ctx.require_group(conv.a)
            return self._group_rules(uid, out, policy, group, await self.ctx.members(conv.a))
        raise CoreError(Code.BAD_REQUEST, "cannot send to this conversation")

    def _peer_rules(
        self,
        me: Any,
        peer: Any,
        out: Outgoing,
        policy: SendPolicy,
        blocked: frozenset[int],
        muted: frozenset[int],
        friend: bool,
    ) -> list[int]:
        """A 1:1 send from ``me`` to ``peer``: its size, what the recipient decides (``blocked``,
        ``muted``) and the protocol's friendship rule (``friend``); the users it is pushed to.

        The two uids come as objects (:func:`_boxed`): compiled, an ``int`` is kept unboxed and made an
        object anew for each set test and list item, four a message here and three in the caller's
        cache lookups, where the two objects are made once."""
        conv = out.conv
        check_size(out, self.ctx.settings.max_message_bytes, policy)
        _peer_verdict(me, blocked, friend)
        if conv.a == conv.b or me in muted:
            return [me]  # a muted sender's message is stored, not pushed: the peer syncs it
        return [me, peer]

    def _group_rules(
        self, uid: int, out: Outgoing, policy: SendPolicy, group: Group, members: dict[int, GroupMember]
    ) -> list[int]:
        """A group send from ``uid``: its size, membership, the group's closure and mutes."""
        check_size(out, self.ctx.settings.max_message_bytes, policy)
        me = members.get(uid)
        if me is None:
            raise CoreError(Code.NOT_MEMBER, "not a member")
        if group.closed:
            raise CoreError(Code.FORBIDDEN, "group closed")
        if (group.mute_all and me.role is GroupRole.MEMBER) or me.muted:
            raise CoreError(Code.MUTED, "muted")
        return list(members)

    async def _friends_if_needed(self, uid: int, peer: int, policy: SendPolicy) -> bool:
        """Whether the protocol's friendship rule lets ``uid`` reach ``peer`` (a note to oneself always)."""
        return not policy.require_friend or peer == uid or await self.ctx.store.is_friend(uid, peer)

    async def _check_peer(self, uid: int, peer: int, policy: SendPolicy) -> None:
        """What the recipient of a 1:1 decides: its blacklist, and the protocol's friendship rule."""
        _peer_verdict(uid, await self.ctx.blocked_by(peer), await self._friends_if_needed(uid, peer, policy))

    async def signal(
        self,
        session: Session,
        event: SignalEvent,
        policy: SendPolicy = DEFAULT_POLICY,
        *,
        mirror: bool = False,
    ) -> int:
        """Hand a transient 1:1 signal (typing) to the peer's live sessions, checked as a send to that
        peer would be (it exists, has not blocked the sender, the friendship rule) but never stored; the
        sender's own other sessions get it too with ``mirror`` (TeamTalk 4/1). A signal to oneself
        reaches those other sessions alone, and only with ``mirror`` (TeamTalk 7/61's 2/5). Returns the
        number of sessions reached."""
        if event.sender != session.uid:
            raise CoreError(Code.IDENTITY_MISMATCH)
        if event.peer == session.uid:
            return self.ctx.sessions.deliver([session.uid], event, skip=session.sid) if mirror else 0
        await self.ctx.require_account(event.peer)
        await self._check_peer(session.uid, event.peer, policy)
        reached = self.ctx.sessions.deliver([event.peer], event)
        if mirror:
            reached += self.ctx.sessions.deliver([session.uid], event, skip=session.sid)
        return reached

    def _commit(
        self,
        session: Session | None,
        out: Outgoing,
        recipients: Sequence[int],
        priority: tuple[int, ...],
        origin: str,
        *,
        sender: int | None = None,
        device: str | None = None,
        topic: str = "",
    ) -> Pending[SendResult]:
        new = new_message(
            self.ctx.clock,
            out,
            sender if sender is not None else (session.uid if session else 0),
            device if device is not None else (session.device_id if session else ""),
            topic=topic,
            priority=priority,
        )

        skip = session.sid if session is not None else None
        result = _Delivered(self.ctx.sessions, recipients, origin, skip)
        self.ctx.store.append_message(new, result)
        return result

    # -- notifications (the per-user stream) ---------------------------------------------------
    async def notify(
        self,
        to_uid: int,
        topic: str,
        ctype: int,
        content: str,
        request_id: str,
        *,
        sender: int = 0,
        extra: dict[str, Any] | None = None,
        data: bytes = b"",
    ) -> SendResult:
        """Store a business/system notification in ``to_uid``'s stream and push it to its sessions."""
        await self.ctx.require_account(to_uid)
        if not content and not data:
            raise CoreError(Code.EMPTY, "empty message")
        limit = self.ctx.settings.max_message_bytes
        if len(content.encode()) > limit or len(data) > limit:  # data may repeat content in binary form
            raise CoreError(Code.TOO_LARGE, "message too long")
        out = Outgoing(ConvId.notify(to_uid), ctype, content, request_id, data=data, extra=extra)
        return await self._commit(None, out, [to_uid], (), "", sender=sender, device="notify", topic=topic)

    async def find_sent(self, sender: int, device: str, client_id: str) -> Message | None:
        """The message ``sender``'s ``device`` sent with ``client_id``, if it is stored (a resend)."""
        return await self.ctx.store.find_message(sender, device, client_id)

    async def find_control(self, actor: int, device: str, client_id: str) -> Control | None:
        """The control (recall/edit/delete) ``actor``'s ``device`` made with ``client_id``, if stored."""
        return await self.ctx.store.find_control(actor, device, client_id)

    async def highest_client_seq(self, sender: int, device: str) -> int:
        """The largest numeric client id ``sender``'s ``device`` has sent (beehive's seq floor)."""
        return await self.ctx.store.max_client_seq(sender, device)

    async def is_participant(self, uid: int, conv: ConvId) -> bool:
        return await self.ctx.is_participant(uid, conv)

    # -- control --------------------------------------------------------------------------------
    async def message_for_control(self, session: Session, conv: ConvId, seq: int) -> Message:
        """The message a recall/edit/delete would target, after the participation check."""
        if not await self.ctx.sees(session, conv):
            raise CoreError(Code.NOT_PARTICIPANT, "not a participant")
        message = await self.ctx.store.get_message(conv, seq)
        if message is None or message.status is MsgStatus.DELETED:
            raise CoreError(Code.MSG_NOT_FOUND, "no such message")
        return message

    async def control(
        self, session: Session, message: Message, cmd: ControlCmd, client_id: str, content: str = ""
    ) -> Control:
        """Recall, edit or delete ``message``; notify every participant's other sessions and monitors."""
        await self._check_control(session, message, cmd, content)
        status = {ControlCmd.RECALL: MsgStatus.RECALLED, ControlCmd.EDIT: MsgStatus.EDITED}.get(
            cmd, MsgStatus.DELETED
        )
        new_content = "" if cmd is ControlCmd.RECALL else (content if cmd is ControlCmd.EDIT else None)
        participants = await self.ctx.participants(message.conv)
        control = Control(
            conv=message.conv,
            seq=message.seq,
            cmd=cmd,
            client_id=client_id,
            content=content if cmd is ControlCmd.EDIT else "",
            actor=session.uid,
            ts_ms=self.ctx.clock.now_ms(),
            target_client_id=message.client_id,
        )
        stored, duplicate = await self.ctx.store.apply_control(
            control, session.device_id, status, new_content, participants, self.ctx.clock.now_us()
        )
        if not duplicate:
            updated = await self.ctx.store.get_message(message.conv, message.seq)
            event = ControlEvent(stored, updated)
            self.ctx.sessions.deliver(participants, event, skip=session.sid, conv_key=message.conv.key)
            if message.conv.kind is ConvKind.ROOM:
                inside = self.ctx.rooms.sessions(message.conv.a)
                fan_out([s for s in inside if s.sid != session.sid], event)
        return stored

    async def _check_control(self, session: Session, message: Message, cmd: ControlCmd, content: str) -> None:
        if cmd is ControlCmd.EDIT:
            if message.sender != session.uid:
                raise CoreError(Code.FORBIDDEN, "only the sender may edit")
            if message.status is MsgStatus.RECALLED:
                raise CoreError(Code.FORBIDDEN, "a recalled message cannot be edited")
            if not content:
                raise CoreError(Code.EMPTY, "empty content")
            if len(content.encode()) > self.ctx.settings.max_message_bytes:
                raise CoreError(Code.TOO_LARGE, "message too long")
            return
        if message.sender == session.uid:
            return
        if message.conv.kind is ConvKind.GROUP:
            me = (await self.ctx.members(message.conv.a)).get(session.uid)
            if me is not None and me.role is not GroupRole.MEMBER:
                return
        if message.conv.kind is ConvKind.ROOM and self.ctx.rooms.moderates(session.uid, message.conv.a):
            return
        raise CoreError(Code.FORBIDDEN, "not allowed")

    # -- read state -----------------------------------------------------------------------------
    async def mark_read(self, session: Session, conv: ConvId, seq: int, topic: str = "") -> int:
        if not await self.ctx.is_participant(session.uid, conv):
            raise CoreError(Code.NOT_PARTICIPANT, "not a participant")
        effective = await self.ctx.store.advance_read(session.uid, conv, seq, self.ctx.clock.now_us(), topic)
        targets = [session.uid]
        if conv.kind is ConvKind.PEER:
            targets.append(conv.peer_of(session.uid))
        self.ctx.sessions.deliver(targets, ReadEvent(session.uid, conv, effective, topic), skip=session.sid)
        return effective

    async def mark_delivered(self, uid: int, conv: ConvId, seq: int) -> None:
        """A receipt: never waits for the disk (see :meth:`Store.note_delivered`)."""
        if not self.mark_delivered_now(uid, conv, seq) and await self.ctx.is_participant(uid, conv):
            self.ctx.store.note_delivered(uid, conv, seq)

    def mark_delivered_now(self, uid: int, conv: ConvId, seq: int) -> bool:
        """The receipt path without awaiting; False when participation is not decidable from the caches
        (a group whose members are not loaded), so the caller must use :meth:`mark_delivered`."""
        if conv.kind is ConvKind.GROUP:
            members = self.ctx.cache.members.get(conv.a)
            if members is None:
                return False
            allowed = uid in members
        elif conv.kind is ConvKind.PEER:
            allowed = uid in (conv.a, conv.b)
        else:
            allowed = conv.kind is ConvKind.NOTIFY and conv.a == uid
        if allowed:
            self.ctx.store.note_delivered(uid, conv, seq)
        return True

    async def set_conv_attr(self, session: Session, conv: ConvId, name: str, value: str) -> None:
        if not await self.ctx.is_participant(session.uid, conv):
            raise CoreError(Code.NOT_PARTICIPANT, "not a participant")
        await self.ctx.store.set_conv_attr(session.uid, conv, name, value, self.ctx.clock.now_us())

    # -- reading --------------------------------------------------------------------------------
    async def history(
        self,
        session: Session,
        conv: ConvId,
        before_seq: int,
        count: int,
        topic: str = "",
        *,
        deleted: bool = False,
    ) -> list[Message]:
        """Newest first; ``deleted`` keeps deleted messages (as status only) for clients that page by seq."""
        await self.ctx.check_access(session, conv, "read history of")
        return await self.ctx.store.history(conv, before_seq, count, topic, deleted=deleted)

    async def since(self, session: Session, conv: ConvId, after_seq: int, count: int) -> list[Message]:
        """Messages after a cursor, oldest first: offline catch-up and gap repair."""
        await self.ctx.check_access(session, conv, "sync")
        return await self.ctx.store.messages_after(conv, after_seq, count)

    async def conversations(self, uid: int) -> list[ConvState]:
        """The user's conversations; rooms are not among them (room membership is sessions, not users)."""
        states = await self.ctx.store.user_conversations(uid)
        return [s for s in states if s.conv.kind is not ConvKind.ROOM]

    async def activity(self, uid: int) -> list[ConvActivity]:
        """The user's 1:1 conversations that have messages and current groups, oldest activity first
        (then by key): for a device that catches up on what changed while it was away."""
        peers = await self.ctx.store.peer_cursors(uid)
        out = []
        for state in await self.ctx.store.user_conversations(uid):
            kind = state.conv.kind
            if kind is ConvKind.GROUP:
                out.append(ConvActivity(state, 0, state.activity_us))
            elif kind is ConvKind.PEER and state.last_seq:
                read, moved = peers.get(state.conv.key, (state.read_seq, 0))  # a note to self: its own
                out.append(ConvActivity(state, read, max(state.activity_us, moved)))
        out.sort(key=lambda a: (a.activity_us, a.state.conv.key))
        return out

    async def state(self, uid: int, conv: ConvId, topic: str = "") -> ConvState:
        return await self.ctx.store.conv_state(uid, conv, topic)

    async def by_msg_id(self, conv: ConvId, msg_id: int) -> Message | None:
        """The message of ``conv`` with the global id ``msg_id`` (a push id acknowledged by its id)."""
        return await self.ctx.store.message_by_id(conv, msg_id)

    async def last_message(self, conv: ConvId, topic: str = "") -> Message | None:
        return await self.ctx.store.last_message(conv, topic)

    async def priority(self, uid: int, after_key: int, count: int) -> list[PriorityEntry]:
        oldest = self.ctx.clock.now_us() - PRIORITY_RETENTION_US
        return await self.ctx.store.priority_entries(uid, after_key, count, oldest)

    # -- monitors -------------------------------------------------------------------------------
    async def monitor(self, session: Session, conv: ConvId, limit: int = 100) -> None:
        if conv.key in session.monitors:
            return
        if not await self.ctx.is_participant(session.uid, conv) and not session.is_operator:
            raise CoreError(Code.FORBIDDEN, "not allowed to monitor")
        if len(session.monitors) >= limit:
            raise CoreError(Code.LIMIT, "too many monitors")
        if session.is_operator:
            audit.info("operator %s monitor start %s", session.uid, conv.key)
        self.ctx.sessions.monitor(session, conv.key)

    def unmonitor(self, session: Session, conv: ConvId) -> None:
        if conv.key in session.monitors and session.is_operator:
            audit.info("operator %s monitor stop %s", session.uid, conv.key)
        self.ctx.sessions.unmonitor(session, conv.key)
