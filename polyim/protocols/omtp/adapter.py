"""OMTP adapter: OTIMPack frames ⇄ core calls and core events (omtp.md §5).

One :class:`OmtpChannel` per TCP connection. Handlers are looked up in one table by pack type; each
decodes its request struct, checks the acting-user fields against the session (design.md §7), calls
the core, and answers with the request header plus ACK. Core refusals are mapped to OMTP codes in one
table, with a few per-command overrides where the spec names a different code.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.context import check_actor
from polyim.core.errors import Code, CoreError
from polyim.core.events import (
    ControlEvent,
    FriendChange,
    FriendEvent,
    GroupChange,
    GroupEvent,
    KickReason,
    MessageEvent,
    PushEvent,
    ReadEvent,
    SyncCommandEvent,
)
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.core.push import push_topic
from polyim.model import (
    AccountUpdate,
    ContentType,
    ControlCmd,
    ConvId,
    ConvKind,
    ConvState,
    DeviceClass,
    Message,
    PriorityEntry,
    changed_fields,
)
from polyim.protocols.channel import Channel, Commands, EventTable, RateLimit, Refused, State
from polyim.protocols.omtp import codec as c
from polyim.protocols.omtp import ids
from polyim.protocols.omtp.codec import ErrorCode as E
from polyim.protocols.omtp.render import control_pack, stored_frame, stored_pack
from polyim.protocols.omtp.settings import OmtpSettings
from polyim.transport.connection import ConnBase

log = logging.getLogger(__name__)

MAX_CONTENT: Final = 65536
MAX_PACK_ID: Final = 128
_DEFINED_FLAGS: Final = 0xFFF
MAX_FRAME = 640_000
HOT_PAGE = 100
HOT_PAGES_MS = 30_000  # how long a paged conversation list's later pages come from its first read
FROM_NOT_YOU: Final = "from is not you"  # MsgAck desc for a forged sender (omtp.md §5.3.2, B11)

# Core refusal → OMTP code (omtp.md §6); handlers override where a command names another code.
ERRORS: dict[Code, tuple[int, str | None]] = {
    Code.BAD_REQUEST: (E.EC_PARAM, None),
    Code.USER_NOT_FOUND: (E.EC_PARAM, None),
    Code.GROUP_NOT_FOUND: (E.EC_GROUP_NOT_EXIST, None),
    Code.CONV_NOT_FOUND: (E.EC_PARAM, None),
    Code.MSG_NOT_FOUND: (E.EC_MSG_NOT_EXIST, None),
    Code.NOT_MEMBER: (E.EC_GROUP_USER_NOTEXIST, None),
    Code.NOT_PARTICIPANT: (E.EC_CONN_ACCESS_DENIED, None),
    Code.NO_PRIVILEGE: (E.EC_GROUP_NO_PRIVILEGE, None),
    Code.NOT_OWNER: (E.EC_GROUP_CREAGOR_ERROR, None),
    Code.OWNER_CANNOT_QUIT: (E.EC_GROUP_CREAGOR_ERROR, None),
    Code.GROUP_FULL: (E.EC_GROUP_MEMBER_LIMIT, None),
    Code.NAME_TAKEN: (E.EC_PARAM, None),
    Code.BLOCKED: (E.EC_USER_BLACKLISt, None),
    Code.MUTED: (E.EC_MSG_FOBIDDEN, None),
    Code.NOT_FRIEND: (E.EC_USER_RELATION_INVALID, None),
    Code.EMPTY: (E.EC_MSG_TOO_SHORT, None),
    Code.TOO_LARGE: (E.EC_MSG_TOO_LONG, None),
    Code.FORBIDDEN: (E.EC_MSG_FOBIDDEN, None),
    Code.IDENTITY_MISMATCH: (E.EC_CONN_ACCESS_DENIED, None),
    Code.AUTH_FAILED: (E.EC_CONN_USERNAME_OR_PASSWORD, None),
    Code.DISABLED: (E.EC_CONN_ACCESS_DENIED, None),
    Code.THROTTLED: (E.EC_SERVER_REFUSED, None),
    Code.LIMIT: (E.EC_SERVER_REFUSED, None),
    Code.INTERNAL: (E.EC_UNKOWN, None),
}

DEVICE_CLASS = {
    c.DeviceType.IOS: DeviceClass.MOBILE,
    c.DeviceType.ANDROID: DeviceClass.MOBILE,
    c.DeviceType.MACOS: DeviceClass.DESKTOP,
    c.DeviceType.WINDOWS: DeviceClass.DESKTOP,
    c.DeviceType.LINUX: DeviceClass.DESKTOP,
}


_MESSAGE_TYPES: Final = (c.PackType.MSG_SINGLE_CHAT, c.PackType.MSG_GROUP_CHAT, c.PackType.MSG_BIZ_NOTIFY)


def _cec(code: int, desc: str = "") -> c.CommonErrorCode:
    return c.CommonErrorCode(code=code, desc=desc)


def _error_payload(pack_type: int, err: c.CommonErrorCode, echo: str) -> bytes:
    """The error response in the response shape of ``pack_type`` (omtp.md §5.1, last paragraph)."""
    t = c.PackType
    shapes: dict[int, Callable[[], Any]] = {
        t.LOGIN: lambda: c.LoginResp(error_code=err, client_id=echo),
        t.KICKOUT: lambda: c.KickOutAck(error_code=err),
        t.MSG_SINGLE_CHAT: lambda: c.MsgAck(error_code=err, session_id=echo),
        t.MSG_GROUP_CHAT: lambda: c.MsgAck(error_code=err, session_id=echo),
        t.MSG_BIZ_NOTIFY: lambda: c.MsgAck(error_code=err, session_id=echo),
        t.HOTSESSION_SYNC: lambda: c.HotSessionResp(error_code=err),
        t.SESSION_MONITOR_SYNC: lambda: c.HotSessionResp(error_code=err),
        t.HIGH_PRIOR_MSG_SYNC: lambda: c.MsgHighPrioritySyncResp(error_code=err),
        t.HISTORY_MSG_PULL: lambda: c.HistoryMsgPullResp(error_code=err, session_id=echo),
        t.GROUPCHAT_SYNC: lambda: c.GroupChatSyncResp(error_code=err),
        t.GROUPCHAT_CREATE: lambda: c.GroupChatCreateResp(error_code=err),
        t.GROUPCHAT_MEMBERS_GET: lambda: c.GroupChatMemberGetResp(error_code=err, group_id=echo),
        t.FRIEND_SYNC: lambda: c.FriendSyncResp(error_code=err),
        t.USERINFO_GET: lambda: c.UserInfoGetResp(error_code=err),
        t.USERATTRIBUTE_GET: lambda: c.UserAttrGetResp(error_code=err),
    }
    shape = shapes.get(pack_type)
    return bytes(shape().encode()) if shape else err.encode()


COMMANDS: Final = Commands()


class OmtpChannel(Channel):
    protocol = "omtp"
    commands = COMMANDS
    # Filled below the class: mypyc compiles no class-body table of the class's own functions.
    events: ClassVar[EventTable] = {}
    errors = ERRORS
    decode_errors = (c.OmtpDecodeError,)

    def __init__(self, core: Core, conn: ConnBase, settings: OmtpSettings) -> None:
        super().__init__(core, conn)
        self.settings = settings
        self.decoder = c.Decoder(max_frame=MAX_FRAME)
        self.login_version = 1
        self.rate = RateLimit(rate=100, burst=200, close_after=10.0)
        self.policy = SendPolicy(MAX_CONTENT, settings.require_friend)
        self.hot_pages: HotPages | None = None

    # -- bytes in -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        try:
            packs = self.decoder.feed(data)
        except c.OmtpDecodeError as exc:
            self.count_error("bad_frame")
            log.warning("omtp %s: bad frame (%s), closing", self.conn.peer, exc)
            self.conn.abort()
            return
        for pack in packs:
            self._accept(pack)

    def _accept(self, pack: c.Pack) -> None:
        header = pack.header
        if header.flags & c.FLAG_ACK:
            if self.session is None:
                self.conn.close()  # nothing was pushed before login: no ACK can be due
                return
            if not self._receipt_now(pack):
                self.submit(lambda: self._client_ack(pack))
            return
        verdict = self.rate.take(self.conn.last_rx)
        if verdict is not None:
            if verdict == "close":
                log.warning("omtp %s: sustained flood, closing", self.conn.peer)
                self.conn.close()
            else:
                self._reply(header, _error_payload(header.type, _cec(E.EC_SERVER_REFUSED, "rate limit"), ""))
            return
        self.submit_frame(header.type, pack, pack.payload)

    # -- the command table's hooks ----------------------------------------------------------------
    def gate(self, frame: c.Pack) -> bool:
        header = frame.header
        if header.flags & (c.FLAG_COMPRESS_MASK | c.FLAG_CRYPTO_MASK):
            raise Refused(E.EC_PROTOCOL, "compression/encryption not supported")
        if len(header.pack_id.encode()) > MAX_PACK_ID:
            raise Refused(E.EC_PARAM, "packId too long")
        return True

    def wrong_state(self, cmd: int) -> Refused:
        if not self.conn.logged_in:  # not a session that was just logged out or kicked
            log.info("omtp %s: type %d before login, closing", self.conn.peer, cmd)
        return Refused(None, close=True)

    def unknown(self, cmd: int) -> Refused:
        return Refused(E.EC_PROTOCOL, "unsupported type")

    def undecodable(self, exc: Exception) -> Refused:
        log.info("omtp %s: bad payload: %s", self.conn.peer, exc)
        return Refused(E.EC_MSG_INVALID_FORMAT, "bad payload")

    def refuse(self, frame: c.Pack, request: Any, exc: Refused) -> None:
        """The error in the response shape of the command, echoing its sessionId, groupId or clientId;
        a refused LOGIN closes the connection unless it was already logged in (omtp.md §5.2 step 1)."""
        header = frame.header
        assert exc.code is not None
        echo = next((getattr(request, f) for f in _ECHOED if hasattr(request, f)), "")
        self._reply(header, _error_payload(header.type, _cec(exc.code, exc.text), echo))
        if header.type == c.PackType.LOGIN and self.session is None:
            self.conn.close()

    def answer(self, frame: c.Pack, reply: bytes) -> None:
        self._reply(frame.header, reply)

    def _reply(self, header: c.Header, payload: bytes) -> None:
        # Bits 12 and up are reserved: ignored on input and written as 0 (omtp.md §1.4).
        flags = (header.flags & _DEFINED_FLAGS) | c.FLAG_ACK
        self.conn.write(c.encode_frame(header.type, header.version, flags, header.pack_id, payload))

    def push(self, pack_type: int, payload: bytes, pack_id: str = "", version: int = 1) -> None:
        self.conn.write(c.encode_frame(pack_type, version, 0, pack_id or str(uuid.uuid4()), payload))

    def _receipt_now(self, pack: c.Pack) -> bool:
        """The common receipt (a 1:1 or group message, facts cached) handled without a coroutine: one
        arrives for every delivered message. False leaves it to :meth:`_client_ack`."""
        if pack.header.type not in _MESSAGE_TYPES or not self.session:
            return True
        try:
            ack = c.MsgAck.decode(pack.payload)
        except c.OmtpDecodeError:
            return True
        conv = self.shaped(ack.session_id)
        if ack.seq_id <= 0:
            return True
        return conv is not None and self.messages.mark_delivered_now(self.me, conv, ack.seq_id)

    async def _client_ack(self, pack: c.Pack) -> None:
        """A client's MsgAck for a pushed 14/15/16 message advances its delivered cursor (omtp.md §5.1,
        §5.4); other ACKs are ignored."""
        if pack.header.type not in _MESSAGE_TYPES or not self.session:
            return
        try:
            ack = c.MsgAck.decode(pack.payload)
        except c.OmtpDecodeError:
            return
        conv = await self.resolve(ack.session_id)
        if conv is not None and ack.seq_id > 0:
            await self.messages.mark_delivered(self.session.uid, conv[0], ack.seq_id)

    # -- helpers ------------------------------------------------------------------------------------
    def actor(self, claimed: str, *, allow_empty: bool = False, desc: str = "acting user is not you") -> None:
        """Acting-user field check (omtp.md §9.3): it must be the session's uid, else code 23."""
        if allow_empty and claimed == "":
            return
        assert self.session is not None
        uid = ids.parse_uid(claimed)
        if uid is None:
            raise Refused(E.EC_CONN_ACCESS_DENIED, desc)
        try:
            check_actor(self.session, uid)
        except CoreError as exc:
            raise Refused(E.EC_CONN_ACCESS_DENIED, desc) from exc

    def shaped(self, session_id: str) -> ConvId | None:
        """The conversation a sessionId names by its shape alone (omtp.md §5.3.1 rules 1 and 2)."""
        gid = ids.parse_gid(session_id)
        if gid is not None:
            return ConvId.group(gid)
        pair = ids.pair_of(session_id)
        assert self.session is not None
        if pair is not None and (self.me in pair or self.session.is_operator):
            return ConvId.peer(pair[0], pair[1])  # not *pair: a generic call where this is a native one
        return None

    async def resolve(self, session_id: str) -> tuple[ConvId, str] | None:
        """A request's sessionId → (conversation, notification topic) by the rules of omtp.md §5.3.1."""
        conv = self.shaped(session_id)
        if conv is not None:
            exists = conv.kind is not ConvKind.GROUP or await self.core.groups.find(conv.a) is not None
            return (conv, "") if exists else None
        if session_id:
            state = await self.messages.state(self.me, ConvId.notify(self.me), session_id)
            if state.last_seq:
                return ConvId.notify(self.me), session_id
        return None

    async def require_conv(self, session_id: str, code: int = E.EC_PARAM) -> tuple[ConvId, str]:
        """:meth:`resolve`, or the command's refusal when the sessionId names nothing the caller has."""
        resolved = await self.resolve(session_id) if session_id else None
        if resolved is None:
            raise Refused(code, "unknown session")
        return resolved

    def uids(self, texts: Sequence[str]) -> list[int]:
        out = []
        for text in texts:
            uid = ids.parse_uid(text)
            if uid is None:
                raise Refused(E.EC_GROUP_USER_NOTEXIST, "unknown user")
            out.append(uid)
        return out

    def gid(self, group_id: str) -> int:
        if not group_id:
            raise Refused(E.EC_GROUP_ID_EMPTY, "groupId empty")
        gid = ids.parse_gid(group_id)
        if gid is None:
            raise Refused(E.EC_GROUP_NOT_EXIST, "no such group")
        return gid

    # -- events out ---------------------------------------------------------------------------------
    def _on_message(self, event: MessageEvent) -> None:
        message = event.message
        if message.conv.kind is ConvKind.ROOM:
            return
        frame = message.rendered("omtp")
        if frame is None:
            frame = message.keep_rendered("omtp", stored_frame(message))
        self.conn.write(frame)

    def _on_control(self, event: ControlEvent) -> None:
        if event.control.conv.kind is ConvKind.ROOM:
            return
        frame = event.wire_cache.get("omtp")
        if frame is None:
            frame = event.wire_cache["omtp"] = c.encode_pack(control_pack(event.control, event.message))
        self.conn.write(frame)

    def _on_read(self, event: ReadEvent) -> None:
        if self.session is not None and event.uid == self.me:
            sid = ids.canonical(event.conv, event.topic)
            self.push(c.PackType.MSG_READ, c.MsgReaded(session_id=sid, seq_id=event.seq).encode())

    def _on_friend(self, event: FriendEvent) -> None:
        if self.session is None or event.change not in (FriendChange.ADDED, FriendChange.REMOVED):
            return
        other = event.peer if event.uid == self.me else event.uid
        self._sync(c.SyncCmd.FRIEND, str(other))

    def _on_group(self, event: GroupEvent) -> None:
        if self.session is None:
            return
        gid = ids.group_id(event.group.gid)
        change = event.change
        if change in (GroupChange.CREATED, GroupChange.DISMISSED):
            self._sync(c.SyncCmd.GROUP, gid)
        elif change in (GroupChange.JOINED, GroupChange.LEFT, GroupChange.REMOVED, GroupChange.BLACKLIST):
            concerned = self.me in event.uids
            self._sync(c.SyncCmd.GROUP if concerned else c.SyncCmd.GROUPMEMBER, gid)
        else:
            self._sync(c.SyncCmd.GROUPINFO, gid)

    def _on_push(self, event: PushEvent) -> None:
        """An admin push that is not stored: a BIZ_NOTIFY (16) of the user's push stream, seqId 0."""
        if self.session is None:
            return
        body = c.MsgReq(
            session_id=push_topic(self.me),
            timestamp=event.ts_ms,
            from_="0",
            to=str(self.me),
            content_type=ContentType.TEXT,
            content=event.text,
        )
        header = c.Header(
            type=c.PackType.MSG_BIZ_NOTIFY, version=1, flags=c.FLAG_COUNTER, pack_id=f"push-{event.msgid}"
        )
        self.conn.write(c.encode_pack(c.Pack(header=header, payload=body.encode())))

    def _on_sync_command(self, event: SyncCommandEvent) -> None:
        payload = c.SyncDataReq(command=event.command, content=event.content).encode()
        self.push(c.PackType.SYNC_DATA_CMD, payload, event.request_id)

    def _sync(self, command: int, content: str) -> None:
        self.push(c.PackType.SYNC_DATA_CMD, c.SyncDataReq(command=command, content=content).encode())

    def send_kick(self, reason: KickReason) -> None:
        self.push(c.PackType.KICKOUT, b"", version=self.login_version)

    # -- shared pieces of several handlers ----------------------------------------------------------
    def committed(self, header: c.Header, req: c.MsgReq, res: SendResult) -> None:
        m = res.message
        sid = req.session_id or ids.message_session_id(m)
        self._reply(header, c.encode_msg_ack(0, "", sid, m.seq, m.ts_ms))

    def commit_failed(self, header: c.Header, req: c.MsgReq) -> None:
        err = _cec(E.EC_DB_ERROR, "store failure")
        self._reply(header, _error_payload(header.type, err, req.session_id))

    async def hot_item(self, state: ConvState, *, as_participant: bool = True) -> c.HotSessionItem:
        last = await self.messages.last_message(state.conv, state.topic)
        read = state.read_seq if as_participant else state.last_seq
        attrs = json.dumps(state.attrs, sort_keys=True, separators=(",", ":")) if state.attrs else ""
        return c.HotSessionItem(
            session_id=ids.canonical(state.conv, state.topic),
            read_seq_id=read,
            unread_count=max(0, state.last_seq - read),
            last_msgs=(stored_pack(last),) if last else (),
            attribute=attrs,
        )


