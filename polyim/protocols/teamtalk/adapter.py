"""TeamTalk adapter: frames ⇄ core calls and core events (teamtalk.md §1–§4, §8).

One :class:`TeamTalkChannel` per TCP connection on any of the three listeners; its ``role`` (login,
msg, file) says which commands it serves, and a command of another role is ignored and logged (§1.2).
Module 5 (groups) is ``groups.py``; it registers on this module's table and the package imports it.

What this protocol does not have shapes the code: there are no error frames, so a refused message gets
no ack (§4.4), frames before login and unknown commands are ignored without a reply (§2.6), and a
body that does not parse or a forged acting-user field closes the connection (§8.2).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.content import fallback_text, media_url
from polyim.core.errors import Code, CoreError
from polyim.core.events import KickReason, MessageEvent, Presence, PresenceEvent, SignalEvent
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.memo import remember
from polyim.model import Account, ContentType, ConvId, ConvKind, DeviceClass, Message, MsgStatus
from polyim.protocols.channel import LATER, Channel, Commands, EventTable, Refused, State
from polyim.protocols.teamtalk import codec as c
from polyim.protocols.teamtalk.settings import TeamTalkSettings
from polyim.transport.connection import ConnBase

log = logging.getLogger(__name__)

PROTOCOL: Final = "teamtalk"
TOKEN_TTL = 24 * 3600  # s a 1/4 file-server token stays valid (§8.3)
DELIVERY_WAIT: Final = 15.0  # s a pushed 1:1 3/1 waits for the recipient's 3/2 (§1.4)
#: Pushes awaiting their 3/2 kept before the ones whose wait is over are dropped, and the most kept
#: after that (the newest). A 3/2 for a dropped push moves no cursor; a later one does, past it.
PRUNE_FROM: Final = 256
OUTSTANDING_KEPT: Final = 1024
DEDUP_WINDOW: Final = 600  # s after its original in which the same seq_no and text is a resend (§9 #4)
P2P_SIGNAL = "teamtalk-p2p"  # the core signal kind that carries a 4/1 between TeamTalk sessions
STATUS_SIGNAL = "teamtalk-status"  # … and a 7/61's status to the user's other TeamTalk sessions
IMAGE_MARKER = "&$#@~^@[{:{url}:}]&$~@#@"  # the old clients' inline picture (§4.11)

_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")

# TeamTalk status (§3.2) ⇄ core presence.
STATUS_OF = {
    Presence.ONLINE: c.STATUS_ONLINE,
    Presence.BUSY: c.STATUS_ONLINE,
    Presence.AWAY: c.STATUS_LEAVE,
    Presence.OFFLINE: c.STATUS_OFFLINE,
}


def key(pair: tuple[int, int]) -> int:
    """A (module, command) pair as the command table's key."""
    return pair[0] << 16 | pair[1]


#: Ids already read, by their text: a 3/1 and its 3/2 each name a user, one of those online.
_WIRE_IDS: Final[dict[str, int]] = {}


def wire_id(text: str) -> int | None:
    """A user or group id from the wire (§8.1): 1–20 ASCII digits naming an id the store can hold;
    anything else names nobody (§2.6 step 5)."""
    known = _WIRE_IDS.get(text)
    if known is not None:
        return known
    if not (len(text) <= 20 and text.isascii() and text.isdigit()):  # [0-9]{1,20}, without a regex
        return None
    value = int(text)
    return remember(_WIRE_IDS, text, value) if 0 < value < 1 << 63 else None


#: Ids as the wire writes them, by id: every 3/1 names its sender and its recipient.
_ID_TEXTS: Final[dict[int, str]] = {}


def id_text(uid: int) -> str:
    """``str(uid)``, made once per id."""
    known = _ID_TEXTS.get(uid)
    return known if known is not None else remember(_ID_TEXTS, uid, str(uid))


@dataclass
class Endpoints:
    """What the channels of this node's three listeners share: where the listeners are bound, filled
    once they are (1/2, 6/11, 6/12, 6/17; a port of 0 means that role is disabled; ``advertise``
    replaces the host clients reached, §1.2), the file connections of each online task by party
    (sender True), and the background jobs of offline uploads."""

    advertise: str = ""
    msg_port: int = 0
    file_port: int = 0
    relays: dict[str, dict[bool, TeamTalkChannel]] = field(default_factory=dict)
    jobs: set[asyncio.Future[Any]] = field(default_factory=set)


#: Set by ``files.py``: a file connection closed (True) / its writes backed up or drained (paused).
FILE_HOOKS: dict[str, Callable[[TeamTalkChannel, bool], None]] = {}
FILE_ATTR: Final = "teamtalk_file"  # extra of the 1:1 message that tells other protocols of a file


