"""beehive chat rooms, 0x04xx (beehive.md §4.4): room requests → ``core.rooms``, room events → frames.

The rules (membership, bans, gags, capacity, broadcasts, counts) live in :mod:`polyim.core.rooms`; this
module only names things in beehive's words. Handlers register with the adapter's ``@handles`` table
(``adapter.py`` imports this module once, at its end) and :func:`attach` gives each channel its room
event renderer. Client ROOM-BC-ACK, ROOM-USR-NUM-ACK and ROOM-*-NTF-ACK are client ACK ids, which the
adapter accepts and ignores; ROOM-LSN-STAT from a client is refused by the codec's command roles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.events import RoomBroadcast, RoomChange, RoomEvent
from polyim.core.messaging import Outgoing
from polyim.core.sessions import Sink
from polyim.model import ContentType, ConvId
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive import codec as c
from polyim.protocols.beehive.adapter import PROTOCOL, BeehiveChannel, handles, write_to_all
from polyim.protocols.beehive.codec import Cmd
from polyim.protocols.beehive.codec import ErrCode as E
from polyim.protocols.channel import Refused

log = logging.getLogger(__name__)


# Core refusal → beehive code and the room wording of beehive.md §4.4 / §8.
ROOM_ERRORS: dict[Code, tuple[int, str]] = {
    Code.ROOM_NOT_FOUND: (E.INVALID_PARAM, "Room isn't exist!"),
    Code.BAD_REQUEST: (E.INVALID_PARAM, "Param is invalid!"),
    Code.NOT_OWNER: (E.PERMISSION_DENIED, "You're not room owner!"),
    Code.FORBIDDEN: (E.PERMISSION_DENIED, "Permission denied!"),
    Code.BLOCKED: (E.PERMISSION_DENIED, "User is in blacklist!"),
    Code.ROOM_CLOSED: (E.PERMISSION_DENIED, "Room is closed!"),
    Code.ROOM_FULL: (E.PERMISSION_DENIED, "Room is full!"),
    Code.NOT_IN_ROOM: (E.PERMISSION_DENIED, "Not in room!"),
    Code.MUTED: (E.PERMISSION_DENIED, "You're gagged!"),
    Code.LIMIT: (E.PERMISSION_DENIED, "Too many rooms!"),
    Code.EMPTY: (E.BODY_INVALID, "Paramter isn't right!"),
    Code.TOO_LARGE: (E.BODY_OVER_LIMIT, "Body over limit!"),
}


def _own_ntf(ch: BeehiveChannel, h: c.Header, cmd: int, body: bytes) -> None:
    """A notification this connection's own request caused: header seq = the request's (§2.3)."""
    header = c.Header(cmd, 0, ch.bsid, ch.cid, ch.nid, h.seq, 0, 0)
    ch.conn.write(c.encode_frame(header, body))


def _ntf_body(cls: Any, uid: int, rid: int) -> bytes:
    return c.encode_body(cls(uid=uid, rid=rid))


# == requests ============================================================================================
@handles(Cmd.ROOM_CREAT, ROOM_ERRORS)
async def _room_creat(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    """A new open room owned by the creator, who is not put in it (it sends ROOM-JOIN)."""
    ch.actor(req.uid)
    if not req.name or len(req.name) > 64 or len(req.desc) > 512:
        raise Refused(E.INVALID_PARAM, "Param is invalid!")
    try:
        room = await ch.core.rooms.create(ch.me, req.name, req.desc)
    except CoreError:
        raise
    except Exception as exc:  # the rid sequence lives in the store
        log.error("beehive %s: room id allocation failed: %s", ch.conn.peer, exc)
        raise Refused(E.DATABASE_ERROR, "Database error!") from exc
    return c.encode_body(pb.mesg_room_creat_ack(uid=ch.me, rid=room.rid, code=0, errmsg="Ok"))


@handles(Cmd.ROOM_DISMISS, ROOM_ERRORS)
async def _room_dismiss(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    ch.actor(req.uid)
    inside = ch.core.rooms.dismiss(ch.me, req.rid, skip=ch.sid)
    await ch.core.rooms.flush()  # answered once the dismissal is committed
    ch.reply(frame.header, Cmd.ROOM_DISMISS_ACK, c.encode_body(pb.mesg_room_dismiss_ack(code=0, errmsg="Ok")))
    if inside:
        _own_ntf(ch, frame.header, Cmd.ROOM_QUIT_NTF, _ntf_body(pb.mesg_room_quit_ntf, 0, req.rid))


@handles(Cmd.ROOM_JOIN, ROOM_ERRORS)
async def _room_join(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    """ACK with the sub-group, then the joiner's own JOIN-NTF, then the room's unexpired broadcasts."""
    ch.actor(req.uid)
    result = ch.core.rooms.join(ch.live_session, req.rid)
    ack = pb.mesg_room_join_ack(uid=ch.me, rid=req.rid, gid=result.subgroup, code=0, errmsg="Ok")
    ch.reply(frame.header, Cmd.ROOM_JOIN_ACK, c.encode_body(ack))
    if result.joined:
        _own_ntf(ch, frame.header, Cmd.ROOM_JOIN_NTF, _ntf_body(pb.mesg_room_join_ntf, ch.me, req.rid))
        for bc in result.broadcasts:
            ch.push(Cmd.ROOM_BC, bc_body(bc), bc.msgid)


@handles(Cmd.ROOM_QUIT, ROOM_ERRORS)
async def _room_quit(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    ch.actor(req.uid)
    ch.core.rooms.quit(ch.live_session, req.rid)
    return c.encode_body(pb.mesg_room_quit_ack(uid=ch.me, rid=req.rid, code=0, errmsg="Ok"))


@handles(Cmd.ROOM_KICK, ROOM_ERRORS)
async def _room_kick(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    """``uid`` is the target; the actor is the session's user (owner or manager)."""
    inside = ch.core.rooms.kick(ch.live_session, req.rid, req.uid)
    await ch.core.rooms.flush()  # answered once the ban is committed
    ack = pb.mesg_room_kick_ack(uid=req.uid, rid=req.rid, code=0, errmsg="Ok")
    ch.reply(frame.header, Cmd.ROOM_KICK_ACK, c.encode_body(ack))
    if inside:
        _own_ntf(ch, frame.header, Cmd.ROOM_KICK_NTF, _ntf_body(pb.mesg_room_kick_ntf, req.uid, req.rid))


