"""beehive adapter: frames ⇄ core calls and core events (beehive.md §1.2, §2.3, §2.4, §2.8, §4).

One :class:`BeehiveChannel` per TCP or WebSocket connection. Every frame goes through the ordered
work queue of :class:`~polyim.protocols.channel.Channel`, where the connection state (CONNECTED /
ONLINE / KICKED), the header sid, the per-connection seq rule and the rate limit are checked before
the command's handler runs. Handlers are looked up in one table by command id; each checks the acting
user (beehive.md §9.2), calls the core and returns the reply body. Refusals become the command's ACK
with a code (or ERROR where the ACK carries none); core refusals are mapped to wire codes in one table.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Final, cast

from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.content import fallback_text
from polyim.core.errors import Code, CoreError
from polyim.core.events import (
    FriendChange,
    FriendEvent,
    GroupChange,
    GroupEvent,
    KickReason,
    MessageEvent,
    Presence,
    PresenceEvent,
    PushEvent,
)
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.core.push import payload_of
from polyim.core.relations import REMARK
from polyim.core.sessions import Sink
from polyim.memo import remember
from polyim.model import ContentType, ConvId, ConvKind, DeviceClass, GroupRole, Message, MsgStatus
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive import codec as c
from polyim.protocols.beehive.codec import Cmd
from polyim.protocols.beehive.codec import ErrCode as E
from polyim.protocols.beehive.ids import request_decoder
from polyim.protocols.beehive.settings import BeehiveSettings
from polyim.protocols.channel import (
    STATE_CONNECTED,
    STATE_ONLINE,
    Channel,
    Commands,
    ErrorTable,
    EventTable,
    FanoutTable,
    Handler,
    RateLimit,
    Refused,
    State,
)
from polyim.transport.connection import ConnBase

log = logging.getLogger(__name__)

PROTOCOL: Final = "beehive"
SYNC_PER_CONV = 500
SYNC_MAX_FRAMES = 5000
TERMINAL_PHONE = 3
GROUP_CAPACITY = 500  # default member limit of a group created by GROUP-CREAT (beehive.md §4.3, §6.5)

# Core refusal → beehive code and errmsg (beehive.md §5); handlers override where a command says so.
ERRORS: dict[Code, tuple[int, str]] = {
    Code.BAD_REQUEST: (E.INVALID_PARAM, "Param is invalid!"),
    Code.USER_NOT_FOUND: (E.INVALID_USER, "User isn't exist!"),
    Code.GROUP_NOT_FOUND: (E.INVALID_PARAM, "Group isn't exist!"),
    Code.ROOM_NOT_FOUND: (E.INVALID_PARAM, "Room isn't exist!"),
    Code.CONV_NOT_FOUND: (E.INVALID_PARAM, "Param is invalid!"),
    Code.MSG_NOT_FOUND: (E.INVALID_PARAM, "Param is invalid!"),
    Code.NOT_MEMBER: (E.PERMISSION_DENIED, "Not group member!"),
    Code.NOT_PARTICIPANT: (E.PERMISSION_DENIED, "Permission denied!"),
    Code.NO_PRIVILEGE: (E.PERMISSION_DENIED, "Permission denied!"),
    Code.NOT_OWNER: (E.PERMISSION_DENIED, "You're not group owner!"),
    Code.OWNER_CANNOT_QUIT: (E.PERMISSION_DENIED, "Permission denied!"),
    Code.GROUP_FULL: (E.PERMISSION_DENIED, "Group is full!"),
    Code.NAME_TAKEN: (E.INVALID_PARAM, "Param is invalid!"),
    Code.BLOCKED: (E.PERMISSION_DENIED, "You're in blacklist!"),
    Code.MUTED: (E.PERMISSION_DENIED, "You're gagged!"),
    Code.NOT_FRIEND: (E.INVALID_PARAM, "Not friend!"),
    Code.EMPTY: (E.BODY_INVALID, "Paramter isn't right!"),
    Code.TOO_LARGE: (E.BODY_OVER_LIMIT, "Body over limit!"),
    Code.FORBIDDEN: (E.PERMISSION_DENIED, "Permission denied!"),
    Code.IDENTITY_MISMATCH: (E.DATA_COLLISION, "Uid is collision!"),
    Code.AUTH_FAILED: (E.CHECK_FAILED, "Decode token failed!"),
    Code.DISABLED: (E.INVALID_USER, "User is disabled!"),
    Code.THROTTLED: (E.USER_RATE_LIMIT, "Login throttled!"),
    Code.LIMIT: (E.PERMISSION_DENIED, "Permission denied!"),
    Code.INTERNAL: (E.SYSTEM_ERROR, "System error!"),
}

_cids = itertools.count(1)
_CLIENT_ACKS_HANDLED: Final = frozenset({Cmd.CHAT_ACK, Cmd.P2P_ACK})
# Requests that are stored as messages: a resend of a stored (sid, seq) is re-acked, not a violation.
_SENDS: Final = frozenset({Cmd.CHAT, Cmd.GROUP_CHAT, Cmd.ROOM_CHAT})
_background: set[asyncio.Future[None]] = set()


COMMANDS: Final = Commands()


def handles(cmd: c.Cmd, errors: ErrorTable | None = None) -> Callable[[Handler], Handler]:
    """Register a handler in :data:`COMMANDS`; every command but ONLINE needs an ONLINE session.
    ``errors`` words the core's refusals as this command does, where it differs from :data:`ERRORS`."""
    decoder = request_decoder(int(cmd)) if cmd in c.BODY_TYPES else None
    return COMMANDS.on(cmd, decoder, State.ANY if cmd == Cmd.ONLINE else State.ONLINE, errors or {})