COMMANDS: Final = Commands()
#: The role of every command: a command reaching a listener of another role is ignored (§1.2).
ROLES: Final[dict[int, str]] = {}


def on(
    pair: tuple[int, int],
    request: Callable[[bytes], Any] | None = None,
    states: State = State.ONLINE,
    role: str = "msg",
) -> Callable[[Any], Any]:
    """Register a handler for ``pair`` on the table, with the listener role it belongs to."""
    ROLES[key(pair)] = role
    return COMMANDS.on(key(pair), request, states)


class TeamTalkChannel(Channel):
    protocol = PROTOCOL
    commands = COMMANDS
    decode_errors = (c.TeamTalkDecodeError,)

    def __init__(
        self,
        core: Core,
        conn: ConnBase,
        settings: TeamTalkSettings,
        role: str,
        endpoints: Endpoints,
        local: str,
    ) -> None:
        super().__init__(core, conn)
        self.settings = settings
        self.role = role
        self.endpoints = endpoints
        self.local = local  # the host the client reached (the accepted socket's local address)
        limit = {"login": settings.max_login_frame, "file": settings.max_file_frame}.get(role)
        self.decoder = c.Decoder(limit or settings.max_msg_frame)
        self.policy = SendPolicy(0, settings.require_friend)
        self.logging_in = False
        self.client_type = 0
        self.status = c.STATUS_ONLINE
        self.window = -1  # the second whose 3/1 are counted (§1.4)
        self.sent_in_window = 0
        #: Pushed 1:1 messages waiting for the recipient's 3/2: (seq_no, sender) → (conv, seq, sent at).
        self.outstanding: dict[tuple[int, int], tuple[ConvId, int, float]] = {}
        self.prune_at = PRUNE_FROM  # the size of ``outstanding`` that makes the next push prune it
        self.file: Any = None  # the file task this file connection serves (``files.py``)

    # -- bytes in -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        try:
            frames = self.decoder.feed(data)
        except c.TeamTalkDecodeError as exc:
            for frame in exc.frames:
                self._accept(frame)
            self.count_error("bad_frame")
            log.info("teamtalk %s %s: %s, closing", self.role, self.conn.peer, exc)
            self.conn.close()
            return
        for frame in frames:
            self._accept(frame)

    def _accept(self, frame: c.Frame) -> None:
        if frame.key == c.HEARTBEAT:
            self._heartbeat(frame)
            return
        self.submit_frame(key(frame.key), frame, frame.body)

    def _heartbeat(self, frame: c.Frame) -> None:
        """7/1 on the msg listener is echoed once logged in (reserved kept, §1.4); elsewhere it only
        counts as input (the transport noted its arrival)."""
        if self.role == "msg" and self.session is not None:
            self.write(c.HEARTBEAT, frame.reserved, b"")

    # -- the command table's hooks ----------------------------------------------------------------
    def gate(self, frame: c.Frame) -> bool:
        role = ROLES.get(key(frame.key))
        if role is not None and role != self.role:
            log.info(
                "teamtalk %s %s: %d/%d is not served here, ignored", self.role, self.conn.peer, *frame.key
            )
            return False
        return True

    def wrong_state(self, cmd: int) -> Refused:
        """Before login every frame but the login's is ignored without reply (§2.6 step 6)."""
        return Refused(None)

    def unknown(self, cmd: int) -> Refused:
        log.info(
            "teamtalk %s %s: unknown command %d/%d, ignored",
            self.role,
            self.conn.peer,
            cmd >> 16,
            cmd & 0xFFFF,
        )
        return Refused(None)

    def undecodable(self, exc: Exception) -> Refused:
        log.info("teamtalk %s %s: bad body (%s), closing", self.role, self.conn.peer, exc)
        return Refused(None, close=True)

    def refusal(self, exc: CoreError, own: Any = None) -> Refused:
        """The protocol has no error frames: a core refusal is logged and answered by silence (§4.4)."""
        log.info("teamtalk %s: refused (%s)", self.conn.peer, exc.text)
        return Refused(None)

    def answer(self, frame: c.Frame, reply: bytes) -> None:
        """A handler's reply is a whole frame already (its command differs from the request's)."""
        self.conn.write(reply)

    def committed(self, frame: c.Frame, request: Sending, result: SendResult) -> None:
        """3/2 once the message is committed, the request's reserved echoed (§4.4). A resend (the key
        was stored) is acked like the original, unless the original is older than the dedup window:
        then it is a new message with a reused ``seq_no`` and is stored under the key's next
        generation (§9 #4)."""
        if result.duplicate and self.core.clock.now_ms() - result.message.ts_ms >= DEDUP_WINDOW * 1000:
            self.submit(lambda: _store_as_new(self, frame, request))
            return
        msg = request.msg
        self.write(c.MSG_DATA_ACK, frame.reserved, c.MsgDataAck(msg.seq_no, msg.from_id).encode())

    def commit_failed(self, frame: c.Frame, request: Sending) -> None:
        """No ack: the client shows the message as unsent and may send it again."""

    # -- bytes out ----------------------------------------------------------------------------------
    def write(self, pair: tuple[int, int], reserved: int, body: bytes) -> None:
        self.conn.write(c.encode_frame(pair, reserved, body))

    def reply(self, pair: tuple[int, int], frame: c.Frame, body: c.Body) -> bytes:
        """A direct reply: the request's reserved echoed (§2.2)."""
        return c.frame_of(pair, frame.reserved, body)

    def push(self, pair: tuple[int, int], body: c.Body) -> None:
        """A frame the server originates: reserved 0 (§2.2)."""
        self.conn.write(c.frame_of(pair, 0, body))

    # -- session life -------------------------------------------------------------------------------
    @property
    def pc(self) -> bool:
        return not self.client_type & c.MOBILE_BIT

    def kick(self, reason: KickReason) -> None:
        """1/7 (reason 1, the only one), then the close after ``kick_close_delay`` if the client has not
        closed (§4.3); nothing pushed after the kick reaches this connection."""
        log.info("teamtalk %s: kicked (%s)", self.conn.peer, reason.value)
        uid = self.session.uid if self.session is not None else 0
        self.session = None
        self.push(c.KICK_USER, c.KickUser(uid & 0xFFFFFFFF, 1))
        self.conn.call_later(self.settings.kick_close_delay, self.conn.close)

    def connection_lost(self) -> None:
        if self.file is not None and "closed" in FILE_HOOKS:
            FILE_HOOKS["closed"](self, True)
        super().connection_lost()

    def writing_paused(self) -> None:
        if self.file is not None and "paused" in FILE_HOOKS:
            FILE_HOOKS["paused"](self, True)

    def writing_resumed(self) -> None:
        if self.file is not None and "paused" in FILE_HOOKS:
            FILE_HOOKS["paused"](self, False)

    # -- events out ---------------------------------------------------------------------------------
    def _on_message(self, event: MessageEvent) -> None:
        message = event.message
        kind = message.conv.kind
        if (kind is not ConvKind.PEER and kind is not ConvKind.GROUP) or FILE_ATTR in message.extra:
            return  # a file offer reaches TeamTalk sessions as 6/12 and 6/17
        frame = message.rendered(PROTOCOL)
        if frame is None:
            frame = message.keep_rendered(PROTOCOL, c.frame_of(c.MSG_DATA, 0, to_wire(message)))
        self.conn.write(frame)
        if kind is ConvKind.PEER and message.sender != self.me:
            self._expect_ack(seq_no_of(message), message)

    def _expect_ack(self, seq_no: int, message: Message) -> None:
        now = self.conn.last_rx
        if len(self.outstanding) >= self.prune_at:
            self._prune(now)
        self.outstanding[(seq_no, message.sender)] = (message.conv, message.seq, now)

    def _prune(self, now: float) -> None:
        """Drop the pushes whose wait is over, and all but the newest :data:`OUTSTANDING_KEPT`. The next
        prune comes when the rest has doubled: pruning at a fixed size copied every push still waiting
        at each push once a client acknowledged none (half the server's CPU at 40,000 msg/s)."""
        waiting = [(k, v) for k, v in self.outstanding.items() if now - v[2] < DELIVERY_WAIT]
        self.outstanding = dict(waiting[-OUTSTANDING_KEPT:])
        self.prune_at = max(PRUNE_FROM, 2 * len(self.outstanding))

    def _on_presence(self, event: PresenceEvent) -> None:
        """2/5 to PC sessions only (§3.2); mobile clients poll with 2/16."""
        if self.pc:
            self.push(c.STATUS_NOTIFY, c.IdStatus(str(event.uid), STATUS_OF[event.presence]))

    def _on_signal(self, event: SignalEvent) -> None:
        """A 4/1 from another TeamTalk session, relayed unchanged but for reserved 0 (§3.4); a status
        another session of this user set with 7/61, as 2/5 with that 7/61's reserved (§3.7)."""
        if event.kind == P2P_SIGNAL:
            seq_no = int(event.extra.get("seq_no", 0))
            self.push(c.P2P_CMD, c.P2PCmd(seq_no, str(event.sender), str(event.peer), event.data))
        elif event.kind == STATUS_SIGNAL:
            body = c.IdStatus(str(event.sender), int(event.extra.get("status", c.STATUS_ONLINE)))
            self.write(c.STATUS_NOTIFY, int(event.extra.get("reserved", 0)), body.encode())

    # Filled below the class: mypyc compiles no class-body table of the class's own functions.
    events: ClassVar[EventTable] = {}