OmtpChannel.events.update(
    {
        MessageEvent: OmtpChannel._on_message,
        ControlEvent: OmtpChannel._on_control,
        ReadEvent: OmtpChannel._on_read,
        FriendEvent: OmtpChannel._on_friend,
        GroupEvent: OmtpChannel._on_group,
        SyncCommandEvent: OmtpChannel._on_sync_command,
        PushEvent: OmtpChannel._on_push,
    }
)

# The request fields an error response echoes (omtp.md §5.1), where its shape has them.
_ECHOED = ("session_id", "group_id", "client_id")


# == connection ===========================================================================================
@COMMANDS.on(c.PackType.PING)
async def _ping(ch: OmtpChannel, pack: c.Pack, _req: None) -> bytes:
    return pack.payload


@COMMANDS.on(c.PackType.LOGIN, c.LoginReq.decode, states=State.ANY)
async def _login(ch: OmtpChannel, pack: c.Pack, req: c.LoginReq) -> None:
    uid = ids.parse_uid(req.client_id) if req.client_id else None
    if ch.session is not None and await _names_another_account(ch, req.user_name, uid):
        raise Refused(E.EC_SERVER_REFUSED, "already logged in")
    bad_identity = (
        not req.password
        or not req.device_id
        or req.device_type not in DEVICE_CLASS
        or not (req.client_id or req.user_name)
        or (req.client_id and uid is None)
    )
    if bad_identity:
        raise Refused(E.EC_CONN_INDICATE, "bad client identity", close=True)
    cred = Credentials(req.user_name, uid, req.password, req.device_id, ch.conn.peer.rsplit(":", 1)[0])
    try:
        account = await ch.core.accounts.authenticate(cred, ch.protocol)
    except CoreError as exc:
        code = {Code.THROTTLED: E.EC_SERVER_REFUSED, Code.DISABLED: E.EC_CONN_ACCESS_DENIED}.get(
            exc.code, E.EC_CONN_USERNAME_OR_PASSWORD
        )
        raise Refused(code, exc.text, close=True) from exc
    ch.login_version = pack.header.version
    session = ch.new_session(
        account.uid, account.role, req.device_id, DEVICE_CLASS[c.DeviceType(req.device_type)], req.device_type
    )
    ch._reply(pack.header, c.LoginResp(error_code=_cec(0), client_id=str(account.uid)).encode())
    await ch.go_online(session)
    log.info("omtp %s: uid %d logged in (device %s)", ch.conn.peer, account.uid, req.device_id)