def ack_body(cmd: int, request: Any, code: int, errmsg: str) -> tuple[int, bytes] | None:
    """The ACK of ``cmd`` carrying ``code``: required fields are copied by name from the request where
    it has them, else zero. None when that ACK has no ``code`` field (then ERROR carries the code)."""
    if type(request) is c.Chat:  # the common one, written without the runtime's objects
        return Cmd.CHAT_ACK, c.encode_chat_ack(request.suid, request.duid, code, errmsg)
    plan = _ack_plan(cmd, request)
    if plan is None:
        return None
    msg = plan.cls()
    msg.code = code
    if plan.errmsg:
        msg.errmsg = errmsg
    for name in plan.copied:
        if request.HasField(name):
            setattr(msg, name, getattr(request, name))
        elif name in plan.required:
            setattr(msg, name, plan.required[name])
    for name, zero in plan.zeros:
        setattr(msg, name, zero)
    return cmd + 1, c.encode_body(msg)


class _AckPlan:
    """What :func:`ack_body` does for one (command, request type), read from the descriptors once: every
    send is acked, and walking the descriptors each time cost a quarter of the loop's time in chat."""

    def __init__(self, cls: Any, request_fields: frozenset[str]) -> None:
        self.cls = cls
        self.errmsg = False
        self.copied: list[str] = []
        self.required: dict[str, object] = {}  # a required field's zero, for a request that lacks it
        self.zeros: list[tuple[str, object]] = []
        blank = cls()
        for f in cls.DESCRIPTOR.fields:
            zero = type(getattr(blank, f.name))()
            if f.name == "errmsg":
                self.errmsg = True
            elif f.name == "code":
                continue
            elif f.name in request_fields:
                self.copied.append(f.name)
                if f.is_required:  # protobuf 7 dropped FieldDescriptor.label
                    self.required[f.name] = zero
            elif f.is_required:
                self.zeros.append((f.name, zero))


#: A memo table (polyim.memo), keyed by the client's cmd and its request's type.
_ACK_PLANS: Final[dict[tuple[int, type], _AckPlan | None]] = {}


def _ack_plan(cmd: int, request: Any) -> _AckPlan | None:
    key = (cmd, type(request))
    if key in _ACK_PLANS:
        return _ACK_PLANS[key]
    return remember(_ACK_PLANS, key, _make_ack_plan(cmd + 1, request))


def _make_ack_plan(ack_cmd: int, request: Any) -> _AckPlan | None:
    cls = c.BODY_TYPES.get(ack_cmd)
    if cls is None or c.cmd_role(ack_cmd) is not c.CmdRole.CLIENT_ACK:
        return None
    if "code" not in {f.name for f in cls.DESCRIPTOR.fields}:
        return None
    fields = frozenset(g.name for g in request.DESCRIPTOR.fields) if request is not None else frozenset()
    return _AckPlan(cls, fields)