TeamTalkChannel.events.update(
    {
        MessageEvent: TeamTalkChannel._on_message,
        PresenceEvent: TeamTalkChannel._on_presence,
        SignalEvent: TeamTalkChannel._on_signal,
    }
)


# == wire ⇄ core ==========================================================================================
def seq_no_of(message: Message) -> int:
    """The sender's own ``seq_no`` for a message sent from TeamTalk; the low 32 bits of the conversation
    seq for one from another protocol (§4.4)."""
    tt = message.extra.get(PROTOCOL) if message.extra else None
    if isinstance(tt, dict) and isinstance(tt.get("seq_no"), int):
        return int(tt["seq_no"])
    return message.seq & 0xFFFFFFFF


def to_wire(message: Message) -> c.MsgData:
    """A stored message as a delivered 3/1: server time, the sender's uid, the group's gid (§4.4, §4.6)."""
    group = message.conv.kind is ConvKind.GROUP
    to = message.conv.a if group else message.conv.peer_of(message.sender)
    tt = message.extra.get(PROTOCOL) if message.extra else None
    audio = isinstance(tt, dict) and tt.get("audio") is True
    hex_attach = tt.get("attach") if isinstance(tt, dict) else None
    attach = bytes.fromhex(str(hex_attach)) if hex_attach else b""  # most have none: no call then
    if audio:
        kind, data = c.MSG_AUDIO, message.data
    else:
        kind, data = c.MSG_TEXT, text_of(message).encode()
    return c.MsgData(
        seq_no_of(message),
        id_text(message.sender),
        id_text(to),
        message.ts_ms // 1000,
        kind | (c.GROUP_BIT if group else 0),
        data,
        attach,
    )


