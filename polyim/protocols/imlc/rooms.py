"""imlc rooms (imlc.md §3.1 ROOM): JOIN and LEAVE, and the room's events as imlc frames.

Rooms come from elsewhere (beehive clients, the CLI, the admin API): imlc never creates one, so a JOIN
of a room nobody made is NOT_FOUND even while the core auto-creates rooms for beehive. Membership
belongs to the session. Inside, a session gets the room's messages as MN (the sending session has its
ack instead), broadcasts as MPS, and in version 1 only three room notices: KICKED (this user), DISMISSED
and COUNT (when the member count changed since the last one this session heard).
"""

from __future__ import annotations

from collections.abc import Callable

from polyim.core.errors import Code, CoreError
from polyim.core.events import RoomBroadcast, RoomChange, RoomEvent
from polyim.model import ConvId
from polyim.protocols.channel import Refused
from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb
from polyim.protocols.imlc.adapter import COMMANDS, ImlcChannel, decimal, parser
from polyim.protocols.imlc.codec import Status as S

# The core's refusals of a JOIN in ROOM's words (§3.1 ROOM): banned and closed are FORBIDDEN.
ROOM_ERRORS = {
    Code.BLOCKED: (S.FORBIDDEN, "banned from the room"),
    Code.ROOM_CLOSED: (S.FORBIDDEN, "room closed"),
    Code.LIMIT: (S.FORBIDDEN, "in too many rooms"),
}


@COMMANDS.on(c.Command.ROOM, parser(c.Command.ROOM), errors=ROOM_ERRORS)
async def _room(ch: ImlcChannel, frame: c.Frame, req: pb.Room) -> None:
    rid = decimal(req.rid)
    if rid is None or req.op not in (pb.ROOM_OP_JOIN, pb.ROOM_OP_LEAVE):
        raise Refused(S.BAD_REQUEST, "a decimal rid and op JOIN or LEAVE required")
    if req.op == pb.ROOM_OP_JOIN:
        await _join(ch, frame, rid)
    else:
        _leave(ch, frame, rid)


async def _join(ch: ImlcChannel, frame: c.Frame, rid: int) -> None:
    """The reply carries the member count and the room's newest seq; then the live broadcasts."""
    assert ch.session is not None
    result = ch.core.rooms.join(ch.session, rid, create=False)
    count = ch.core.rooms.count(rid)
    ch.room_counts[rid] = count
    last_seq = (await ch.messages.state(ch.me, ConvId.room(rid))).last_seq
    body = pb.Room(rid=str(rid), op=pb.ROOM_OP_JOIN, member_count=count, last_seq=last_seq)
    ch.answer(frame, c.encode_body(body))
    for bc in result.broadcasts:
        ch.notify(c.Command.MPS, _broadcast(bc))


def _leave(ch: ImlcChannel, frame: c.Frame, rid: int) -> None:
    """Idempotent: leaving a room the session is not inside (or that does not exist) is OK."""
    assert ch.session is not None
    try:
        ch.core.rooms.quit(ch.session, rid)
    except CoreError as exc:
        if exc.code is not Code.ROOM_NOT_FOUND:
            raise
    ch.room_counts.pop(rid, None)
    ch.answer(frame, c.encode_body(pb.Room(rid=str(rid), op=pb.ROOM_OP_LEAVE)))


# == events out ==========================================================================================
def _chat(ch: ImlcChannel, event: RoomEvent) -> None:
    """A room message as MN, except to the session that sent it (it has the ack, §3.1 MN)."""
    if event.message is not None and event.origin != ch.sid:
        ch.write_mn(event.message)


def _bc(ch: ImlcChannel, event: RoomEvent) -> None:
    bc = event.broadcast
    if bc is not None:
        body = event.wire_cache.get("imlc")
        if body is None:
            body = event.wire_cache["imlc"] = _broadcast(bc)
        ch.notify(c.Command.MPS, body)


def _kick(ch: ImlcChannel, event: RoomEvent) -> None:
    """Only the removed user's sessions hear of a kick; the core has taken them out of the room."""
    if event.uid == ch.me:
        ch.room_counts.pop(event.rid, None)
        detail = "removed from the room by its owner or a manager"
        ch.notify(
            c.Command.ROOM, c.encode_body(pb.Room(rid=str(event.rid), op=pb.ROOM_OP_KICKED, detail=detail))
        )


def _dismiss(ch: ImlcChannel, event: RoomEvent) -> None:
    ch.room_counts.pop(event.rid, None)
    ch.notify(c.Command.ROOM, c.encode_body(pb.Room(rid=str(event.rid), op=pb.ROOM_OP_DISMISSED)))


def _count(ch: ImlcChannel, event: RoomEvent) -> None:
    """The core counts every few seconds; a session hears only a count that changed for it."""
    if ch.room_counts.get(event.rid) != event.count:
        ch.room_counts[event.rid] = event.count
        body = pb.Room(rid=str(event.rid), op=pb.ROOM_OP_COUNT, member_count=event.count)
        ch.notify(c.Command.ROOM, c.encode_body(body))


def _broadcast(bc: RoomBroadcast) -> bytes:
    """A room broadcast as MPS: the room as its conversation, the payload as data (§8.4)."""
    push = pb.Push(
        push_id=bc.msgid,
        conversation=pb.Conversation(type=pb.CONVERSATION_TYPE_ROOM, target=str(bc.rid)),
        data=bc.data,
        server_time_ms=bc.ts_ms,
        expires_ms=bc.expires_ms if bc.expire_s else 0,
    )
    return c.encode_body(push)


# Joins and quits of others show only as a changed COUNT in version 1 (§8.4).
_RENDER: dict[RoomChange, Callable[[ImlcChannel, RoomEvent], None]] = {
    RoomChange.CHAT: _chat,
    RoomChange.BC: _bc,
    RoomChange.KICK: _kick,
    RoomChange.DISMISS: _dismiss,
    RoomChange.COUNT: _count,
}


def on_room(ch: ImlcChannel, event: RoomEvent) -> None:
    render = _RENDER.get(event.kind)
    if render is not None and ch.session is not None:
        render(ch, event)


ImlcChannel.events[RoomEvent] = on_room