def chat_body(message: Message) -> bytes:
    """The CHAT (1:1) or GROUP-CHAT body of a stored message, encoded once per message."""
    cached = message.rendered(PROTOCOL)
    if cached is not None:
        return cached
    extra = message.extra or {}
    beehive = extra.get("origin") == PROTOCOL
    level = int(extra.get("level", 0)) if beehive else 0
    sent = int(extra.get("time", message.ts_ms // 1000)) if beehive else message.ts_ms // 1000
    text = message.content if beehive else fallback_text(message)
    data = message.data if beehive else b""
    # mesg_group_chat has mesg_chat's layout: the sender, then the group where a CHAT has the receiver
    other = message.conv.a if message.conv.kind is ConvKind.GROUP else message.conv.peer_of(message.sender)
    return message.keep_rendered(PROTOCOL, c.encode_chat(message.sender, other, level, sent, text, data))


class BeehiveChannel(Channel):
    protocol = PROTOCOL
    commands = COMMANDS
    fanouts: ClassVar[FanoutTable] = {}  # RoomEvent: the rooms module adds its fan-out
    # Filled below the class (mypyc compiles no class-body table of the class's own functions), and
    # RoomEvent by the rooms module.
    events: ClassVar[EventTable] = {}
    errors = ERRORS
    decode_errors = (c.BeehiveDecodeError,)

    def __init__(
        self, core: Core, conn: ConnBase, settings: BeehiveSettings, node_id: int, *, websocket: bool
    ) -> None:
        super().__init__(core, conn)
        self.settings = settings
        self.nid = node_id
        self.websocket = websocket
        self.cid = next(_cids)
        self.decoder = c.Decoder(max_frame=settings.max_frame)
        self.rate = RateLimit(rate=200, burst=400, close_after=3600.0)
        self.policy = SendPolicy(settings.max_message_bytes, settings.require_friend)
        self.floor = 0
        self.bsid = 0  # the header sid of the session (the device id)
        self.online = False
        self.kicked = False
        self.subs: set[int] = set()

    # -- bytes in -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Bytes of the TCP stream."""
        self._take(self.decoder.feed, data)

    def feed_message(self, data: bytes) -> None:
        """One WebSocket message: one whole frame."""
        self._take(lambda message: [self.decoder.decode_message(message)], data)

    def _take(self, decode: Callable[[bytes], list[c.Frame]], data: bytes) -> None:
        if self.kicked:
            return  # KICKED: input discarded until the delayed close (§1.2)
        bad: c.BeehiveDecodeError | None = None
        try:
            frames = decode(data)
        except c.BeehiveDecodeError as exc:
            frames, bad = list(exc.frames), exc
        for frame in frames:
            if not self._chat_ack_now(frame):
                self.submit_frame(frame.header.type, frame, frame.body)
        if bad is not None:
            self.count_error("bad_frame")
            log.warning("beehive %s: bad frame (%s), closing", self.conn.peer, bad)
            self.submit(lambda: self._close_bad(bad))

    async def _close_bad(self, exc: c.BeehiveDecodeError) -> None:
        if self.websocket:
            self.conn.close_code = exc.ws_close_code  # type: ignore[attr-defined]
        self.conn.close()

    # -- the command table's hooks ----------------------------------------------------------------
    @property
    def state(self) -> int:
        return STATE_ONLINE if self.online else STATE_CONNECTED

    def gate(self, frame: c.Frame) -> bool | Awaitable[bool]:
        """The header checks of §2.3–§2.4 in their order: the session's sid, client ACKs (never
        answered), the seq floor (a stored send's resend is re-acked), server-only commands, the rate.
        Only a client ACK and a frame at or below the floor wait (for the store)."""
        if self.kicked:
            return False  # KICKED: input discarded until the delayed close (§1.2)
        h = frame.header
        if self.online and h.sid != self.bsid:
            log.info("beehive %s: header sid %d is not the session's, closing", self.conn.peer, h.sid)
            self.conn.abort()
            return False
        if c.cmd_role(h.type) is c.CmdRole.CLIENT_ACK:
            return self._client_ack(frame) if h.type in _CLIENT_ACKS_HANDLED and self.online else False
        if h.seq <= self.floor:
            return self._below_floor(frame)
        self.floor = h.seq
        try:
            c.check_client_command(h.type)
        except c.BeehiveDecodeError as exc:
            self.error(h, exc.code, exc.errmsg)
            return False
        if self.online and self.rate.take(self.conn.last_rx) is not None:
            raise Refused(E.USER_RATE_LIMIT, "Rate limit!")
        return True

    async def _below_floor(self, frame: c.Frame) -> bool:
        """A frame whose seq is not above the floor: a stored send's resend is re-acked, anything
        else breaks §2.4's rule and closes the connection. Never handled further."""
        h = frame.header
        if h.type in _SENDS and self.online and await self._resend(frame):
            return False
        log.info("beehive %s: seq %d <= floor %d, closing", self.conn.peer, h.seq, self.floor)
        self.conn.abort()
        return False

    def wrong_state(self, cmd: int) -> Refused:
        if self.kicked:
            return Refused(None)  # KICKED: input discarded until the delayed close (§1.2)
        log.info("beehive %s: 0x%04x before ONLINE, closing", self.conn.peer, cmd)
        return Refused(E.BAD_ONLINE, "Please send ONLINE first!", close=True)

    def unknown(self, cmd: int) -> Refused:
        return Refused(E.API_NOT_FOUND, "Unknown command!")

    def undecodable(self, exc: Exception) -> Refused:
        assert isinstance(exc, c.BeehiveDecodeError)
        return Refused(exc.code, exc.errmsg)

    def refuse(self, frame: c.Frame, request: Any, exc: Refused) -> None:
        """The command's ACK with the code, or ERROR where it has none; a refused ONLINE is an
        ONLINE-ACK and a delayed close (§4.1); the state refusal is always an ERROR (§1.2)."""
        h = frame.header
        assert exc.code is not None
        if exc.code == E.BAD_ONLINE:
            self.error(h, exc.code, exc.text)
        elif h.type == Cmd.ONLINE:
            self._online_failed(h, request, exc.code, exc.text)
        else:
            self.fail(h, request, exc.code, exc.text)

    def answer(self, frame: c.Frame, reply: bytes) -> None:
        self.reply(frame.header, frame.header.type + 1, reply)

    def committed(self, h: c.Header, req: Any, result: SendResult) -> None:
        answer = ack_body(h.type, req, 0, "Ok")
        if answer is not None:
            self.reply(h, answer[0], answer[1])

    def commit_failed(self, h: c.Header, req: Any) -> None:
        self.fail(h, req, E.DATABASE_ERROR, "Database error!")

    # -- frames out ---------------------------------------------------------------------------------
    def reply(self, req: c.Header, cmd: int, body: bytes = b"") -> None:
        self.conn.write(c.encode_frame(req.reply(cmd, cid=self.cid, nid=self.nid), body))

    def push(self, cmd: int, body: bytes, seq: int = 0) -> None:
        """A server-originated frame. One too large for ``max_frame`` (a notification or message from a
        protocol with larger limits) is dropped with a log line: it must not break the fan-out."""
        frame = self.pushed(cmd, body, seq)
        if frame is not None:
            self.conn.write(frame)

    def pushed(self, cmd: int, body: bytes, seq: int) -> bytes | None:
        """The frame :meth:`push` writes; None, with a log line, when it cannot be sent."""
        try:
            return c.frame_bytes(cmd, self.bsid, self.cid, self.nid, seq, body, self.settings.max_frame)
        except ValueError as exc:
            log.warning("beehive %s: 0x%04x not sent: %s", self.conn.peer, cmd, exc)
            return None

    def error(self, req: c.Header, code: int, errmsg: str) -> None:
        self.reply(req, Cmd.ERROR, c.encode_body(pb.mesg_error(code=code, errmsg=errmsg)))

    def fail(self, req: c.Header, request: Any, code: int, errmsg: str) -> None:
        """The command's ACK with ``code``, or ERROR when the ACK cannot carry a code."""
        ack = ack_body(req.type, request, code, errmsg)
        if ack is None:
            self.error(req, code, errmsg)
        else:
            self.reply(req, ack[0], ack[1])

    # -- session life -------------------------------------------------------------------------------
    def actor(self, claimed: int) -> None:
        """The acting-user field must be the session's user (beehive.md §9.2), else 20009."""
        if self.session is None or claimed != self.session.uid:
            raise Refused(E.DATA_COLLISION, "Uid is collision!")

    def _close_later(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(self.settings.kick_close_delay, self.conn.close)

    def _online_failed(self, h: c.Header, req: Any, code: int, errmsg: str) -> None:
        ack = pb.mesg_online_ack(
            uid=req.uid if req is not None else 0,
            sid=req.sid if req is not None else 0,
            seq=0,
            app=req.app if req is not None else "",
            version=req.version if req is not None else "",
            terminal=req.terminal if req is not None else 0,
            code=code,
            errmsg=errmsg,
        )
        self.reply(h, Cmd.ONLINE_ACK, c.encode_body(ack))
        self.kicked = True
        self._close_later()

    def send_kick(self, reason: KickReason) -> None:
        if reason is KickReason.DISABLED:
            code, errmsg = E.INVALID_USER, "User is disabled!"
        else:
            code, errmsg = E.DATA_COLLISION, "Kicked by another login!"
        self.push(Cmd.KICK, c.encode_body(pb.mesg_kick(code=code, errmsg=errmsg)))

    def kick(self, reason: KickReason) -> None:
        """KICK, then KICKED: input ignored, closed ``kick_close_delay`` later (§1.2)."""
        log.info("beehive %s: kicked (%s)", self.conn.peer, reason.value)
        self.session = None
        self.online = False
        if self.conn.closing:
            return
        self.send_kick(reason)
        self.kicked = True
        self._pending = None  # the queued frames are dropped
        self._close_later()

    async def _resend(self, frame: c.Frame) -> bool:
        """A CHAT / GROUP-CHAT whose (sid, seq) is stored: the original ACK again (§2.4)."""
        h = frame.header
        found = await self.messages.find_sent(self.me, str(self.bsid), str(h.seq))
        if found is None:
            return False
        try:
            request = c.decode_body(h.type, frame.body)
        except c.BeehiveDecodeError:
            request = None
        ack = ack_body(h.type, request, 0, "Ok")
        if ack is not None:
            self.reply(h, ack[0], ack[1])
        return True

    async def _client_ack(self, frame: c.Frame) -> bool:
        """A receiver's CHAT-ACK moves its delivered cursor to the header seq (§4.2); a P2P-ACK marks the
        stored push whose id is the header seq delivered (§4.5). An ACK is never answered: False."""
        if frame.header.type == Cmd.P2P_ACK:
            await self.core.push.acknowledge(self.me, frame.header.seq)
            return False
        named = self._chat_ack(frame)
        if named is not None:
            await self.messages.mark_delivered(self.me, named[0], named[1])
        return False

    def _chat_ack_now(self, frame: c.Frame) -> bool:
        """The common CHAT-ACK (one arrives for every delivered message) handled without a coroutine, when
        it passes :meth:`gate` at once; False leaves the frame to the command path."""
        h = frame.header
        if h.type != Cmd.CHAT_ACK or not self.online or h.sid != self.bsid:
            return False
        named = self._chat_ack(frame)
        if named is not None:
            self.delivered(named[0], named[1])
        return True

    def _chat_ack(self, frame: c.Frame) -> tuple[ConvId, int] | None:
        """The conversation and seq a CHAT-ACK names; None drops it (undecodable, or not this user's)."""
        try:
            suid, duid = c.chat_ack_ids(frame.body)
        except c.BeehiveDecodeError:
            return None
        seq = frame.header.seq
        if duid != self.me or seq <= 0:
            log.info("beehive %s: CHAT-ACK for another user dropped", self.conn.peer)
            return None
        # No store read here: one CHAT-ACK arrives per delivered message, and a seq above the
        # conversation's last is clamped where the cursor is written (Store.note_delivered).
        return ConvId.peer(suid, duid), seq

    # -- events out ---------------------------------------------------------------------------------
    def _on_message(self, event: MessageEvent) -> None:
        message = event.message
        kind = message.conv.kind
        if kind is ConvKind.PEER:
            self.push(Cmd.CHAT, chat_body(message), message.seq)
        elif kind is ConvKind.GROUP:
            self.push(Cmd.GROUP_CHAT, chat_body(message), message.seq)
            if self.session is not None and message.sender != self.me:
                self._background(self.messages.mark_delivered(self.me, message.conv, message.seq))
        elif kind is ConvKind.NOTIFY:
            # the notification stream (stored pushes, business notifications): P2P, seq = the push id
            self.push(Cmd.P2P, payload_of(message), message.msg_id)

    def _on_push(self, event: PushEvent) -> None:
        """A push that is not stored: BC for a broadcast, P2P for a user, seq = the push id (§4.5)."""
        self.push(Cmd.BC if event.broadcast else Cmd.P2P, event.payload, event.msgid)

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        _background.add(task)
        task.add_done_callback(_background.discard)

    def _on_presence(self, event: PresenceEvent) -> None:
        if not event.friend:
            return  # beehive shows its friends' presence only
        if event.presence is Presence.OFFLINE:
            body = pb.mesg_offline_ntf(uid=event.uid, time=self.core.clock.now_ms() // 1000)
            self.push(Cmd.OFFLINE_NTF, c.encode_body(body))
        else:
            self.push(Cmd.ONLINE_NTF, c.encode_body(pb.mesg_online_ntf(uid=event.uid, status=event.presence)))

    def _on_friend(self, event: FriendEvent) -> None:
        """A request or an acceptance reaches the target as FRIEND-ADD, an unfriending or a declined
        request as FRIEND-DEL; the actor's own other sessions get nothing (§4.2)."""
        if self.session is None or event.peer != self.me or event.uid == self.me:
            return
        if event.change in (FriendChange.REQUESTED, FriendChange.ADDED):
            body = pb.mesg_friend_add(suid=event.uid, duid=event.peer, mark=event.remark)
            self.push(Cmd.FRIEND_ADD, c.encode_body(body))
        elif event.change in (FriendChange.REMOVED, FriendChange.DECLINED):
            self.push(Cmd.FRIEND_DEL, c.encode_body(pb.mesg_friend_del(suid=event.uid, duid=event.peer)))

    def _on_group(self, event: GroupEvent) -> None:
        gid = event.group.gid
        change = event.change
        if change is GroupChange.DISMISSED:
            self.push(Cmd.GROUP_QUIT_NTF, c.encode_body(pb.mesg_group_quit_ntf(uid=0, gid=gid)))
            return
        if change is GroupChange.CREATED:
            self.push(Cmd.GROUP_JOIN_NTF, c.encode_body(pb.mesg_group_join_ntf(uid=event.actor, gid=gid)))
            return
        entry = _GROUP_NTF.get((change, event.on))
        if entry is None:
            return  # owner transfers and info changes have no beehive notification
        mute_all = change is GroupChange.MUTE and not event.uids
        for uid in (0,) if mute_all else event.uids:  # mute-all is uid 0 (§10 #8)
            self.push(entry[0], c.encode_body(entry[1](uid=uid, gid=gid)))


BeehiveChannel.events.update(
    {
        MessageEvent: BeehiveChannel._on_message,
        PresenceEvent: BeehiveChannel._on_presence,
        FriendEvent: BeehiveChannel._on_friend,
        GroupEvent: BeehiveChannel._on_group,
        PushEvent: BeehiveChannel._on_push,
    }
)

# A group change (and whether it adds or removes) → its notification (§4.3).
_GROUP_NTF: dict[tuple[GroupChange, bool], tuple[int, Any]] = {
    (GroupChange.JOINED, True): (Cmd.GROUP_JOIN_NTF, pb.mesg_group_join_ntf),
    (GroupChange.LEFT, True): (Cmd.GROUP_QUIT_NTF, pb.mesg_group_quit_ntf),
    (GroupChange.REMOVED, True): (Cmd.GROUP_KICK_NTF, pb.mesg_group_kick_ntf),
    (GroupChange.MUTE, True): (Cmd.GROUP_GAG_ADD_NTF, pb.mesg_group_gag_add_ntf),
    (GroupChange.MUTE, False): (Cmd.GROUP_GAG_DEL_NTF, pb.mesg_group_gag_del_ntf),
    (GroupChange.BLACKLIST, True): (Cmd.GROUP_BL_ADD_NTF, pb.mesg_group_bl_add_ntf),
    (GroupChange.BLACKLIST, False): (Cmd.GROUP_BL_DEL_NTF, pb.mesg_group_bl_del_ntf),
    (GroupChange.MANAGER, True): (Cmd.GROUP_MGR_ADD_NTF, pb.mesg_group_mgr_add_ntf),
    (GroupChange.MANAGER, False): (Cmd.GROUP_MGR_DEL_NTF, pb.mesg_group_mgr_del_ntf),
}


# == common ==============================================================================================
@handles(Cmd.ONLINE)
async def _online(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    h = frame.header
    if ch.online:
        return None  # a second ONLINE is ignored; its seq was consumed (§1.2)
    if req.sid != h.sid:
        ch._online_failed(h, req, E.HEADER_INVALID, "Header is invalid!")
        return None
    code_msg = await _authenticate(ch, req)
    if code_msg is not None:
        ch._online_failed(h, req, *code_msg)
        return None
    account = await ch.core.accounts.get(req.uid)
    assert account is not None
    if req.terminal == TERMINAL_PHONE:
        klass = DeviceClass.MOBILE
    else:
        klass = DeviceClass.WEB if ch.websocket else DeviceClass.DESKTOP
    session = ch.new_session(account.uid, account.role, str(req.sid), klass, req.terminal)
    session.app, session.app_version = req.app, req.version  # BC by app (§6.4, §6.8)
    ch.bsid = req.sid
    ch.online = True
    ch.floor = max(100, h.seq, await _highest_client_seq(ch, account.uid, req.sid))
    ack = pb.mesg_online_ack(
        uid=req.uid,
        sid=req.sid,
        seq=ch.floor,
        app=req.app,
        version=req.version,
        terminal=req.terminal,
        code=0,
        errmsg="Ok",
    )
    ch.reply(h, Cmd.ONLINE_ACK, c.encode_body(ack))
    await ch.go_online(session)
    log.info("beehive %s: uid %d online (sid %d, %s)", ch.conn.peer, account.uid, req.sid, klass.value)
    return None


async def _highest_client_seq(ch: BeehiveChannel, uid: int, sid: int) -> int:
    return await ch.messages.highest_client_seq(uid, str(sid))


async def _authenticate(ch: BeehiveChannel, req: Any) -> tuple[int, str] | None:
    """ONLINE checks 3–5 of §4.1; returns (code, errmsg) of the refusal or None.

    The ``token`` field must carry a polyim token (from ``/im/iplist``, or ``POST /api/v1/tokens`` for an
    app server) naming this uid and device = the decimal sid: §4.1 and §10 #16 accept nothing else, so a
    password there is refused like any undecodable token. The sid is then bound to the uid for good
    (it may be new: the original C SDK invents its sid); a sid of another user → 20009.
    """
    accounts = ch.core.accounts
    addr = ch.conn.peer.rsplit(":", 1)[0]
    locked = await accounts.locked_out(req.uid, addr)
    if locked:
        return (E.IP_RATE_LIMIT if locked == "address" else E.USER_RATE_LIMIT), "Login throttled!"
    tokens = accounts.tokens
    claims = tokens.verify(req.token, now=0)  # signature only; the expiry is checked next
    if claims is None:
        return E.CHECK_FAILED, "Decode token failed!"
    if claims.expires * 1000 <= ch.core.clock.now_ms():
        return E.CHECK_FAILED, "Token is timeout!"
    if claims.uid != req.uid or claims.device != str(req.sid):
        return E.CHECK_FAILED, "Token is invalid!!"
    try:
        await accounts.authenticate(Credentials("", req.uid, req.token, str(req.sid), addr))
        await ch.core.devices.bind(req.sid, req.uid)
    except CoreError as exc:
        if exc.code is Code.THROTTLED:
            return E.USER_RATE_LIMIT, "Login throttled!"
        if exc.code is Code.IDENTITY_MISMATCH:
            return E.DATA_COLLISION, "Sid is collision!"
        return E.INVALID_USER, "User is disabled!"  # unknown or disabled account
    return None


@handles(Cmd.OFFLINE)
async def _offline(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    session, ch.session = ch.session, None
    ch.online = False
    if session is not None:
        await ch.core.accounts.detach(session)
    ch.reply(frame.header, Cmd.OFFLINE_ACK)
    ch.conn.close()


@handles(Cmd.PING)
async def _ping(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    ch.reply(frame.header, Cmd.PONG)


@handles(Cmd.SUB)
async def _sub(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    if not req.HasField("cmd"):
        raise Refused(E.INVALID_PARAM, "Param is invalid!")
    if len(ch.subs) >= 1000 and req.cmd not in ch.subs:
        raise Refused(E.PERMISSION_DENIED, "Too many subscriptions!")
    ch.subs.add(req.cmd)
    return c.encode_body(pb.mesg_sub_ack(cmd=req.cmd, code=0, errmsg="Ok"))


@handles(Cmd.UNSUB)
async def _unsub(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    ch.subs.discard(req.cmd)
    return c.encode_body(pb.mesg_unsub_ack(cmd=req.cmd, code=0, errmsg="Ok"))


@handles(Cmd.ERROR)
async def _client_error(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    log.info("beehive %s: client reports error %d %r", ch.conn.peer, req.code, req.errmsg)
    ch.reply(frame.header, Cmd.ERROR_ACK)


@handles(Cmd.SYNC)
async def _sync(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    ch.actor(req.uid)
    session = ch.session
    assert session is not None
    me = ch.me
    frames = 0
    states = sorted(await ch.messages.conversations(me), key=lambda s: s.activity_us)
    for kind in (ConvKind.PEER, ConvKind.GROUP):
        for state in states:
            if state.conv.kind is not kind or state.last_seq <= state.delivered_seq:
                continue
            budget = min(SYNC_PER_CONV, SYNC_MAX_FRAMES - frames)
            if budget <= 0:
                break
            messages = await ch.messages.since(session, state.conv, state.delivered_seq, budget)
            last = 0
            for m in messages:
                last = m.seq
                if m.status in (MsgStatus.RECALLED, MsgStatus.DELETED):
                    continue
                if m.sender == me and not (kind is ConvKind.PEER and m.conv.a == m.conv.b):
                    continue
                ch.push(Cmd.CHAT if kind is ConvKind.PEER else Cmd.GROUP_CHAT, chat_body(m), m.seq)
                frames += 1
            if kind is ConvKind.GROUP and last:
                await ch.messages.mark_delivered(me, state.conv, last)
    frames += await _sync_pushes(ch, min(SYNC_PER_CONV, SYNC_MAX_FRAMES - frames))
    for request in (await ch.core.relations.requests_to(me))[: max(0, SYNC_MAX_FRAMES - frames)]:
        body = pb.mesg_friend_add(suid=request.uid, duid=me, mark=request.remark)
        ch.push(Cmd.FRIEND_ADD, c.encode_body(body))
    for friend in await ch.core.relations.friends(me):
        if ch.core.sessions.online(friend.peer) and me not in await ch.core.relations.blocked(friend.peer):
            ch.push(Cmd.ONLINE_NTF, c.encode_body(pb.mesg_online_ntf(uid=friend.peer, status=1)))
    return c.encode_body(pb.mesg_sync_ack(uid=me, code=0, errmsg="Ok"))


async def _sync_pushes(ch: BeehiveChannel, budget: int) -> int:
    """SYNC step 3: the user's notification stream above its delivered cursor as P2P (stored pushes and
    business notifications; the client acknowledges each). Returns the number of frames written."""
    if ch.session is None:
        return 0
    waiting = await ch.core.push.waiting(ch.session, budget)
    for m in waiting:
        ch.push(Cmd.P2P, payload_of(m), m.msg_id)
    return len(waiting)


# == one-to-one ==========================================================================================
@handles(Cmd.CHAT)
async def _chat(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    await ch.send_and_ack(frame.header, req, _chat_out(ch, frame, req), ch.policy)


@COMMANDS.now(Cmd.CHAT)
def _chat_now(ch: BeehiveChannel, frame: c.Frame, req: Any) -> object:
    """The common 1:1 send without a coroutine (its ACK, 10024 if the commit fails, after the commit)."""
    return ch.send_and_ack_now(frame.header, req, _chat_out(ch, frame, req), ch.policy)


def _chat_out(ch: BeehiveChannel, frame: c.Frame, req: Any) -> Outgoing:
    chat = c.as_chat(req)
    if chat.suid == 0 or chat.duid == 0:
        raise Refused(E.BODY_INVALID, "Paramter isn't right!")
    ch.actor(chat.suid)
    extra: dict[str, Any] = {"origin": PROTOCOL, "level": chat.level, "time": chat.time}
    return Outgoing(
        ConvId.peer(chat.suid, chat.duid),
        ContentType.TEXT,
        chat.text,
        str(frame.header.seq),
        data=chat.data,
        extra=extra,
    )


def write_to_all(sinks: Sequence[Sink], cmd: int, body: bytes, seq: int) -> None:
    """The frame of ``cmd`` with ``body`` to every beehive channel of ``sinks`` that is logged in, each
    under its own header: a room's fan-out (5,000 connections a message), compiled here where it ran
    interpreted. Every frame is made before any is written, so a failure writes nothing twice."""
    frames: list[tuple[ConnBase, bytes]] = []
    for sink in sinks:
        ch = cast(BeehiveChannel, sink)
        conn = ch.conn
        if ch.session is None or conn.closing:
            continue
        frame = ch.pushed(cmd, body, seq)
        if frame is not None:
            frames.append((conn, frame))
    for conn, frame in frames:
        conn.write(frame)


def _ok(cls: Any) -> bytes:
    return c.encode_body(cls(code=0, errmsg="Ok"))


async def _target(ch: BeehiveChannel, req: Any) -> int:
    ch.actor(req.suid)
    if req.duid == req.suid:
        raise Refused(E.INVALID_PARAM, "Param is invalid!")
    if await ch.core.accounts.get(req.duid) is None:
        raise Refused(E.INVALID_USER, "User isn't exist!")
    duid: int = req.duid
    return duid


@handles(Cmd.FRIEND_ADD)
async def _friend_add(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    """A stored request, or the acceptance of ``duid``'s pending request (§4.2, §10 #3); the core relays
    it to ``duid`` (FRIEND-ADD, rendered by :meth:`BeehiveChannel._on_friend`)."""
    duid = await _target(ch, req)
    await ch.core.relations.request_friend(ch.me, duid, req.mark, skip=ch.sid)
    return _ok(pb.mesg_friend_add_ack)


@handles(Cmd.FRIEND_DEL)
async def _friend_del(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    """Unfriends both ways and withdraws or declines pending requests; ``duid`` hears of it only when
    there was something to remove (FRIEND-DEL)."""
    duid = await _target(ch, req)
    await ch.core.relations.remove_friend(ch.me, duid, skip=ch.sid)
    return _ok(pb.mesg_friend_del_ack)


def _pair_switch(cmd: Cmd, on: bool) -> None:
    """BLACKLIST-ADD/-DEL (``suid`` blocks ``duid``: its CHATs and friend requests are refused) and
    GAG-ADD/-DEL (``suid`` mutes ``duid``: its CHATs are stored and acked, but reach ``suid`` only by
    SYNC). Both are enforced by the core for every protocol; idempotent; nothing is relayed (§4.2)."""
    blacklist = cmd in (Cmd.BLACKLIST_ADD, Cmd.BLACKLIST_DEL)
    ack = c.BODY_TYPES[cmd + 1]

    async def handler(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
        duid = await _target(ch, req)
        relations = ch.core.relations
        await (relations.set_blocked if blacklist else relations.set_muted)(ch.me, duid, on)
        return _ok(ack)

    handles(cmd)(handler)


for _cmd, _on in (
    (Cmd.BLACKLIST_ADD, True),
    (Cmd.BLACKLIST_DEL, False),
    (Cmd.GAG_ADD, True),
    (Cmd.GAG_DEL, False),
):
    _pair_switch(_cmd, _on)


@handles(Cmd.MARK_DEL)
@handles(Cmd.MARK_ADD)
async def _mark(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    """MARK-ADD sets ``suid``'s remark for the friend ``duid``, MARK-DEL clears it."""
    duid = await _target(ch, req)
    if not await ch.core.relations.is_friend(ch.me, duid):
        raise Refused(E.INVALID_PARAM, "Not friend!")
    adding = frame.header.type == Cmd.MARK_ADD
    await ch.core.relations.set_attr(ch.me, duid, REMARK, str(req.mark) if adding else "")
    return _ok(c.BODY_TYPES[frame.header.type + 1])


# == groups ==============================================================================================
_ROLE = {GroupRole.OWNER: 1, GroupRole.MANAGER: 2, GroupRole.MEMBER: 3}


async def _group(ch: BeehiveChannel, gid: int) -> None:
    if gid == 0 or await ch.core.groups.find(gid) is None:
        raise Refused(E.INVALID_PARAM, "Group isn't exist!")


def _ntf(ch: BeehiveChannel, h: c.Header, cmd: int, cls: Any, uid: int, gid: int) -> None:
    """The notification this connection's own request caused: header seq = the request's (§2.3)."""
    header = c.Header(cmd, 0, ch.bsid, ch.cid, ch.nid, h.seq, 0, 0)
    ch.conn.write(c.encode_frame(header, c.encode_body(cls(uid=uid, gid=gid))))


# How the group commands word the core's refusals where :data:`ERRORS` does not (§4.3).
_NOT_OWNER = (E.PERMISSION_DENIED, "You're not group owner!")
_DENIED = (E.PERMISSION_DENIED, "Permission denied!")
_NOT_MEMBER = (E.INVALID_PARAM, "Not group member!")


@handles(Cmd.GROUP_CREAT, {Code.NAME_TAKEN: (E.INVALID_PARAM, "Group name is taken!")})
async def _group_creat(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    """The request's gid is ignored; the new gid reaches the creator as GROUP-JOIN-NTF (§10 #1)."""
    ch.actor(req.uid)
    if not req.name or len(req.name) > 64 or len(req.desc) > 512:
        raise Refused(E.INVALID_PARAM, "Param is invalid!")
    group = await ch.core.groups.create(
        ch.me, req.name, [], desc=req.desc, member_limit=GROUP_CAPACITY, skip=ch.sid
    )
    ch.reply(frame.header, Cmd.GROUP_CREAT_ACK, _ok(pb.mesg_group_creat_ack))
    _ntf(ch, frame.header, Cmd.GROUP_JOIN_NTF, pb.mesg_group_join_ntf, ch.me, group.gid)


@handles(Cmd.GROUP_DISMISS, {Code.NOT_OWNER: _NOT_OWNER})
async def _group_dismiss(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    ch.actor(req.uid)
    await _group(ch, req.gid)
    await ch.core.groups.dismiss(ch.me, req.gid, skip=ch.sid)
    return _ok(pb.mesg_group_dismiss_ack)


async def _add(ch: BeehiveChannel, gid: int, uid: int) -> list[int]:
    """Add ``uid`` (a join when it is the session's user, else an invite), worded as §4.3 words the
    core's refusals: banned "User is in blacklist!", switched off "Group is closed!"."""
    try:
        return await ch.core.groups.add_members(ch.me, gid, [uid], skip=ch.sid)
    except CoreError as exc:
        if exc.code is not Code.NO_PRIVILEGE:
            raise
        group = await ch.core.groups.get(gid)
        if group.closed:
            raise Refused(E.PERMISSION_DENIED, "Group is closed!") from exc
        if uid in await ch.core.groups.blacklist(gid):
            raise Refused(E.PERMISSION_DENIED, "User is in blacklist!") from exc
        raise


@handles(Cmd.GROUP_JOIN)
async def _group_join(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    ch.actor(req.uid)
    await _group(ch, req.gid)
    new = await _add(ch, req.gid, ch.me)
    ch.reply(frame.header, Cmd.GROUP_JOIN_ACK, _ok(pb.mesg_group_join_ack))
    if new:
        _ntf(ch, frame.header, Cmd.GROUP_JOIN_NTF, pb.mesg_group_join_ntf, ch.me, req.gid)


@handles(Cmd.GROUP_QUIT)
async def _group_quit(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    ch.actor(req.uid)
    await _group(ch, req.gid)
    await ch.core.groups.remove_members(ch.me, req.gid, [ch.me], skip=ch.sid)
    ch.reply(frame.header, Cmd.GROUP_QUIT_ACK, _ok(pb.mesg_group_quit_ack))
    _ntf(ch, frame.header, Cmd.GROUP_QUIT_NTF, pb.mesg_group_quit_ntf, ch.me, req.gid)


@handles(Cmd.GROUP_INVITE)
async def _group_invite(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    ch.actor(req.uid)
    await _group(ch, req.gid)
    if await ch.core.accounts.get(req.to) is None:
        raise Refused(E.INVALID_USER, "User isn't exist!")
    if ch.me not in await ch.core.groups.roles(req.gid):
        raise Refused(E.PERMISSION_DENIED, "Not group member!")
    new = await _add(ch, req.gid, req.to)
    ch.reply(frame.header, Cmd.GROUP_INVITE_ACK, _ok(pb.mesg_group_invite_ack))
    if new:
        _ntf(ch, frame.header, Cmd.GROUP_JOIN_NTF, pb.mesg_group_join_ntf, req.to, req.gid)


@handles(Cmd.GROUP_KICK, dict.fromkeys((Code.NO_PRIVILEGE, Code.OWNER_CANNOT_QUIT, Code.NOT_MEMBER), _DENIED))
async def _group_kick(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    await _group(ch, req.gid)
    members = await ch.core.groups.roles(req.gid)
    if ch.me not in members or members[ch.me].role is GroupRole.MEMBER:
        raise Refused(E.PERMISSION_DENIED, "Permission denied!")
    if req.uid not in members:
        ch.reply(frame.header, Cmd.GROUP_KICK_ACK, _ok(pb.mesg_group_kick_ack))
        return
    await ch.core.groups.remove_members(ch.me, req.gid, [req.uid], skip=ch.sid)
    ch.reply(frame.header, Cmd.GROUP_KICK_ACK, _ok(pb.mesg_group_kick_ack))
    _ntf(ch, frame.header, Cmd.GROUP_KICK_NTF, pb.mesg_group_kick_ntf, req.uid, req.gid)


# the only group send the core forbids is one to a closed group
@handles(Cmd.GROUP_CHAT, {Code.FORBIDDEN: (E.PERMISSION_DENIED, "Group is closed!")})
async def _group_chat(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
    ch.actor(req.uid)
    await _group(ch, req.gid)
    extra: dict[str, Any] = {"origin": PROTOCOL, "level": req.level, "time": req.time}
    out = Outgoing(
        ConvId.group(req.gid), ContentType.TEXT, req.text, str(frame.header.seq), data=req.data, extra=extra
    )
    await ch.send_and_ack(frame.header, req, out, ch.policy)


@handles(Cmd.GROUP_USR_LIST)
async def _group_usr_list(ch: BeehiveChannel, frame: c.Frame, req: Any) -> bytes:
    await _group(ch, req.gid)
    members = await ch.core.groups.members(ch.session, req.gid)
    if req.num:
        members = members[: req.num]
    items = ",".join(f'{{"idx":{i},"uid":{m.uid},"role":{_ROLE[m.role]}}}' for i, m in enumerate(members))
    text = f'{{"len":{len(members)},"list":[{items}]}}'
    return c.encode_body(pb.mesg_group_usr_list_ack(gid=req.gid, list=text))


Setting = Callable[["BeehiveChannel", Any, bool], Awaitable[None]]


async def _manager(ch: BeehiveChannel, req: Any, on: bool) -> None:
    await _group(ch, req.gid)
    await ch.core.groups.set_manager(ch.me, req.gid, req.uid, on, skip=ch.sid)


async def _gag(ch: BeehiveChannel, req: Any, on: bool) -> None:
    await _group(ch, req.gid)
    await ch.core.groups.set_muted(ch.me, req.gid, req.uid or None, on, skip=ch.sid)


async def _ban(ch: BeehiveChannel, req: Any, on: bool) -> None:
    await _group(ch, req.gid)
    if await ch.core.accounts.get(req.uid) is None:
        raise Refused(E.INVALID_USER, "User isn't exist!")
    await ch.core.groups.set_blacklisted(ch.me, req.gid, req.uid, on, skip=ch.sid)


_SETTING_ERRORS: dict[Setting, ErrorTable] = {
    _manager: {Code.NOT_OWNER: _NOT_OWNER, Code.NOT_MEMBER: _NOT_MEMBER},
    _gag: {Code.NOT_MEMBER: _NOT_MEMBER, Code.NOT_OWNER: _DENIED, Code.NO_PRIVILEGE: _DENIED},
    _ban: dict.fromkeys((Code.NOT_OWNER, Code.NO_PRIVILEGE, Code.NOT_MEMBER, Code.BAD_REQUEST), _DENIED),
}


def _member_setting(cmd: Cmd, change: Setting, on: bool, ntf: Cmd) -> None:
    """GROUP-MGR-*, -GAG-*, -BL-*: ``uid`` is the target, the actor the session's user. The ACK, then the
    actor's own NTF with the request's seq; the core tells the other members (seq 0)."""
    ack, body = c.BODY_TYPES[cmd + 1], c.BODY_TYPES[ntf]

    async def handler(ch: BeehiveChannel, frame: c.Frame, req: Any) -> None:
        await change(ch, req, on)
        ch.reply(frame.header, cmd + 1, _ok(ack))
        _ntf(ch, frame.header, ntf, body, req.uid, req.gid)

    handles(cmd, _SETTING_ERRORS[change])(handler)


# A ban removes a member with no separate GROUP-KICK-NTF; lifting it does not bring the user back (§4.3).
for _cmd, _change, _on, _ntf_cmd in (
    (Cmd.GROUP_MGR_ADD, _manager, True, Cmd.GROUP_MGR_ADD_NTF),
    (Cmd.GROUP_MGR_DEL, _manager, False, Cmd.GROUP_MGR_DEL_NTF),
    (Cmd.GROUP_GAG_ADD, _gag, True, Cmd.GROUP_GAG_ADD_NTF),
    (Cmd.GROUP_GAG_DEL, _gag, False, Cmd.GROUP_GAG_DEL_NTF),
    (Cmd.GROUP_BL_ADD, _ban, True, Cmd.GROUP_BL_ADD_NTF),
    (Cmd.GROUP_BL_DEL, _ban, False, Cmd.GROUP_BL_DEL_NTF),
):
    _member_setting(_cmd, _change, _on, _ntf_cmd)