async def _names_another_account(ch: OmtpChannel, user_name: str, uid: int | None) -> bool:
    """A LOGIN on a logged-in connection may only repeat the same account (omtp.md §5.2 step 1)."""
    if uid is not None and uid != ch.me:
        return True
    if not user_name:
        return False
    account = await ch.core.accounts.get(ch.me)
    return account is None or account.username != user_name


@COMMANDS.on(c.PackType.LOGOUT)
async def _logout(ch: OmtpChannel, pack: c.Pack, _req: None) -> None:
    ch._reply(pack.header, pack.payload)
    session, ch.session = ch.session, None
    if session is not None:
        await ch.core.accounts.detach(session)
    ch.conn.close()


@COMMANDS.on(c.PackType.KICKOUT, c.KickOutReq.decode)
async def _kickout(ch: OmtpChannel, pack: c.Pack, req: c.KickOutReq) -> bytes:
    assert ch.session is not None
    if not req.device_id or not ch.core.accounts.kick_device(ch.session, req.device_id, req.device_type):
        raise Refused(E.EC_PARAM, "no such device")
    return c.KickOutAck(error_code=_cec(0)).encode()


# == messages =============================================================================================
def _check_send_header(pack: c.Pack) -> None:
    """What the wire asks of a message request; the message itself is judged by the core."""
    if not pack.header.pack_id:
        raise Refused(E.EC_PARAM, "packId required")
    if len(pack.payload) > MAX_CONTENT:  # the whole request: push info and ids besides the content
        raise Refused(E.EC_MSG_TOO_LONG, "message too long")