def text_of(message: Message) -> str:
    """The text an old client shows for a message of any kind (§4.11): an image as the inline marker,
    a file as ``[file] <name> <url>``, other kinds as their fallback text."""
    url = media_url(message)
    if message.ctype == ContentType.IMAGE and url:
        return IMAGE_MARKER.replace("{url}", url)
    if (message.extra or {}).get("origin") == PROTOCOL:
        return message.content
    return fallback_text(message)


#: An empty 8-byte BLAKE2b, copied for each text: a copy and an update cost a third less than a new
#: object made with its keyword argument, once per 3/1.
_BLAKE8: Final = hashlib.blake2b(digest_size=8)


def _hash8(data: bytes) -> str:
    digest = _BLAKE8.copy()
    digest.update(data)
    return digest.hexdigest()


def client_id(seq_no: int, data: bytes, generation: int = 0) -> str:
    """The dedup key of a 3/1 (§4.4, §9 #4): TeamTalk clients restart ``seq_no`` with the process, so
    the text's hash goes with it. A key whose message was stored more than the dedup window ago names
    an older message: the new one takes the next ``generation`` (no clock bucket, so a resend is the
    same message however the window falls on the clock)."""
    digest = _hash8(data)
    return f"{seq_no}:{digest}" if not generation else f"{seq_no}:{digest}:g{generation}"


@dataclass(slots=True)
class Sending:
    """A 3/1 on its way to the store: the request, what was handed to the core, and the generation
    of its dedup key."""

    msg: c.MsgData
    out: Outgoing
    generation: int = 0

    def __init__(self, msg: c.MsgData, out: Outgoing, generation: int = 0) -> None:
        self.msg = msg  # written out: compiled, where the generated one runs interpreted (one per 3/1)
        self.out = out
        self.generation = generation


async def _store_as_new(ch: TeamTalkChannel, frame: c.Frame, sending: Sending) -> None:
    """Send ``sending`` again under its key's next generation (a new message, §9 #4); acked as usual."""
    if ch.session is None:
        return
    sending.generation += 1
    sending.out.client_id = client_id(sending.msg.seq_no, sending.msg.msg_data, sending.generation)
    try:
        result = await ch.messages.send(ch.session, sending.out, PROTOCOL, ch.policy)
    except CoreError as exc:
        log.info("teamtalk %s: 3/1 refused (%s)", ch.conn.peer, exc.text)
        return
    ch.ack_after_commit(result, frame, sending)


