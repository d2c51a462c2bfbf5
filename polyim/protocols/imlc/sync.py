"""imlc SYNC (imlc.md §3.1 SYNC, §5.3): the user's conversations active since a time, in pages.

A conversation's activity time is the core's (:meth:`Messaging.activity`): a new message, a change to
one, the user's read cursor, and in a 1:1 the peer's. Pages follow the oldest activity first; the
``page_token`` carries where the last page ended and when the first was built, signed for this user
with a key of its own (it can never be used to log in) and valid for ten minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyim.core.messaging import ConvActivity
from polyim.model import ConvKind
from polyim.protocols.channel import Refused
from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb
from polyim.protocols.imlc.adapter import COMMANDS, ImlcChannel, fit, message_body, parser
from polyim.protocols.imlc.codec import Status as S

SYNC_DEFAULT, SYNC_MAX = 100, 500  # conversations per page (§3.1 SYNC)
PAGE_TTL = 600  # s a page_token stays valid
OVERLAP_MS = 5000  # next_since_ms = the first page's time minus this
TOKEN_PURPOSE = "imlc-sync"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a sync stands: its ``since_ms``, when its first page was built, and the (activity, key) of
    the last conversation sent."""

    since_ms: int
    built_ms: int
    activity_us: int = 0
    key: str = ""

    def after(self, item: ConvActivity) -> bool:
        if item.activity_us <= self.since_ms * 1000:
            return False
        return (item.activity_us, item.state.conv.key) > (self.activity_us, self.key)


@COMMANDS.on(c.Command.SYNC, parser(c.Command.SYNC))
async def _sync(ch: ImlcChannel, frame: c.Frame, req: pb.SyncRequest) -> bytes:
    limit = min(req.limit or SYNC_DEFAULT, SYNC_MAX)
    if req.page_token:
        at = _position(ch, req.page_token)
    else:
        at = Position(max(0, req.since_ms), ch.core.clock.now_ms())
    listed = [item for item in await ch.messages.activity(ch.me) if at.after(item)]
    page = [await _state(ch, item) for item in listed[:limit]]
    n = fit([s.ByteSize() for s in page], ch.settings.max_body_bytes - 512)
    reply = pb.SyncReply(has_more=len(listed) > n)
    reply.conversations.extend(page[:n])
    if reply.has_more:
        last = listed[n - 1]
        reply.page_token = _token(
            ch, Position(at.since_ms, at.built_ms, last.activity_us, last.state.conv.key)
        )
    else:
        reply.next_since_ms = max(0, at.built_ms - OVERLAP_MS)
    return c.encode_body(reply)


async def _state(ch: ImlcChannel, item: ConvActivity) -> pb.ConversationState:
    """One conversation as the user sees it, with both read cursors and its newest message."""
    conv = item.state.conv
    single = conv.kind is ConvKind.PEER
    target = conv.peer_of(ch.me) if single else conv.a
    kind = pb.CONVERSATION_TYPE_SINGLE if single else pb.CONVERSATION_TYPE_GROUP
    out = pb.ConversationState(
        conversation=pb.Conversation(type=kind, target=str(target)),
        last_seq=item.state.last_seq,
        read_seq=item.state.read_seq,
        peer_read_seq=item.peer_read_seq if single else 0,
    )
    last = await ch.messages.last_message(conv) if item.state.last_seq else None
    if last is not None:
        out.last_time_ms = last.ts_ms
        out.last_message.MergeFromString(message_body(last, target))
    return out


def _token(ch: ImlcChannel, at: Position) -> bytes:
    body = f"{at.since_ms}:{at.built_ms}:{at.activity_us}:{at.key}"
    return ch.core.accounts.signer(TOKEN_PURPOSE).issue(ch.me, body, PAGE_TTL).encode()


def _position(ch: ImlcChannel, token: bytes) -> Position:
    """The position a page_token carries; an expired, foreign or altered one is BAD_REQUEST."""
    try:
        claims = ch.core.accounts.signer(TOKEN_PURPOSE).verify(token.decode("ascii"))
        if claims is None or claims.uid != ch.me:
            raise ValueError("not this user's")
        since, built, activity, key = claims.device.split(":", 3)
        return Position(int(since), int(built), int(activity), key)
    except ValueError as exc:  # UnicodeDecodeError included
        raise Refused(S.BAD_REQUEST, "stale page_token: restart the sync") from exc