def _extra(pack: c.Pack, req: c.MsgReq) -> dict[str, Any]:
    header = pack.header
    extra: dict[str, Any] = {"origin": "omtp"}
    if header.version != 1:
        extra["omtp.v"] = header.version
    info = req.push_info
    if info.title:
        extra["push_title"] = info.title
    if info.summary:
        extra["push_summary"] = info.summary
    if info.url:
        extra["push_url"] = info.url
    if header.flags & c.FLAG_HIGHPRJ:
        extra["priority"] = 1
    return extra


@COMMANDS.on(c.PackType.MSG_SINGLE_CHAT, c.MsgReq.decode)
async def _single(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> None:
    await ch.send_and_ack(pack.header, req, _single_out(ch, pack, req), ch.policy)


@COMMANDS.now(c.PackType.MSG_SINGLE_CHAT)
def _single_now(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> object:
    return ch.send_and_ack_now(pack.header, req, _single_out(ch, pack, req), ch.policy)


def _single_out(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> Outgoing:
    ch.actor(req.from_, desc=FROM_NOT_YOU)
    to = ids.parse_uid(req.to)
    if to is None:
        raise Refused(E.EC_PARAM, "unknown recipient")
    _check_send_header(pack)
    return _outgoing(pack, req, ConvId.peer(ch.me, to))


@COMMANDS.on(c.PackType.MSG_GROUP_CHAT, c.MsgReq.decode)
async def _group_chat(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> None:
    await ch.send_and_ack(pack.header, req, _group_out(ch, pack, req), ch.policy)


@COMMANDS.now(c.PackType.MSG_GROUP_CHAT)
def _group_chat_now(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> object:
    return ch.send_and_ack_now(pack.header, req, _group_out(ch, pack, req), ch.policy)


def _group_out(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> Outgoing:
    ch.actor(req.from_, desc=FROM_NOT_YOU)
    _check_send_header(pack)
    return _outgoing(pack, req, ConvId.group(ch.gid(req.to)))


def _outgoing(pack: c.Pack, req: c.MsgReq, conv: ConvId) -> Outgoing:
    high = bool(pack.header.flags & c.FLAG_HIGHPRJ)
    return Outgoing(
        conv, req.content_type, req.content, pack.header.pack_id, extra=_extra(pack, req), high_priority=high
    )


@COMMANDS.on(c.PackType.MSG_BIZ_NOTIFY, c.MsgReq.decode)
async def _biz_notify(ch: OmtpChannel, pack: c.Pack, req: c.MsgReq) -> bytes:
    """Client-sent business notifications: operators only (omtp.md §5.4)."""
    assert ch.session is not None
    if not ch.session.is_operator:
        raise Refused(E.EC_MSG_FOBIDDEN, "operators only")
    ch.actor(req.from_, desc=FROM_NOT_YOU)
    to = ids.parse_uid(req.to)
    if to is None:
        raise Refused(E.EC_PARAM, "unknown recipient")
    _check_send_header(pack)
    if ids.is_chat_shaped(req.session_id):
        raise Refused(E.EC_PARAM, "sessionId names a chat")
    # The default stream must not itself look like a chat id (``BM_<uid>_<uid>`` would resolve to the
    # single chat of the two uids, §5.3.1), so the operator's "appId" is ``op<uid>``.
    topic = req.session_id or f"BM_op{ch.me}_{to}"
    extra = _extra(pack, req) | {"from": req.from_, "pack_id": pack.header.pack_id}
    res = await ch.messages.notify(
        to,
        topic,
        req.content_type,
        req.content,
        f"{ch.session.device_id}:{pack.header.pack_id}",
        sender=ch.me,
        extra=extra,
    )
    m = res.message
    return c.MsgAck(
        error_code=_cec(0), session_id=req.session_id or topic, seq_id=m.seq, timestamp=m.ts_ms
    ).encode()


@COMMANDS.on(c.PackType.MSG_CTRL, c.MsgControl.decode)
async def _msg_ctrl(ch: OmtpChannel, pack: c.Pack, req: c.MsgControl) -> bytes:
    if not req.session_id or not req.pack_id or req.seq_id <= 0 or not pack.header.pack_id:
        raise Refused(E.EC_PARAM, "sessionId, packId and seqId required")
    assert ch.session is not None
    dup = await ch.messages.find_control(ch.me, ch.session.device_id, pack.header.pack_id)
    if dup is not None:
        return _cec(0).encode()
    resolved = await ch.require_conv(req.session_id, E.EC_CONN_ACCESS_DENIED)
    try:
        message = await ch.messages.message_for_control(ch.session, resolved[0], req.seq_id)
    except CoreError as exc:
        raise Refused(
            E.EC_CONN_ACCESS_DENIED if exc.code is Code.NOT_PARTICIPANT else E.EC_MSG_NOT_EXIST
        ) from exc
    if stored_pack(message).header.pack_id != req.pack_id:
        raise Refused(E.EC_MSG_NOT_EXIST, "packId does not match")
    if req.command not in (1, 2, 3):
        raise Refused(E.EC_MSG_OP_CMD, "bad command")
    if req.command == ControlCmd.EDIT and (not req.content or len(req.content.encode()) > MAX_CONTENT):
        raise Refused(E.EC_PARAM if not req.content else E.EC_MSG_TOO_LONG, "bad content")
    await ch.messages.control(ch.session, message, ControlCmd(req.command), pack.header.pack_id, req.content)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.MSG_READ, c.MsgReaded.decode)
async def _read(ch: OmtpChannel, pack: c.Pack, req: c.MsgReaded) -> bytes:
    resolved = await ch.require_conv(req.session_id)
    assert ch.session is not None
    try:
        await ch.messages.mark_read(ch.session, resolved[0], req.seq_id, resolved[1])
    except CoreError as exc:
        raise Refused(E.EC_HISTORYMSG_DENY, "not a participant") from exc
    return _cec(0).encode()


@dataclass(slots=True)
class HotPages:
    """The rest of a conversation list that a client is paging through: what the next HOTSESSION_SYNC
    gets when it asks from the timestamp the last page ended at (``stamp``), until ``until_ms``.

    Why: reading a user's whole list for every page of 100 made the pages of a user with 5,000
    conversations cost 50 reads of 5,000 rows, 2.7 s in all (quadratic; docs/performance.md, "How cost
    grows"). Served from the first read, each conversation arrives as it was then; one that changed
    since has a newer activity time than any in that read, so the client's next sync, from the last
    page's timestamp, brings it again."""

    stamp: int
    rest: list[ConvState]
    until_ms: int


async def _hot_list(ch: OmtpChannel, since: int) -> list[ConvState]:
    """The conversations active after ``since``, oldest activity first: the rest of the list being paged
    through when ``since`` is where its last page ended, else a fresh read."""
    kept, ch.hot_pages = ch.hot_pages, None
    if kept is not None and kept.stamp == since and ch.core.clock.now_ms() < kept.until_ms:
        return kept.rest
    try:
        states = await ch.messages.conversations(ch.me)
    except Exception as exc:
        raise Refused(E.EC_HOTSESSION_FAILED, "store failure") from exc
    return sorted((s for s in states if s.activity_us > since), key=lambda s: s.activity_us)


@COMMANDS.on(c.PackType.HOTSESSION_SYNC, c.HotSessionReq.decode)
async def _hot_sessions(ch: OmtpChannel, pack: c.Pack, req: c.HotSessionReq) -> bytes:
    fresh = await _hot_list(ch, req.timestamp)
    page = fresh[:HOT_PAGE]
    while len(page) < len(fresh) and fresh[len(page)].activity_us == page[-1].activity_us:
        page.append(fresh[len(page)])
    items = [await ch.hot_item(s) for s in page]
    items = _fit(items, lambda it: len(it.encode()) + 8)
    more = len(items) < len(fresh)
    stamp = page[len(items) - 1].activity_us if items else req.timestamp
    if more:
        ch.hot_pages = HotPages(stamp, fresh[len(items) :], ch.core.clock.now_ms() + HOT_PAGES_MS)
    code = E.EC_HOTSESSION_MORE if more else 0
    return c.HotSessionResp(error_code=_cec(code), timestamp=stamp, sessions=tuple(items)).encode()


def _priority_pack(entry: PriorityEntry) -> c.Pack:
    if entry.control is not None:
        return control_pack(entry.control, entry.message)
    assert entry.message is not None  # the store returns a message entry only while its message exists
    return stored_pack(entry.message)


def _fit(items: list[Any], size: Callable[[Any], int], budget: int = MAX_FRAME - 1024) -> list[Any]:
    """Stop adding items before a response would exceed the frame bound (omtp.md §2.4)."""
    total = 0
    for i, item in enumerate(items):
        total += size(item)
        if total > budget:
            return items[:i]
    return items


@COMMANDS.on(c.PackType.HIGH_PRIOR_MSG_SYNC, c.MsgHighPrioritySyncReq.decode)
async def _priority_sync(ch: OmtpChannel, pack: c.Pack, req: c.MsgHighPrioritySyncReq) -> bytes:
    count = 200 if req.count <= 0 or req.count > 200 else req.count
    entries = await ch.messages.priority(ch.me, max(0, req.seq_id), count)
    packs = [_priority_pack(e) for e in entries]
    packs = _fit(packs, lambda p: len(c.encode_pack(p)))
    last = entries[len(packs) - 1].key if packs else req.seq_id
    return c.MsgHighPrioritySyncResp(error_code=_cec(0), last_seq_id=last, msgs=tuple(packs)).encode()


@COMMANDS.on(c.PackType.HISTORY_MSG_PULL, c.HistoryMsgPullReq.decode)
async def _history(ch: OmtpChannel, pack: c.Pack, req: c.HistoryMsgPullReq) -> bytes:
    resolved = await ch.require_conv(req.session_id)
    count = 30 if req.count <= 0 else min(req.count, 200)
    assert ch.session is not None
    try:
        msgs = await ch.messages.history(ch.session, resolved[0], req.seq_id, count, resolved[1])
    except CoreError as exc:
        raise Refused(E.EC_HISTORYMSG_DENY, "no right to read this history") from exc
    packs = _fit([stored_pack(m) for m in msgs], lambda p: len(c.encode_pack(p)))
    return c.HistoryMsgPullResp(error_code=_cec(0), session_id=req.session_id, msgs=tuple(packs)).encode()


@COMMANDS.on(c.PackType.SESSION_MONITOR_START, c.SessionMonitor.decode)
async def _monitor_start(ch: OmtpChannel, pack: c.Pack, req: c.SessionMonitor) -> bytes:
    resolved = await ch.require_conv(req.session_id)
    assert ch.session is not None
    try:
        await ch.messages.monitor(ch.session, resolved[0])
    except CoreError as exc:
        raise Refused(
            E.EC_SERVER_REFUSED if exc.code is Code.LIMIT else E.EC_CONN_ACCESS_DENIED, exc.text
        ) from exc
    return _cec(0).encode()


@COMMANDS.on(c.PackType.SESSION_MONITOR_STOP, c.SessionMonitor.decode)
async def _monitor_stop(ch: OmtpChannel, pack: c.Pack, req: c.SessionMonitor) -> bytes:
    resolved = await ch.require_conv(req.session_id)
    assert ch.session is not None
    ch.messages.unmonitor(ch.session, resolved[0])
    return _cec(0).encode()


@COMMANDS.on(c.PackType.SESSION_MONITOR_SYNC)
async def _monitor_sync(ch: OmtpChannel, pack: c.Pack, _req: None) -> bytes:
    assert ch.session is not None
    items = []
    for key in sorted(ch.session.monitors)[:HOT_PAGE]:
        conv = ConvId.from_key(key)
        state = await ch.messages.state(ch.me, conv)
        member = await ch.messages.is_participant(ch.me, conv)
        items.append(await ch.hot_item(state, as_participant=member))
    return c.HotSessionResp(
        error_code=_cec(0), timestamp=ch.core.clock.now_us(), sessions=tuple(items)
    ).encode()


@COMMANDS.on(c.PackType.SYNC_DATA_CMD, c.SyncDataReq.decode)
async def _sync_data(ch: OmtpChannel, pack: c.Pack, req: c.SyncDataReq) -> bytes:
    if len(req.content.encode()) > 4096:
        raise Refused(E.EC_PARAM, "content too long")
    assert ch.session is not None
    own = [s for s in ch.core.sessions.of(ch.me) if s is not ch.session and s.protocol == ch.protocol]
    for s in own:
        s.sink.deliver(SyncCommandEvent(req.command, req.content))
    return _cec(0).encode()


# == groups ===============================================================================================
def _group_info(g: Any) -> c.GroupChatInfo:
    return c.GroupChatInfo(
        group_id=ids.group_id(g.gid),
        name=g.name,
        avatar=g.avatar,
        creator_id=str(g.owner),
        desc=g.desc,
        member_limit=g.member_limit,
        create_time=g.created_ms,
        update_time=g.updated_ms,
    )


@COMMANDS.on(c.PackType.GROUPCHAT_SYNC, c.GroupChatSyncReq.decode)
async def _group_sync(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatSyncReq) -> bytes:
    now = ch.core.clock.now_ms()
    groups = await ch.core.groups.of_user(ch.me)
    changed = [_group_info(g) for g in groups if g.updated_ms >= req.timestamp]
    return c.GroupChatSyncResp(
        error_code=_cec(0),
        timestamp=now,
        group_chats=tuple(changed),
        group_ids=tuple(ids.group_id(g.gid) for g in groups),
    ).encode()


# Group commands name an unknown member with their own code (omtp.md §6).
GROUP_MEMBER_ERRORS = {Code.USER_NOT_FOUND: (E.EC_GROUP_USER_NOTEXIST, None)}


@COMMANDS.on(c.PackType.GROUPCHAT_CREATE, c.GroupChatCreateReq.decode, errors=GROUP_MEMBER_ERRORS)
async def _group_create(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatCreateReq) -> bytes:
    info = req.group_info
    ch.actor(info.creator_id, allow_empty=True)
    members = ch.uids(req.member_ids)
    group = await ch.core.groups.create(
        ch.me,
        info.name,
        members,
        avatar=info.avatar,
        desc=info.desc,
        member_limit=info.member_limit,
        skip=ch.sid,
    )
    return c.GroupChatCreateResp(error_code=_cec(0), group_id=ids.group_id(group.gid)).encode()


@COMMANDS.on(c.PackType.GROUPCHAT_JION, c.GroupChatJoinQuitReq.decode, errors=GROUP_MEMBER_ERRORS)
async def _group_join(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatJoinQuitReq) -> bytes:
    gid = ch.gid(req.group_id)
    if not req.member_ids:
        raise Refused(E.EC_PARAM, "no members")
    await ch.core.groups.add_members(ch.me, gid, ch.uids(req.member_ids), skip=ch.sid)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.GROUPCHAT_QUIT, c.GroupChatJoinQuitReq.decode, errors=GROUP_MEMBER_ERRORS)
async def _group_quit(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatJoinQuitReq) -> bytes:
    if req.operator_id is not None:
        ch.actor(req.operator_id)
    gid = ch.gid(req.group_id)
    if not req.member_ids:
        raise Refused(E.EC_PARAM, "no members")
    await ch.core.groups.remove_members(ch.me, gid, ch.uids(req.member_ids), skip=ch.sid)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.GROUPCHAT_DISMISS, c.GroupChatDismissReq.decode, errors=GROUP_MEMBER_ERRORS)
async def _group_dismiss(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatDismissReq) -> bytes:
    ch.actor(req.operator_id)
    await ch.core.groups.dismiss(ch.me, ch.gid(req.group_id), skip=ch.sid)
    return _cec(0).encode()


@COMMANDS.on(
    c.PackType.GROUPCHAT_UPDATE_CREATOR, c.GroupChatCreatorUpdateReq.decode, errors=GROUP_MEMBER_ERRORS
)
async def _group_owner(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatCreatorUpdateReq) -> bytes:
    ch.actor(req.operator_id)
    new_owner = ch.uids([req.new_creator_id])[0]
    await ch.core.groups.transfer(ch.me, ch.gid(req.group_id), new_owner, skip=ch.sid)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.GROUPCHAT_INFO_UPDATE, c.GroupChatInfoUpdateReq.decode, errors=GROUP_MEMBER_ERRORS)
async def _group_info_update(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatInfoUpdateReq) -> bytes:
    ch.actor(req.operator_id)
    info = req.group_info
    gid = ch.gid(info.group_id)
    await ch.core.groups.update_info(
        ch.me,
        gid,
        name=info.name,
        avatar=info.avatar,
        desc=info.desc,
        member_limit=max(0, info.member_limit),
        skip=ch.sid,
    )
    return _cec(0).encode()


@COMMANDS.on(c.PackType.GROUPCHAT_MEMBERS_GET, c.GroupChatMemberGetReq.decode)
async def _group_members(ch: OmtpChannel, pack: c.Pack, req: c.GroupChatMemberGetReq) -> bytes:
    gid = ch.gid(req.group_id)
    members = await ch.core.groups.members(ch.session, gid)
    return c.GroupChatMemberGetResp(
        error_code=_cec(0), group_id=req.group_id, member_ids=tuple(str(m.uid) for m in members)
    ).encode()


# == friends, users, attributes ===========================================================================
def _friend_targets(ch: OmtpChannel, friends: Sequence[c.FriendInfo]) -> list[tuple[int, str]]:
    if not friends or len(friends) > 100:
        raise Refused(E.EC_PARAM, "1 to 100 friends")
    out = []
    for f in friends:
        ch.actor(f.user_id)
        peer = ids.parse_uid(f.friend_id)
        if peer is None or peer == ch.me or len(f.remark.encode()) > 256:
            raise Refused(E.EC_PARAM, "bad friendId or remark")
        out.append((peer, f.remark))
    return out


@COMMANDS.on(c.PackType.FRIEND_ADD, c.FriendAddReq.decode)
async def _friend_add(ch: OmtpChannel, pack: c.Pack, req: c.FriendAddReq) -> bytes:
    for peer, remark in _friend_targets(ch, req.friends):
        await ch.core.relations.add_friend(ch.me, peer, remark, skip=ch.sid)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.FRIEND_DEL, c.FriendDelReq.decode)
async def _friend_del(ch: OmtpChannel, pack: c.Pack, req: c.FriendDelReq) -> bytes:
    for peer, _ in _friend_targets(ch, req.friends):
        await ch.core.relations.remove_friend(ch.me, peer, skip=ch.sid)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.FRIEND_SYNC, c.FriendSyncReq.decode)