def user_info(account: Account) -> c.UserInfo:
    """A user as 2/10 and 2/15 show it (§8.1): no departments, titles or employee numbers."""
    return c.UserInfo(
        str(account.uid), account.username, account.nickname, account.avatar, email=account.email
    )


def status_of(ch: TeamTalkChannel, uid: int) -> int:
    return STATUS_OF[ch.core.accounts.presence(uid)]


# 1/3 online_status and 7/61 value → what the session shows (offline = invisible).
PRESENCE_OF = {
    c.STATUS_ONLINE: Presence.ONLINE,
    c.STATUS_OFFLINE: Presence.OFFLINE,
    c.STATUS_LEAVE: Presence.AWAY,
}


# == module 1: login =====================================================================================
@on(c.MSGSERVER_REQ, states=State.ANY, role="login")
async def _msg_server(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> None:
    """1/2 with the least-loaded live node's msg listener (design.md §6; this node's when it is that,
    or none is known), the host being the one the client reached unless ``[server] advertise`` or
    that node names another (§1.2); then the connection closes."""
    ports = ch.endpoints
    host, port = ports.advertise or ch.local, ports.msg_port
    other = ch.core.nodes.elsewhere("teamtalk", "msg")
    if other is not None:
        host, port = other.host or host, other.port
    if not port:
        body = c.MsgServerRes(c.RESULT_NO_MSG_SERVER)
    else:
        body = c.MsgServerRes(c.RESULT_OK, host, host, port)
    ch.conn.write(ch.reply(c.MSGSERVER_RES, frame, body))
    ch.conn.close()


@on(c.USERLOGIN_REQ, c.LoginReq.decode, states=State.ANY)
async def _login(ch: TeamTalkChannel, frame: c.Frame, req: c.LoginReq) -> None:
    """1/3 → 1/4 (§4.2): the password is the MD5 hex the account's hash is made over; a wrong one, an
    unknown name, a disabled account and a throttled login all get result 6 and the close."""
    if ch.session is not None or ch.logging_in:
        return  # only one login per connection (§3.1)
    ch.logging_in = True
    device_id = f"tt-{req.client_type}"
    is_md5 = bool(_MD5_HEX.fullmatch(req.password))
    addr = ch.conn.peer.rsplit(":", 1)[0]
    now = ch.core.clock.now_ms() // 1000
    try:
        cred = Credentials(req.user_name, None, req.password, device_id, addr, is_md5=is_md5)
        account = await ch.core.accounts.authenticate(cred, ch.protocol)
    except CoreError as exc:
        log.info("teamtalk %s: login of %r refused (%s)", ch.conn.peer, req.user_name, exc.text)
        result = c.RESULT_NO_DB_SERVER if exc.code is Code.INTERNAL else c.RESULT_VALIDATE_FAILED
        ch.conn.write(ch.reply(c.USERLOGIN_RES, frame, c.LoginRes(now, result)))
        ch.conn.close()
        return
    mobile = bool(req.client_type & c.MOBILE_BIT)
    ch.client_type = req.client_type
    ch.status = req.online_status if req.online_status in (1, 2, 3) else c.STATUS_ONLINE
    session = ch.new_session(
        account.uid,
        account.role,
        device_id,
        DeviceClass.MOBILE if mobile else DeviceClass.DESKTOP,
        req.client_type,
    )
    session.app, session.app_version = "teamtalk", req.client_version[:64]
    session.presence = PRESENCE_OF[ch.status]
    token = ch.core.accounts.issue_token(account.uid, device_id, TOKEN_TTL)
    info = user_info(account)
    ch.conn.write(ch.reply(c.USERLOGIN_RES, frame, c.LoginRes(now, c.RESULT_OK, ch.status, info, token)))
    if mobile:
        ch.conn.idle_timeout = ch.settings.idle_timeout_mobile
    await ch.go_online(session)
    log.info("teamtalk %s: uid %d logged in (client type %#x)", ch.conn.peer, account.uid, req.client_type)


# == module 2: contacts, presence, directory ==============================================================
HIDDEN = "teamtalk.hidden"  # conversation attribute: the last seq when 2/12 hid it


def hidden(attrs: dict[str, str], last_seq: int) -> bool:
    """A conversation hidden by 2/12 stays hidden until its next message (§3.2)."""
    mark = attrs.get(HIDDEN)
    return mark is not None and mark.isdigit() and int(mark) >= last_seq


@on(c.RECENT_CONTACT_REQ, c.U32Body.decode)
async def _recent_contacts(ch: TeamTalkChannel, frame: c.Frame, _req: c.U32Body) -> bytes:
    """2/3: 1:1 peers by last activity, newest first, then friends without messages (§3.2)."""
    states = [
        s
        for s in await ch.messages.conversations(ch.me)
        if s.conv.kind is ConvKind.PEER and s.last_seq and not hidden(s.attrs, s.last_seq)
    ]
    states.sort(key=lambda s: -s.activity_us)
    pairs = [c.IdValue(str(s.conv.peer_of(ch.me)), s.activity_us // 1_000_000) for s in states]
    listed = {p.id for p in pairs}
    for friend in await ch.core.relations.friends(ch.me):
        if str(friend.peer) not in listed:
            pairs.append(c.IdValue(str(friend.peer), 0))
            listed.add(str(friend.peer))
    return ch.reply(c.RECENT_CONTACT_LIST, frame, c.Pairs(pairs))


@on(c.USER_STATUS_REQ, c.IdBody.decode)
async def _user_status(ch: TeamTalkChannel, frame: c.Frame, req: c.IdBody) -> bytes:
    uid = wire_id(req.id)
    status = status_of(ch, uid) if uid is not None else c.STATUS_OFFLINE
    return ch.reply(c.USER_STATUS_RES, frame, c.IdStatus(req.id, status))


async def _accounts(ch: TeamTalkChannel, ids: list[str]) -> list[Account]:
    uids = [u for u in (wire_id(i) for i in ids) if u is not None]
    return await ch.core.accounts.get_many(list(dict.fromkeys(uids))) if uids else []


@on(c.USER_INFO_REQ, c.IdList.decode)
async def _user_info(ch: TeamTalkChannel, frame: c.Frame, req: c.IdList) -> bytes:
    """2/10: unknown ids are left out (§3.2)."""
    users = [user_info(a) for a in await _accounts(ch, req.ids)]
    return ch.reply(c.USER_INFO_RES, frame, c.UserInfoList(users))


@on(c.ALL_USER_REQ)
async def _all_users(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> bytes:
    accounts = await ch.core.accounts.directory(ch.settings.all_user_max)
    return ch.reply(c.ALL_USER_RES, frame, c.UserInfoList([user_info(a) for a in accounts]))


@on(c.USERS_STATUS_REQ, c.IdList.decode)
async def _users_status(ch: TeamTalkChannel, frame: c.Frame, req: c.IdList) -> bytes:
    """2/17, once, with every id asked (unknown ones offline, §3.2)."""
    pairs = []
    for text in req.ids:
        uid = wire_id(text)
        pairs.append(c.IdValue(text, status_of(ch, uid) if uid is not None else c.STATUS_OFFLINE))
    return ch.reply(c.USERS_STATUS_RES, frame, c.Pairs(pairs))


@on(c.DEPARTMENT_REQ)
async def _departments(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> bytes:
    return ch.reply(c.DEPARTMENT_RES, frame, c.DepartmentRes([]))  # no departments (§9 #2)


@on(c.REMOVE_SESSION_REQ, c.RemoveSessionReq.decode)
async def _remove_session(ch: TeamTalkChannel, frame: c.Frame, req: c.RemoveSessionReq) -> bytes:
    """2/12 → 2/13: hide the conversation from 2/3 / 5/17 until its next message."""
    target = wire_id(req.session_id)
    conv = None
    if target is not None and req.session_type == 1 and await ch.core.accounts.get(target) is not None:
        conv = ConvId.peer(ch.me, target)
    elif target is not None and req.session_type in (2, 3):
        conv = ConvId.group(target)
    ok = False
    if conv is not None:
        try:
            state = await ch.messages.state(ch.me, conv)
            if conv.kind is ConvKind.GROUP or state.last_seq:
                await ch.messages.set_conv_attr(ch.live_session, conv, HIDDEN, str(state.last_seq))
            ok = True
        except CoreError:
            ok = False
    body = c.RemoveSessionRes(0 if ok else 1, req.session_type, req.session_id)
    return ch.reply(c.REMOVE_SESSION_RES, frame, body)


# == module 3: messages ===================================================================================
@on(c.MSG_DATA, c.MsgData.decode)
async def _send(ch: TeamTalkChannel, frame: c.Frame, msg: c.MsgData) -> None:
    """3/1 (§4.4, §4.6): acked with 3/2 once committed; refusals get no ack."""
    out = _outgoing(ch, msg)
    if out is not None:
        await ch.send_and_ack(frame, Sending(msg, out), out, ch.policy)


@COMMANDS.now(key(c.MSG_DATA))
def _send_now(ch: TeamTalkChannel, frame: c.Frame, msg: c.MsgData) -> None:
    """:func:`_send` without a coroutine when the core's facts are cached. The checks count the 3/1 in
    the rate window, so they run once: a send that must first load a fact is finished by a coroutine
    from here, not handed back to :func:`_send`."""
    out = _outgoing(ch, msg)
    if out is None:
        return
    sending = Sending(msg, out)
    if ch.send_and_ack_now(frame, sending, out, ch.policy) is LATER:
        ch.submit(lambda: ch.send_and_ack(frame, sending, out, ch.policy))


def _outgoing(ch: TeamTalkChannel, msg: c.MsgData) -> Outgoing | None:
    """The 3/1 for the core, counted in the rate window; None when it is dropped without an ack (over
    the rate limit, empty, or to nobody). A ``from_id`` that is not the session's user closes (§8.2)."""
    if msg.from_id != id_text(ch.me):
        log.warning("teamtalk %s: 3/1 from_id %r is not uid %d, closing", ch.conn.peer, msg.from_id, ch.me)
        raise Refused(None, close=True)
    if not _within_rate(ch) or not msg.msg_data:
        log.info("teamtalk %s: 3/1 dropped (rate limit or empty)", ch.conn.peer)
        return None
    target = wire_id(msg.to_id)
    if target is None:
        log.info("teamtalk %s: 3/1 to %r names nobody", ch.conn.peer, msg.to_id)
        return None
    group = bool(msg.msg_type & c.GROUP_BIT)
    conv = ConvId.group(target) if group else ConvId.peer(ch.me, target)
    audio = msg.msg_type & 0x0F == c.MSG_AUDIO
    tt: dict[str, Any] = {"seq_no": msg.seq_no}
    if audio:
        tt["audio"] = True
    if msg.attach:
        tt["attach"] = msg.attach.hex()
    extra = {"origin": PROTOCOL, PROTOCOL: tt}
    cid = client_id(msg.seq_no, msg.msg_data)
    if audio:
        extra["mime"] = "audio/teamtalk"
        return Outgoing(conv, ContentType.VOICE, "[voice]", cid, data=msg.msg_data, extra=extra)
    return Outgoing(conv, ContentType.TEXT, msg.msg_data.decode("utf-8", "replace"), cid, extra=extra)


def _within_rate(ch: TeamTalkChannel) -> bool:
    """At most ``max_msgs_per_second`` 3/1 per connection in each second (§1.4)."""
    second = int(ch.conn.last_rx)
    if second != ch.window:
        ch.window, ch.sent_in_window = second, 0
    ch.sent_in_window += 1
    return ch.sent_in_window <= ch.settings.max_msgs_per_second


@on(c.MSG_DATA_ACK, c.MsgDataAck.decode)
async def _delivered(ch: TeamTalkChannel, frame: c.Frame, ack: c.MsgDataAck) -> None:
    """3/2 from a recipient: the delivered cursor moves to the matching push; anything else is
    ignored (group deliveries are not tracked, §4.6)."""
    entry = _acked_push(ch, ack)
    if entry is not None:
        await ch.messages.mark_delivered(ch.me, entry[0], entry[1])


@COMMANDS.now(key(c.MSG_DATA_ACK))
def _delivered_now(ch: TeamTalkChannel, frame: c.Frame, ack: c.MsgDataAck) -> None:
    """:func:`_delivered` without a coroutine: one 3/2 arrives for every delivered 1:1 message."""
    entry = _acked_push(ch, ack)
    if entry is not None:
        ch.delivered(entry[0], entry[1])


def _acked_push(ch: TeamTalkChannel, ack: c.MsgDataAck) -> tuple[ConvId, int] | None:
    """The (conversation, seq) of the push a 3/2 acknowledges, taken off the outstanding ones; None when
    it names none, or came after the wait."""
    entry = ch.outstanding.pop((ack.seq_no, wire_id(ack.from_id) or 0), None)
    if entry is None or ch.conn.last_rx - entry[2] >= DELIVERY_WAIT:
        return None
    return entry[0], entry[1]


@on(c.MSG_READ_ACK, c.IdBody.decode)
async def _read(ch: TeamTalkChannel, frame: c.Frame, req: c.IdBody) -> None:
    """3/3: the whole 1:1 conversation is read (§4.5)."""
    peer = wire_id(req.id)
    if peer is not None:
        await mark_all_read(ch, ConvId.peer(ch.me, peer))


async def mark_all_read(ch: TeamTalkChannel, conv: ConvId) -> None:
    state = await ch.messages.state(ch.me, conv)
    if state.last_seq > state.read_seq:
        await ch.messages.mark_read(ch.live_session, conv, state.last_seq)


@on(c.TIME_REQ)
async def _time(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> bytes:
    return ch.reply(c.TIME_RES, frame, c.U32Body(ch.core.clock.now_ms() // 1000))


@on(c.UNREAD_CNT_REQ)
async def _unread_counts(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> bytes:
    """3/8: peers with unread 1:1 messages (§4.5)."""
    pairs = [
        c.IdValue(str(s.conv.peer_of(ch.me)), s.unread)
        for s in await ch.messages.conversations(ch.me)
        if s.conv.kind is ConvKind.PEER and s.unread > 0
    ]
    return ch.reply(c.UNREAD_CNT_RES, frame, c.Pairs(pairs))


async def unread(ch: TeamTalkChannel, conv: ConvId, limit: int) -> list[Message]:
    """The newest unread messages of ``conv``, newest first, at most ``limit``; recalled and deleted
    ones left out (§4.5). Fetching does not mark them read."""
    state = await ch.messages.state(ch.me, conv)
    if state.last_seq <= state.read_seq:
        return []
    newest = await ch.messages.history(ch.live_session, conv, 0, min(limit, state.last_seq - state.read_seq))
    return [
        m
        for m in newest
        if m.seq > state.read_seq
        and m.sender != ch.me
        and m.status in (MsgStatus.NORMAL, MsgStatus.EDITED)
        and FILE_ATTR not in m.extra
    ]


@on(c.UNREAD_MSG_REQ, c.IdBody.decode)
async def _unread_messages(ch: TeamTalkChannel, frame: c.Frame, req: c.IdBody) -> bytes:
    """3/14: the newest unread messages from one peer, with the sender's names (§3.3)."""
    peer = wire_id(req.id)
    account = await ch.core.accounts.get(peer) if peer is not None else None
    messages: list[c.UnreadMsg] = []
    if peer is not None and account is not None:
        for m in await unread(ch, ConvId.peer(ch.me, peer), ch.settings.unread_fetch_limit):
            wire = to_wire(m)
            messages.append(
                c.UnreadMsg(
                    wire.from_id,
                    wire.create_time,
                    wire.msg_type,
                    wire.msg_data,
                    account.username,
                    account.nickname,
                    account.avatar,
                )
            )
    return ch.reply(c.UNREAD_MSG_RES, frame, c.UnreadMsgRes(req.id, messages))


# == module 4: switch service =============================================================================
@on(c.P2P_CMD, c.P2PCmd.decode)
async def _p2p(ch: TeamTalkChannel, frame: c.Frame, req: c.P2PCmd) -> None:
    """4/1, relayed to the recipient's and the sender's other TeamTalk sessions only, never stored
    (§3.4); the sender field is checked like 3/1's."""
    if req.from_id != str(ch.me):
        log.warning("teamtalk %s: 4/1 from_id %r is not uid %d, closing", ch.conn.peer, req.from_id, ch.me)
        raise Refused(None, close=True)
    peer = wire_id(req.to_id)
    if peer is None or peer == ch.me:
        return
    now = ch.core.clock.now_ms()
    signal = SignalEvent(ch.me, peer, P2P_SIGNAL, now, data=req.cmd, extra={"seq_no": req.seq_no})
    await ch.messages.signal(ch.live_session, signal, ch.policy, mirror=True)


# == module 7: other ======================================================================================
@on(c.SERVICE_SETTING, c.ServiceSetting.decode)
async def _service_setting(ch: TeamTalkChannel, frame: c.Frame, req: c.ServiceSetting) -> None:
    """7/61 key 2: what this session shows (offline = invisible); the watchers hear a change of the
    user's presence over all its sessions, and every TeamTalk session of the user, this one included,
    gets 2/5 with the new status and the request's reserved (§3.7). Other keys and a value equal to
    this session's status are ignored."""
    if req.key != 2 or req.value not in PRESENCE_OF or req.value == ch.status:
        return
    ch.status = req.value
    session = ch.live_session
    await ch.core.accounts.set_presence(session, PRESENCE_OF[req.value])
    ch.write(c.STATUS_NOTIFY, frame.reserved, c.IdStatus(str(ch.me), req.value).encode())
    now = ch.core.clock.now_ms()
    extra = {"status": req.value, "reserved": frame.reserved}
    await ch.messages.signal(session, SignalEvent(ch.me, ch.me, STATUS_SIGNAL, now, extra=extra), mirror=True)


@on(c.CLIENT_DB_QUERY, states=State.ANY)
async def _db_query(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> None:
    """7/53, a raw database query in the original: never executed (§8.2, §9 #7)."""
    log.info("teamtalk %s: 7/53 ignored", ch.conn.peer)
