"""Pushes from the admin API (design.md §4 "Push"): point to point and broadcast, every protocol alike.

A push carries an opaque payload. Point-to-point pushes go to a user's live sessions (or one device's);
asked to, the core *stores* the push in the user's notification stream (:meth:`Messaging.notify`),
where it waits, with an expiry, for sessions that were offline or did not acknowledge it. Broadcasts go
to every live session, or only to sessions of one client application, and are never stored.

Every push has an id from the message id space (``msgid``): a stored push's id is its message's
``msg_id``, so a client acknowledging a push by its id names exactly one stored notification.
Adapters render a :class:`~polyim.core.events.PushEvent` (not stored) and a notification-stream
:class:`~polyim.core.events.MessageEvent` (stored) in their protocol's push form.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import PushEvent
from polyim.core.messaging import Messaging
from polyim.core.sessions import Session
from polyim.model import ContentType, ConvId, ConvKind, Message, MsgStatus

MAX_PAYLOAD = 60_000
DEFAULT_EXPIRE_S = 86_400
PUSH_APP = "push"
EXPIRES = "push_expires_ms"  # extra attribute of a stored push: when it stops being replayed
BINARY = "push_binary"  # extra attribute: the payload is in ``data``; ``content`` is its base64


def push_topic(uid: int) -> str:
    """The notification-stream topic of stored pushes: shaped like OMTP's default business stream id
    (``BM_<appId>_<to>``) so that OMTP clients see the pushes as one conversation."""
    return f"BM_{PUSH_APP}_{uid}"


def as_text(payload: bytes) -> tuple[str, bool]:
    """The payload as text, and whether it is binary (then the text is its base64)."""
    try:
        return payload.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(payload).decode("ascii"), True


def payload_of(message: Message) -> bytes:
    """The pushed bytes of a notification-stream message (a push, or a notification's text)."""
    return message.data if message.data else message.content.encode()


def live(message: Message, now_ms: int) -> bool:
    """False for a stored push past its expiry (notifications without one never expire)."""
    expires = message.extra.get(EXPIRES) if message.extra else None
    return not isinstance(expires, int) or expires > now_ms


@dataclass(frozen=True, slots=True)
class PushResult:
    msgid: int
    online: int  # sessions reached now, every protocol


class Push:
    def __init__(self, ctx: Context, messages: Messaging) -> None:
        self.ctx = ctx
        self.messages = messages

    @staticmethod
    def _check(payload: bytes) -> None:
        if not payload:
            raise CoreError(Code.EMPTY, "empty push")
        if len(payload) > MAX_PAYLOAD:
            raise CoreError(Code.TOO_LARGE, "push too large")

    def _event(self, payload: bytes, *, broadcast: bool) -> PushEvent:
        text, _ = as_text(payload)
        clock = self.ctx.clock
        return PushEvent(clock.next_msg_id(), payload, text, clock.now_ms(), broadcast)

    async def to_user(
        self, uid: int, payload: bytes, *, store: bool = False, expire_s: int = DEFAULT_EXPIRE_S
    ) -> PushResult:
        """Push to every live session of ``uid``; with ``store`` also keep it until ``expire_s`` for
        sessions that sync later (it is then a message of the user's notification stream)."""
        self._check(payload)
        await self.ctx.require_account(uid)
        if not store:
            return self._send([uid], self._event(payload, broadcast=False))
        text, binary = as_text(payload)
        extra: dict[str, object] = {EXPIRES: self.ctx.clock.now_ms() + max(0, expire_s) * 1000}
        if binary:
            extra[BINARY] = True
        result = await self.messages.notify(
            uid,
            push_topic(uid),
            ContentType.TEXT,
            text,
            "",
            extra=extra,
            data=payload if binary else b"",
        )
        return PushResult(result.message.msg_id, len(self.ctx.sessions.of(uid)))

    async def to_group(self, gid: int, payload: bytes) -> PushResult:
        """Push (not stored) to every live session of every member of group ``gid``."""
        self._check(payload)
        await self.ctx.require_group(gid)
        members = await self.ctx.members(gid)
        return self._send(list(members), self._event(payload, broadcast=False))

    def to_device(self, uid: int, device_id: str, payload: bytes, protocol: str = "") -> PushResult:
        """Push (not stored) to the live sessions of one device of ``uid`` (of ``protocol``, if given)."""
        self._check(payload)
        event = self._event(payload, broadcast=False)
        targets = [
            r
            for r in self.ctx.sessions.records(uid)
            if r.device_id == device_id and (not protocol or r.protocol == protocol)
        ]
        return PushResult(event.msgid, self.ctx.sessions.deliver_to(targets, event))

    def broadcast(self, payload: bytes, *, app: str = "", version: str = "") -> PushResult:
        """Push (never stored) to every live session of every node, or only to those whose client
        application is ``app`` (and ``version``, when given); sessions of protocols that name no
        application then get nothing. The count is of this node's sessions reached."""
        self._check(payload)
        event = self._event(payload, broadcast=True)
        return PushResult(event.msgid, self.ctx.sessions.broadcast(event, app, version))

    async def waiting(self, session: Session, budget: int) -> list[Message]:
        """What a user who logs in has not had of the notification stream (stored pushes and business
        notifications above the delivered cursor), oldest first, at most ``budget``: expired pushes and
        recalled or deleted items are left out, and those before the first one returned are marked
        delivered so that they never hold the cursor back. The caller moves the cursor past what it
        writes, when its protocol counts a push as delivered."""
        conv = ConvId.notify(session.uid)
        state = await self.messages.state(session.uid, conv)
        if budget <= 0 or state.last_seq <= state.delivered_seq:
            return []
        now_ms = self.ctx.clock.now_ms()
        out: list[Message] = []
        skipped_to = 0
        for m in await self.messages.since(session, conv, state.delivered_seq, budget):
            if m.status in (MsgStatus.RECALLED, MsgStatus.DELETED) or not live(m, now_ms):
                skipped_to = skipped_to if out else m.seq
                continue
            out.append(m)
        if skipped_to:
            await self.messages.mark_delivered(session.uid, conv, skipped_to)
        return out

    async def acknowledge(self, uid: int, msgid: int) -> bool:
        """``uid`` acknowledged the stored push ``msgid``: its notification stream counts as delivered up
        to it. False when no stored push of the user has that id (a push that was not stored)."""
        conv = ConvId.notify(uid)
        message = await self.messages.by_msg_id(conv, msgid)
        if message is None or message.conv.kind is not ConvKind.NOTIFY:
            return False
        await self.messages.mark_delivered(uid, conv, message.seq)
        return True

    def _send(self, uids: Iterable[int], event: PushEvent) -> PushResult:
        return PushResult(event.msgid, self.ctx.sessions.deliver(uids, event))