async def _friend_sync(ch: OmtpChannel, pack: c.Pack, req: c.FriendSyncReq) -> bytes:
    friends = await ch.core.relations.friends(ch.me, max(0, req.timestamp))
    infos = [c.FriendInfo(user_id=str(f.uid), friend_id=str(f.peer), remark=f.remark) for f in friends]
    return c.FriendSyncResp(error_code=_cec(0), friends=tuple(infos)).encode()


@COMMANDS.on(c.PackType.USERINFO_GET, c.UserInfoGetReq.decode)
async def _user_info_get(ch: OmtpChannel, pack: c.Pack, req: c.UserInfoGetReq) -> bytes:
    if len(req.user_ids) > 200:
        raise Refused(E.EC_PARAM, "at most 200 users")
    wanted = [u for u in (ids.parse_uid(t) for t in req.user_ids) if u is not None]
    accounts = await ch.core.accounts.get_many(wanted)
    friends = {f.peer for f in await ch.core.relations.friends(ch.me)}
    infos = [
        c.UserInfo(
            user_id=str(a.uid),
            name=a.display_name,
            avatar=a.avatar,
            mobile=a.mobile if a.uid == ch.me or a.uid in friends else "",
            birthday=a.birthday,
        )
        for a in accounts
    ]
    return c.UserInfoGetResp(error_code=_cec(0), user_infos=tuple(infos)).encode()