@handles(Cmd.ROOM_CHAT, ROOM_ERRORS)
async def _room_chat(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    """Stored in conversation (r, rid); the ACK is written after the commit (§4.4, §10 #10)."""
    ch.actor(req.uid)
    extra: dict[str, Any] = {"origin": PROTOCOL, "level": req.level, "time": req.time}
    out = Outgoing(
        ConvId.room(req.rid), ContentType.TEXT, req.text, str(frame.header.seq), data=req.data, extra=extra
    )
    committed = ch.core.rooms.chat(ch.live_session, out, req.gid, ch.policy)
    ch.ack_after_commit(committed, frame.header, req)


# == events out ==========================================================================================
def on_room(ch: BeehiveChannel, event: RoomEvent) -> None:
    """The channel's renderer of room events (in ``BeehiveChannel.events``)."""
    if ch.session is not None:
        _RENDER[event.kind](ch, event)


BeehiveChannel.events[RoomEvent] = on_room


def _cached(event: RoomEvent, key: str, make: Callable[[], Any]) -> bytes:
    """Encode a room frame body once per fan-out, not once per recipient (design.md §8)."""
    body = event.wire_cache.get(key)
    if body is None:
        body = event.wire_cache[key] = c.encode_body(make())
    return body


def _notice(cmd: int, cls: Any, event: RoomEvent) -> tuple[int, bytes, int]:
    """A ROOM-*-NTF {uid, rid}. QUIT and DISMISS (uid 0 = "the room was dismissed", §10 #7) are both
    ROOM-QUIT-NTF."""
    return cmd, _cached(event, PROTOCOL, lambda: cls(uid=event.uid, rid=event.rid)), 0


def _kick(ch: BeehiveChannel, event: RoomEvent) -> None:
    """The victim's sessions get ROOM-KICK (the connection stays), everyone else ROOM-KICK-NTF."""
    if ch.session is not None and ch.session.uid == event.uid:
        body = _cached(event, f"{PROTOCOL}:kick", lambda: pb.mesg_room_kick(uid=event.uid, rid=event.rid))
        ch.push(Cmd.ROOM_KICK, body)
    else:
        body = _cached(event, PROTOCOL, lambda: pb.mesg_room_kick_ntf(uid=event.uid, rid=event.rid))
        ch.push(Cmd.ROOM_KICK_NTF, body)


def _same_for_all(ch: BeehiveChannel, event: RoomEvent) -> None:
    ch.push(*_SHARED[event.kind](event))


def _traffic(event: RoomEvent) -> tuple[int, bytes, int]:
    """(command, body, seq) of a ROOM-CHAT or ROOM-BC, the body encoded once per fan-out."""
    if event.kind is RoomChange.BC:
        bc = event.broadcast
        assert bc is not None
        body = event.wire_cache.get(PROTOCOL)
        if body is None:
            body = event.wire_cache[PROTOCOL] = bc_body(bc)
        return Cmd.ROOM_BC, body, bc.msgid
    message = event.message
    assert message is not None
    return Cmd.ROOM_CHAT, _cached(event, PROTOCOL, lambda: _chat_msg(event)), message.seq


def write_all(sinks: Sequence[Sink], event: RoomEvent) -> bool:
    """A room event whose frame is the same for every session (ROOM-CHAT, ROOM-BC, and the JOIN and
    QUIT notifications, which every join or leave sends to the whole room): one body, then one header
    pack and one queued write per connection, the loop the room throughput is made of. False for the
    events rendered per session (KICK, COUNT)."""
    shared = _SHARED.get(event.kind)
    if shared is None:
        return False
    cmd, body, seq = shared(event)
    write_to_all(sinks, cmd, body, seq)
    return True


def _chat_msg(event: RoomEvent) -> Any:
    """ROOM-CHAT of a stored message; level and client time are relayed for beehive senders (§10 #22)."""
    message = event.message
    assert message is not None
    extra = message.extra or {}
    beehive = extra.get("origin") == PROTOCOL
    msg = pb.mesg_room_chat(
        uid=message.sender,
        rid=event.rid,
        gid=event.subgroup,
        level=int(extra.get("level", 0)) if beehive else 0,
        time=int(extra.get("time", 0)) if beehive else message.ts_ms // 1000,
        text=message.content,
    )
    if message.data:
        msg.data = message.data
    return msg


def bc_body(bc: RoomBroadcast) -> bytes:
    return c.encode_body(
        pb.mesg_room_bc(
            rid=bc.rid,
            msgid=bc.msgid,
            level=bc.level,
            time=bc.ts_ms // 1000,
            expire=bc.expire_s,
            data=bc.data,
        )
    )


def _count(ch: BeehiveChannel, event: RoomEvent) -> None:
    """ROOM-USR-NUM goes only to connections subscribed to 0x0410 (SUB, §4.1), on TCP and WS alike."""
    if Cmd.ROOM_USR_NUM in ch.subs:
        body = _cached(event, PROTOCOL, lambda: pb.mesg_room_usr_num(rid=event.rid, num=event.count))
        ch.push(Cmd.ROOM_USR_NUM, body)


# (command, body, seq) of the room events whose frame every session gets alike.
_SHARED: dict[RoomChange, Callable[[RoomEvent], tuple[int, bytes, int]]] = {
    RoomChange.JOIN: partial(_notice, Cmd.ROOM_JOIN_NTF, pb.mesg_room_join_ntf),
    RoomChange.QUIT: partial(_notice, Cmd.ROOM_QUIT_NTF, pb.mesg_room_quit_ntf),
    RoomChange.DISMISS: partial(_notice, Cmd.ROOM_QUIT_NTF, pb.mesg_room_quit_ntf),
    RoomChange.CHAT: _traffic,
    RoomChange.BC: _traffic,
}

_RENDER: dict[RoomChange, Callable[[BeehiveChannel, RoomEvent], None]] = {
    **dict.fromkeys(_SHARED, _same_for_all),
    RoomChange.KICK: _kick,
    RoomChange.COUNT: _count,
}


# == node report =========================================================================================
def lsn_stat_records(core: Core) -> list[bytes]:
    """This node's ROOM-LSN-STAT bodies {rid, nid, num} (§4.4, §4.6), the values a node registry keeps."""
    return [
        c.encode_body(pb.mesg_room_lsn_stat(rid=s.rid, nid=s.nid, num=s.num)) for s in core.rooms.node_stats()
    ]


BeehiveChannel.fanouts[RoomEvent] = write_all