@COMMANDS.on(c.PackType.USERINFO_UPDATE, c.UserInfoUpdateReq.decode)
async def _user_info_update(ch: OmtpChannel, pack: c.Pack, req: c.UserInfoUpdateReq) -> bytes:
    info = req.user_info
    ch.actor(info.user_id)
    if len(info.name.encode()) > 64 or max(len(info.avatar.encode()), len(info.mobile.encode())) > 512:
        raise Refused(E.EC_PARAM, "field too long")
    change = AccountUpdate(
        nickname=info.name or None,
        avatar=info.avatar or None,
        mobile=info.mobile or None,
        birthday=info.birthday or None,
    )
    if changed_fields(change):
        await ch.core.accounts.update_profile(ch.me, change)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.USERATTRIBUTE_SET, c.UserAttrSetReq.decode)
async def _attr_set(ch: OmtpChannel, pack: c.Pack, req: c.UserAttrSetReq) -> bytes:
    attr = req.attribute
    ch.actor(attr.user_id)
    peer = ids.parse_uid(attr.friend_id)
    if peer is None or await ch.core.accounts.get(peer) is None:
        raise Refused(E.EC_PARAM, "unknown friendId")
    if not attr.attr_name:
        raise Refused(E.EC_ATTR_FIELD_EMPTY, "attrName empty")
    if not attr.attr_value:
        raise Refused(E.EC_ATTR_VALUE_EMPTY, "attrValue empty")
    if len(attr.attr_name.encode()) > 64 or len(attr.attr_value.encode()) > 4096:
        raise Refused(E.EC_PARAM, "attribute too long")
    await ch.core.relations.set_attr(ch.me, peer, attr.attr_name, attr.attr_value)
    return _cec(0).encode()


@COMMANDS.on(c.PackType.USERATTRIBUTE_GET, c.UserAttribute.decode)
async def _attr_get(ch: OmtpChannel, pack: c.Pack, flt: c.UserAttribute) -> bytes:
    ch.actor(flt.user_id, allow_empty=True)
    peer = ids.parse_uid(flt.friend_id) if flt.friend_id else None
    if flt.friend_id and peer is None:
        return c.UserAttrGetResp(error_code=_cec(0)).encode()
    rows = await ch.core.relations.attrs(ch.me, peer, flt.attr_name)
    attrs = [
        c.UserAttribute(user_id=str(ch.me), friend_id=str(p), attr_name=n, attr_value=v) for p, n, v in rows
    ]
    return c.UserAttrGetResp(error_code=_cec(0), attributes=tuple(attrs)).encode()


@COMMANDS.on(c.PackType.SESSIONATTRIBUTE_SET, c.SessionAttrSetReq.decode)
async def _session_attr(ch: OmtpChannel, pack: c.Pack, req: c.SessionAttrSetReq) -> bytes:
    ch.actor(req.user_id)
    resolved = await ch.resolve(req.session_id)
    if resolved is None or resolved[1]:
        raise Refused(E.EC_PARAM, "unknown session")
    if not req.attr_name:
        raise Refused(E.EC_ATTR_FIELD_EMPTY, "attrName empty")
    if len(req.attr_name.encode()) > 64 or len(req.attr_value.encode()) > 1024:
        raise Refused(E.EC_PARAM, "attribute too long")
    assert ch.session is not None
    try:
        await ch.messages.set_conv_attr(ch.session, resolved[0], req.attr_name, req.attr_value)
    except CoreError as exc:
        raise Refused(E.EC_PARAM, "not a participant") from exc
    return _cec(0).encode()


def message_from_stream(message: Message) -> bool:
    return message.conv.kind is ConvKind.NOTIFY
