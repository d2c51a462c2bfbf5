"""XMMEP adapter: messages ⇄ core calls and core events (xmmep.md §1, §3, §5, §8).

One :class:`XmmepChannel` per TCP connection or UDP peer address, on the shared :class:`Channel`. The
transport hands it bytes (TCP: ``feed``) or whole datagrams (UDP: ``feed_message``); every message goes
through the command table. What differs between the two transports is only what the page says: the
session token and the 170 retransmission exist on UDP, a sign-out keeps a TCP connection but forgets a
UDP peer.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import os
import posixpath
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.content import fallback_text
from polyim.core.errors import Code, CoreError
from polyim.core.events import (
    Event,
    FriendChange,
    FriendEvent,
    KickReason,
    MessageEvent,
    Presence,
    PresenceEvent,
)
from polyim.core.ids import bad_name
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.core.sessions import Session
from polyim.model import Account, AccountUpdate, ContentType, ConvId, ConvKind, DeviceClass, Message
from polyim.protocols.channel import LATER, Channel, Commands, EventTable, RateLimit, Refused, State
from polyim.protocols.xmmep import codec as c
from polyim.protocols.xmmep.codec import Code as X
from polyim.protocols.xmmep.codec import Result as R
from polyim.protocols.xmmep.settings import XmmepSettings
from polyim.transport.connection import ConnBase
from polyim.transport.timers import Timer

log = logging.getLogger(__name__)
#: The one delivery of an activation code (polyim sends no e-mail): an INFO line on its own logger, so
#: an operator routes it (a logging handler that mails it) or keeps it out of a shared log pipeline.
#: The one line polyim logs a secret on, on purpose; README "Logs" documents it.
ACTIVATION_LOG = logging.getLogger("polyim.activation")

DEVICE: Final = "xmmep"
FRIENDS = "Friends"  # the virtual buddy group of edges without one (§9 #16)
PAGE_LIMITS = {X.LOGIN_RES2: 60, X.LOGIN_RES3: 30, X.LOGIN_RES4: 90, X.LOGIN_RES5: 90, X.LOGIN_RES6: 10}
SEARCH_PAGE = 10
SEARCH_MAX = 50
OFFLINE_MAX = 1000
QUEUE_MAX: Final = 1000
RESENDS: Final = (2.0, 6.0)  # a 170 to a UDP ``ack`` client is sent at t, t + 2 s and t + 6 s (§1.4)
FILE_OFFER_TTL = 300.0
FILE_OFFERS_MAX = 20
REFUSALS_MAX: Final = 20  # more in the window ends the session (§2.8)
REFUSALS_WINDOW: Final = 60.0
REGISTRATIONS_PER_HOUR = 5

# Core refusal → XMMEP result (§4.1).
ERRORS: dict[Code, tuple[int, str | None]] = {
    Code.BAD_REQUEST: (R.PARAM_ERROR, None),
    Code.EMPTY: (R.PARAM_ERROR, None),
    Code.TOO_LARGE: (R.PARAM_ERROR, None),
    Code.USER_NOT_FOUND: (R.NO_SUCH_USER, None),
    Code.GROUP_NOT_FOUND: (R.NO_SUCH_ROOM, None),
    Code.NOT_MEMBER: (R.NOT_ALLOWED, None),
    Code.NOT_PARTICIPANT: (R.NOT_ALLOWED, None),
    Code.NO_PRIVILEGE: (R.NOT_ALLOWED, None),
    Code.NOT_OWNER: (R.NOT_ALLOWED, None),
    Code.OWNER_CANNOT_QUIT: (R.NOT_ALLOWED, None),
    Code.FORBIDDEN: (R.NOT_ALLOWED, None),
    Code.NOT_FRIEND: (R.NOT_ALLOWED, None),
    Code.MUTED: (R.NOT_ALLOWED, None),
    Code.IDENTITY_MISMATCH: (R.NOT_ALLOWED, None),
    Code.BLOCKED: (R.BLOCKED, None),
    Code.GROUP_FULL: (R.NOT_ALLOWED, None),
    Code.NAME_TAKEN: (R.USER_EXISTS, None),
    Code.AUTH_FAILED: (R.PASSWD_MISMATCH, "wrong password"),
    Code.DISABLED: (R.NOT_ALLOWED, None),
    Code.THROTTLED: (R.SERVER_BUSY, None),
    Code.LIMIT: (R.SERVER_BUSY, None),
    Code.INTERNAL: (R.ERROR, None),
}

# A client's presence value ⇄ the core's (§4.2); 3 = offline / invisible.
TO_PRESENCE = {0: Presence.ONLINE, 1: Presence.BUSY, 2: Presence.AWAY, 3: Presence.OFFLINE}
FROM_PRESENCE = {p: v for v, p in TO_PRESENCE.items()}

# Replies that carry a refusal in their own form (§2.8 "malformed body").
_OWN_REPLY = {X.REGISTER_REQ, X.ACTIVATE_REQ, X.GET_LOGIN_INFO_REQ, X.LOGIN_REQ, X.GET_BUDDY_INFO_REQ}
_OWN_REPLY |= {X.ADD_BUDDY_REQ}
# Codes a client may send but the server never answers (§2.8): server-side and peer-to-peer codes.
_IGNORED = {101, 103, 104, 111, 113, 114, 115, 116, 117, 118, 127, 130, 131, 133, 136, 151, 152, 171}
_IGNORED |= {181, 183, 191, 196, 900, 800, 801, 805, 811, 812}


class Shared:
    """What the channels of one node's XMMEP listeners share: settings, the bound ports (for 111) and
    the address-keyed counters that outlive a connection (registrations per hour, §8.5)."""

    def __init__(self, settings: XmmepSettings, advertise: str) -> None:
        self.settings = settings
        self.advertise = advertise
        self.ports: dict[str, int] = {}
        self.registrations: dict[str, deque[float]] = {}
        self.offers: dict[tuple[str, int], Offer] = {}  # pending file offers by (offerer, transfer_seq)
        self.key = os.urandom(32)

    def may_register(self, addr: str, now: float) -> bool:
        times = self.registrations.setdefault(addr, deque())
        while times and now - times[0] > 3600:
            times.popleft()
        if len(times) >= REGISTRATIONS_PER_HOUR:
            return False
        times.append(now)
        return True


@dataclass
class Offer:
    """A pending file offer (§3.9): A's 180 to B, kept 300 s."""

    sender: str
    receiver: str
    transfer_seq: int
    timer: Timer | None = None


@dataclass
class Unconfirmed:
    """A 170 sent to an ``ack`` client and not yet confirmed by 172."""

    conv: ConvId
    seq: int
    timers: list[Timer] = field(default_factory=list)

    def __init__(self, conv: ConvId, seq: int, timers: list[Timer] | None = None) -> None:
        self.conv = conv  # written out: compiled, where the generated one runs interpreted (one per 170)
        self.seq = seq
        self.timers = [] if timers is None else timers


COMMANDS: Final = Commands()


def _request(code: int) -> Callable[[bytes], c.Message]:
    return lambda body: c.decode_body(c.Frame(code, body))


Handler = Callable[["XmmepChannel", c.Message], Awaitable[None]]


def command(code: int, states: State = State.ONLINE, actor: bool = True) -> Callable[[Handler], Handler]:
    """Register a handler of ``code``; after login its first field must name the session's user (§8.2)."""

    def register(fn: Handler) -> Handler:
        async def handler(ch: XmmepChannel, frame: c.Frame, msg: c.Message) -> None:
            if actor and _names_another(ch, msg):
                if code == X.KEEP_ALIVE:
                    return
                log.warning("xmmep %s: %d names %r, not %r", ch.conn.peer, code, msg.fields[0], ch.username)
                raise Refused(R.NOT_ALLOWED, "sender is not the logged-in user")
            await fn(ch, msg)

        COMMANDS.on(code, _request(code), states)(handler)
        return fn

    return register


def _names_another(ch: XmmepChannel, msg: c.Message) -> bool:
    """Whether a request after login names another user than the session's in its first field."""
    return ch.session is not None and bool(msg.fields) and msg.fields[0] != ch.username


NowHandler = Callable[["XmmepChannel", c.Frame, c.Message], object]


def now(code: int) -> Callable[[NowHandler], NowHandler]:
    """Give ``code`` a :meth:`Commands.now` handler. A request that names another user goes on to the
    command's coroutine handler, which refuses it (:func:`command`): the check is made here once for
    every now-handler, as there for every handler."""

    def register(fn: NowHandler) -> NowHandler:
        def handler(ch: XmmepChannel, frame: c.Frame, msg: c.Message) -> object:
            return LATER if _names_another(ch, msg) else fn(ch, frame, msg)

        COMMANDS.now(code)(handler)
        return fn

    return register


class XmmepChannel(Channel):
    protocol = "xmmep"
    commands = COMMANDS
    errors = ERRORS
    decode_errors = (c.XmmepDecodeError,)

    def __init__(self, core: Core, conn: ConnBase, shared: Shared, *, udp: bool) -> None:
        super().__init__(core, conn)
        self.shared = shared
        self.settings = shared.settings
        self.udp = udp
        self.decoder = c.Decoder()
        self.rate = RateLimit(self.settings.rate_limit, self.settings.rate_burst, close_after=float("inf"))
        self.policy = SendPolicy(c.MAX_BODY, self.settings.require_friend)
        self.username = ""
        self.caps: frozenset[str] = frozenset()
        self.token = ""
        self.login_time = 0
        self.ready = False
        self.catching_up = False
        self.queued: deque[Event] = deque(maxlen=QUEUE_MAX)
        self.written: dict[str, int] = {}  # conv key → highest seq written (catch-up vs live)
        self.unconfirmed: dict[int, Unconfirmed] = {}
        self.refusals: deque[float] = deque()
        self.limited_at = -1.0
        self.ready_timer: Timer | None = None
        self.announced: set[int] = set()  # buddies this session was told of with 130 (later: 136)
        self.pending_adds: list[str] = []  # users whose 152 awaits this user's 153, oldest first
        self.shown = Presence.ONLINE  # what the session shows from READY on (112 login_status, 135)
        self.last_login = 0  # ms of the user's login before this session's (113's last_login_time)

    @property
    def ack(self) -> bool:
        return "ack" in self.caps

    @property
    def addr(self) -> tuple[str, int]:
        host, _, port = self.conn.peer.rpartition(":")
        return host.strip("[]"), int(port) if port.isdigit() else 0

    # -- bytes in -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """TCP: a bad header closes the connection (§2.8)."""
        try:
            frames = self.decoder.feed(data)
        except c.XmmepDecodeError as exc:
            for frame in exc.frames:
                self._accept(frame)
            self.count_error("bad_frame")
            log.info("xmmep %s: %s, closing", self.conn.peer, exc)
            self.conn.close()
            return
        for frame in frames:
            self._accept(frame)

    def feed_message(self, data: bytes) -> None:
        """UDP: one datagram, one message; a bad one is dropped (§2.7, §2.8)."""
        try:
            frame = c.decode_datagram(data)
        except c.XmmepDecodeError as exc:
            self.count_error("bad_frame")
            log.info("xmmep %s: %s, dropped", self.conn.peer, exc)
            return
        if self.token and frame.code != X.LOGIN_REQ and not self._carries_token(frame.body):
            log.warning("xmmep %s: %d without the session token, dropped", self.conn.peer, frame.code)
            return
        self._accept(frame)

    def _carries_token(self, body: bytes) -> bool:
        expected = b"tok=" + self.token.encode()
        return any(hmac.compare_digest(t, expected) for t in body.split(b"\x01") if t.startswith(b"tok="))

    def _accept(self, frame: c.Frame) -> None:
        """Unknown, server-side and peer-to-peer codes are ignored (§2.8); past the rate limit a message
        is dropped, with one 900 result 20 per second at most."""
        if frame.code not in COMMANDS:
            log.debug("xmmep %s: code %d ignored", self.conn.peer, frame.code)
            return
        if self.session is not None and self.rate.take(self.conn.last_rx) is not None:
            if self.conn.last_rx - self.limited_at >= 1.0:
                self.limited_at = self.conn.last_rx
                self.error(R.RATE_LIMITED, frame.code, "rate limit")
            return
        self.submit_frame(frame.code, frame, frame.body)

    # -- the command table's hooks ----------------------------------------------------------------
    def wrong_state(self, cmd: int) -> Refused:
        return Refused(R.EXPIRED_SESSION, "log in first")

    def unknown(self, cmd: int) -> Refused:
        return Refused(None)

    def undecodable(self, exc: Exception) -> Refused:
        return Refused(R.PARAM_ERROR, str(exc))

    def refuse(self, frame: c.Frame, request: c.Message | None, exc: Refused) -> None:
        assert exc.code is not None
        code, result = frame.code, exc.code
        if self.session is None and code not in _OWN_REPLY:
            if code == X.KEEP_ALIVE and len(frame.body) + c.HEADER_SIZE < 10:
                return  # no answer larger than its request (§3.11)
            self.write(X.SESSION_REPORT, [R.EXPIRED_SESSION])
            return
        self._count_refusal()
        if code in (X.REGISTER_REQ, X.ACTIVATE_REQ, X.GET_LOGIN_INFO_REQ, X.LOGIN_REQ):
            self.write(code + 1, [result])
        elif code == X.GET_BUDDY_INFO_REQ:
            self.write(X.GET_BUDDY_INFO_RES, [self.username, result])
        elif code == X.ADD_BUDDY_REQ:
            name = request.buddy("buddy").buddy_name if request is not None else ""
            room = request.num("is_room_member") if request is not None else 0
            self.write(X.ADD_BUDDY_RES, [self.username, 0, c.OnlineBuddy(name, status=3), room])
        elif code == X.TXT_MSG and self.ack and request is not None:
            self.conn.write(_res171(request, result, 0, self.core.clock.now_ms() // 1000))
        elif code != X.KEEP_ALIVE:
            self.error(result, code, exc.text)

    def _count_refusal(self) -> None:
        """More than 20 refused or malformed messages within 60 s end the session (§2.8)."""
        now = self.conn.last_rx
        self.refusals.append(now)
        while self.refusals and now - self.refusals[0] > REFUSALS_WINDOW:
            self.refusals.popleft()
        if len(self.refusals) > REFUSALS_MAX:
            log.info("xmmep %s: too many refused messages, closing", self.conn.peer)
            self.conn.close()

    def answer(self, frame: c.Frame, reply: Any) -> None:
        """Handlers write their own replies."""

    def committed(self, frame: c.Frame, request: c.Message, result: SendResult) -> None:
        if self.ack:
            m = result.message
            self.conn.write(_res171(request, R.SUCCESS, m.msg_id, m.ts_ms // 1000))

    def commit_failed(self, frame: c.Frame, request: c.Message) -> None:
        self.refuse(frame, request, Refused(R.DATABASE_ERROR, "store unavailable"))

    # -- bytes out ----------------------------------------------------------------------------------
    def write(self, code: int, values: list[c.Value], ext: list[tuple[str, str]] | None = None) -> None:
        self.conn.write(c.encode(code, values, ext))

    def error(self, result: int, refused: int, detail: str) -> None:
        """900 MSG_ERROR_REPORT (§3.13)."""
        self.write(X.ERROR_REPORT, [result, refused, c.truncate_utf8(detail.encode(), 200).decode()])

    # -- session life -------------------------------------------------------------------------------
    def send_kick(self, reason: KickReason) -> None:
        """133 16 to a session replaced by a newer login, 133 15 when the account was disabled (§3.4)."""
        result = R.EXPIRED_SESSION if reason is KickReason.DISABLED else R.DUPLICATE_SESSION
        self.write(X.SESSION_REPORT, [result])
        self._stop_timers()

    def timed_out(self, logged_in: bool) -> None:
        """Idle or pre-login: closed (UDP: forgotten) without a message (§1.4)."""
        self._stop_timers()
        super().timed_out(logged_in)

    def connection_lost(self) -> None:
        self._stop_timers()
        super().connection_lost()

    def _stop_timers(self) -> None:
        for pending in self.unconfirmed.values():
            for timer in pending.timers:
                timer.cancel()
        self.unconfirmed.clear()
        if self.ready_timer is not None:
            self.ready_timer.cancel()
            self.ready_timer = None

    async def sign_out(self) -> None:
        """135 status 3: the session ends and the peer is NEW again (§3.4)."""
        session, self.session = self.session, None
        self._stop_timers()
        self.username, self.token, self.ready = "", "", False
        if session is not None:
            await self.core.accounts.detach(session)
        # Back to NEW: datagrams already queued behind the 135 get 133 15, and a peer that does not log
        # in again is dropped at its login deadline, as any NEW peer.
        self.conn.logged_in = False

    def session_token(self, session: Session) -> str:
        """First 128 bits of HMAC-SHA256 over uid, session, address and login time (§8.3)."""
        text = f"{session.uid}|{session.sid}|{self.conn.peer}|{self.login_time}".encode()
        return hmac.new(self.shared.key, text, hashlib.sha256).hexdigest()[:32]

    # -- events out ---------------------------------------------------------------------------------
    def _event(self, event: Event) -> None:
        """Events are rendered in order with the peer's messages (they need names from the store);
        before READY only the 170s are dropped (the catch-up covers them) and the rest waits (§1.3)."""
        if not self.ready or self.catching_up:
            if self.catching_up or not isinstance(event, MessageEvent):
                self.queued.append(event)
            return
        if isinstance(event, MessageEvent) and self.idle and self.session is not None:
            self._deliver_live(event.message)  # a chat's 170 without a coroutine (see render)
            return
        self.submit(lambda: self.render(event))

    async def render(self, event: Event) -> None:
        if self.session is None:
            return
        if isinstance(event, MessageEvent):
            await self.deliver_message(event.message, live=True)
        elif isinstance(event, PresenceEvent):
            await self._presence(event)
        elif isinstance(event, FriendEvent):
            await self._friend(event)

    async def deliver_message(self, message: Message, *, live: bool) -> None:
        """One stored message as 170 (split with ``part=i/n`` when it does not fit, §2.6)."""
        if self._wanted(message, live):
            await self._deliver_named(message)

    def _deliver_live(self, message: Message) -> None:
        """:meth:`deliver_message` of a live message, at once when the names it shows are cached (every
        message of a chat); else the names are loaded in order with the connection's other work."""
        if not self._wanted(message, live=True):
            return
        names = self._cached_names(message)
        if names is None:
            self.submit(lambda: self._deliver_named(message))
        else:
            self._write_170(message, names[0], names[1])

    def _wanted(self, message: Message, live: bool) -> bool:
        """Whether this session is shown ``message`` (a 1:1 or group message not shown yet, not its own
        unless it syncs); the message counts as shown from here."""
        kind, key = message.conv.kind, message.conv.key
        if kind is not ConvKind.PEER and kind is not ConvKind.GROUP:
            return False
        if live and message.seq <= self.written.get(key, 0):
            return False
        self.written[key] = max(self.written.get(key, 0), message.seq)
        return message.sender != self.me or "sync" in self.caps

    def _cached_names(self, message: Message) -> tuple[str, str] | None:
        """The sender's and receiver's names (a user's, or the group's) from the caches, None where one
        is not cached."""
        sender = self.core.accounts.cached(message.sender)
        if sender is None:
            return None
        if message.conv.kind is ConvKind.PEER:
            peer = self.core.accounts.cached(message.recipient)
            return None if peer is None else (sender.username, peer.username)
        group = self.core.groups.cached(message.conv.a)
        return None if group is None else (sender.username, group.name)

    async def _deliver_named(self, message: Message) -> None:
        names = self._cached_names(message)
        if names is None:
            sender = await self.core.accounts.get(message.sender)
            if message.conv.kind is ConvKind.PEER:
                peer = await self.core.accounts.get(message.recipient)
                receiver = peer.username if peer is not None else ""
            else:
                group = await self.core.groups.find(message.conv.a)
                receiver = group.name if group is not None else ""
            names = (sender.username if sender else "", receiver)
        self._write_170(message, names[0], names[1])

    def _write_170(self, message: Message, sender: str, receiver: str) -> None:
        room = 1 if message.conv.kind is ConvKind.GROUP else 0
        mid = message.msg_id if self.ack else None
        parts = split_170(sender, receiver, message.ts_ms // 1000, fallback_text(message), room, mid)
        for part in parts:
            self.conn.write(part)
        if self.ack:
            self._expect_confirmation(message, parts)
        else:
            self.delivered(message.conv, message.seq)

    def _expect_confirmation(self, message: Message, sent: list[bytes]) -> None:
        """Over UDP an unconfirmed 170 goes again at t + 2 s and t + 6 s, then never (§1.5): the
        datagrams that were sent, every part of a split one."""
        pending = Unconfirmed(message.conv, message.seq)
        self.unconfirmed[message.msg_id] = pending
        if len(self.unconfirmed) > QUEUE_MAX:  # a client that never confirms: forget the oldest
            for timer in self.unconfirmed.pop(next(iter(self.unconfirmed))).timers:
                timer.cancel()
        if not self.udp:
            return
        for delay in RESENDS:
            pending.timers.append(self.conn.call_later(delay, lambda: self._resend(message.msg_id, sent)))

    def _resend(self, msg_id: int, sent: list[bytes]) -> None:
        if msg_id in self.unconfirmed:
            for part in sent:
                self.conn.write(part)

    async def _presence(self, event: PresenceEvent) -> None:
        if not event.friend:
            return  # XMMEP shows its buddies' presence only
        account = await self.core.accounts.get(event.uid)
        if account is None:
            return
        if event.presence is Presence.OFFLINE:
            self.announced.discard(event.uid)
            self.write(X.STATUS_CHANGED_FWD, [self.username, account.username, 3])
            return
        if event.uid in self.announced:
            self.write(X.STATUS_CHANGED_FWD, [self.username, account.username, FROM_PRESENCE[event.presence]])
            return
        self.announced.add(event.uid)
        buddy = await online_buddy(self, account, event.presence)
        self.write(X.BUDDY_LOGIN, [self.username, buddy])

    async def _friend(self, event: FriendEvent) -> None:
        """Someone added this user (any protocol): 152 with their OnlineBuddy (§3.6). Not when this user
        already has them (the add answers this user's own: nothing is left to decide)."""
        if event.peer != self.me or event.uid == self.me:
            return
        if event.change not in (FriendChange.ADDED, FriendChange.REQUESTED):
            return
        if await self.core.relations.is_friend(self.me, event.uid):
            return
        account = await self.core.accounts.get(event.uid)
        if account is not None:
            buddy = await online_buddy(self, account, self.core.accounts.presence(event.uid), mine=False)
            self.write(X.BUDDIED, [account.username, buddy])
            self.announced.add(event.uid)  # its status travelled in the 152
            self.pending_adds.append(account.username)

    # Filled below the class: mypyc compiles no class-body table of the class's own functions.
    events: ClassVar[EventTable] = {}


XmmepChannel.events.update(
    {
        MessageEvent: XmmepChannel._event,
        PresenceEvent: XmmepChannel._event,
        FriendEvent: XmmepChannel._event,
    }
)


def _res171(request: c.Message, result: int, msg_id: int, server_time: int) -> bytes:
    """The 171 answering the 170 ``request``."""
    return c.encode_txt_msg_res(
        request.text("sender"),
        result,
        request.text("receiver"),
        request.num("is_room_msg"),
        request.num("send_time"),
        request.extension("cid") or "",
        msg_id,
        server_time,
    )


def split_170(
    sender: str, receiver: str, send_time: int, text: str, room: int, mid: int | None
) -> list[bytes]:
    """A 170 (``mid`` its extension field, when given) as one message, or, when it exceeds 1450 bytes,
    the fewest parts cut at UTF-8 boundaries, each a whole 170 with ``part=i/n`` (§2.6)."""
    whole = c.encode_txt_msg(sender, receiver, send_time, text, room, mid)
    if len(whole) <= c.MAX_MESSAGE:
        return [whole]
    content = c.encode_text(text)
    overhead = len(whole) - len(content) + len(b"\x01part=999/999")
    room_left = c.MAX_MESSAGE - overhead
    pieces: list[bytes] = []
    while content:
        piece = c.truncate_utf8(content, room_left)
        pieces.append(piece)
        content = content[len(piece) :]
    n = len(pieces)
    head: list[c.Value] = [sender, receiver, send_time]
    ext = [] if mid is None else [("mid", str(mid))]
    return [
        c.encode(X.TXT_MSG, [*head, piece.decode(), room], [*ext, ("part", f"{i}/{n}")])
        for i, piece in enumerate(pieces, 1)
    ]


async def online_buddy(
    ch: XmmepChannel, account: Account, presence: Presence, mine: bool = True
) -> c.OnlineBuddy:
    """``account`` as this channel's user sees it: the buddy group and remark of the user's edge to it
    (``mine``), else its nickname; ip/port always empty (§8.4)."""
    group, remark = "", ""
    if mine:
        for friend in await ch.core.relations.friends(ch.me):
            if friend.peer == account.uid:
                group, remark = friend.buddy_group or FRIENDS, friend.remark
    display = remark or account.nickname or account.username
    status = FROM_PRESENCE[presence]
    return c.OnlineBuddy(account.username, group, display, account.signature, account.avatar, "", 0, status)


def user_info(account: Account, *, own: bool, last_login_ms: int | None = None) -> c.UserInfo:
    """UserInfo in the seed's order; e-mail only in the user's own record (§8.4). ``last_login_ms``: the
    login before the current one, for the user's own 113."""
    last = account.last_login_ms if last_login_ms is None else last_login_ms
    return c.UserInfo(
        account.username,
        account.nickname,
        account.signature,
        account.email if own else "",
        account.avatar,
        account.birthday,
        account.location,
        last // 1000,
        account.gender,
    )


def birthdate(text: str) -> int:
    """100's free-text birthdate: ``YYYY-MM-DD``, ``YYYYMMDD`` or decimal seconds, else 0 (§3.2)."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            day = datetime.datetime.strptime(text, pattern).replace(tzinfo=datetime.UTC)
        except ValueError:
            continue
        return int(day.timestamp())
    return int(text) if text.lstrip("-").isdigit() and len(text) <= 20 else 0


def pages(code: int, items: list[Any], limit: int) -> list[bytes]:
    """A list reply in packets of at most ``limit`` items that fit 1450 bytes, ``seq_num`` from 1; at
    least one packet (§2.6)."""
    out: list[bytes] = []
    seq, batch = 1, list[Any]()
    for item in [*items, None]:
        if item is not None:
            trial = [*batch, item]
            if len(trial) <= limit and len(c.encode(code, [seq, len(trial), trial])) <= c.MAX_MESSAGE:
                batch = trial
                continue
        if batch or (item is None and not out):
            out.append(c.encode(code, [seq, len(batch), batch]))
            seq += 1
        batch = [item] if item is not None else []
    return out


# == pre-login ==============================================================================================
@command(X.REGISTER_REQ, State.ANY, actor=False)
async def _register(ch: XmmepChannel, msg: c.Message) -> None:
    """100 → 101 (§3.2): the seed's checks, then the account; activation follows the [accounts] keys."""
    if not ch.core.settings.allow_register:
        raise Refused(R.NOT_ALLOWED, "registration disabled")
    name, password, email = msg.text("user_name"), msg.text("password"), msg.text("email")
    if not 3 <= len(name) <= 16 or not 8 <= len(password.encode()) <= 64:
        raise Refused(R.PARAM_ERROR, "bad user name or password")
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or len(email.encode()) > 254:
        raise Refused(R.PARAM_ERROR, "bad e-mail")
    if any(bad_name(msg.text(f)) for f in ("nickname", "personal_msg", "location")):
        raise Refused(R.PARAM_ERROR, "control characters in a profile field")
    if not ch.shared.may_register(ch.addr[0], ch.conn.last_rx):
        raise Refused(R.SERVER_BUSY, "too many registrations")
    taken_name = await ch.core.accounts.by_name(name) is not None
    taken_mail = bool(await ch.core.accounts.search(email=email, limit=1))
    if taken_name or taken_mail:
        result = (
            R.USER_MAIL_EXISTS
            if taken_name and taken_mail
            else R.USER_EXISTS
            if taken_name
            else R.MAIL_IN_USE
        )
        raise Refused(result, "taken")
    activated = not ch.core.settings.require_activation
    account = await ch.core.accounts.create(
        name, password, nickname=msg.text("nickname"), email=email, activated=activated
    )
    profile = AccountUpdate(
        signature=msg.text("personal_msg"),
        birthday=birthdate(msg.text("birthdate")),
        location=msg.text("location"),
        gender=1 if msg.flag("gender") else 0,
    )
    await ch.core.accounts.update_profile(account.uid, profile)
    if not activated:
        code = await ch.core.accounts.activation_code(account.uid)
        ACTIVATION_LOG.info("activation code of %r is %s", name, code)
    log.info("xmmep %s: registered %r", ch.conn.peer, name)
    ch.write(X.REGISTER_RES, [R.SUCCESS])


@command(X.ACTIVATE_REQ, State.ANY, actor=False)
async def _activate(ch: XmmepChannel, msg: c.Message) -> None:
    """102 → 103: 0 activated (or already active); 13 for a wrong code and an unknown name alike; 5 when
    throttled (§3.2)."""
    name, code = msg.text("user_name"), msg.text("activate_code")
    if not name or not code:
        raise Refused(R.PARAM_ERROR, "empty field")
    done = await ch.core.accounts.activate(name, code, ch.addr[0])
    ch.write(X.ACTIVATE_RES, [R.SUCCESS if done else R.ACTIVATE_CODE_MISMATCH])


@command(X.GET_LOGIN_INFO_REQ, State.ANY, actor=False)
async def _login_info(ch: XmmepChannel, msg: c.Message) -> None:
    """110 → 111: the same address for every name, no lookup (§3.3): the least-loaded live node's
    listener of this transport (design.md §6), this one's when it is that or nothing is known yet."""
    if not msg.text("user_name"):
        raise Refused(R.PARAM_ERROR, "empty user name")
    kind = "udp" if ch.udp else "tcp"
    host, port = ch.shared.advertise or _listener_host(ch, kind), ch.shared.ports.get(kind, 0)
    other = ch.core.nodes.elsewhere("xmmep", kind)
    if other is not None:
        host, port = other.host or host, other.port
    ch.write(X.GET_LOGIN_INFO_RES, [R.SUCCESS, host, port])


def _listener_host(ch: XmmepChannel, kind: str) -> str:
    configured = ch.settings.udp if kind == "udp" else ch.settings.tcp
    host = configured.rpartition(":")[0].strip("[]")
    return host if host not in ("", "::") else "0.0.0.0"


@command(X.LOGIN_REQ, State.ANY, actor=False)
async def _login(ch: XmmepChannel, msg: c.Message) -> None:
    """112 with the ordered checks of §3.3, then the login sequence 113 … 127."""
    name, password = msg.text("user_name"), msg.text("password")
    if ch.session is not None and name != ch.username:
        raise Refused(R.DUPLICATE_SESSION, "logged in as another user")
    if not name or not password:
        raise Refused(R.PARAM_ERROR, "empty user name or password")
    caps = frozenset((msg.extension("ext") or "").split(","))
    if ch.udp and ch.settings.udp_require_token and "tok" not in caps:
        raise Refused(R.NOT_ALLOWED, "the session token is required")
    account = await _authenticate(ch, name, password)
    presence = TO_PRESENCE.get(msg.num("login_status"), Presence.ONLINE)
    if ch.session is not None:  # a repeated 112: same session, the sequence again (§1.3)
        await send_login_sequence(ch, account)
        return
    session = ch.new_session(account.uid, account.role, DEVICE, DeviceClass.DESKTOP)
    # Observers hear of the login at READY (§1.3); a user already visible elsewhere (a kick's
    # replacement, another device) keeps showing, so nothing changes for them meanwhile.
    visible = ch.core.accounts.presence(account.uid) is not Presence.OFFLINE
    session.presence = presence if visible else Presence.OFFLINE
    ch.shown = presence
    ch.username, ch.caps = account.username, caps
    ch.announced, ch.pending_adds = set(), []
    ch.login_time = ch.core.clock.now_ms()
    ch.last_login = await ch.core.accounts.note_login(account.uid)
    await ch.go_online(session)
    if ch.udp and "tok" in caps:
        ch.token = ch.session_token(session)
    log.info("xmmep %s: %s logged in (%s)", ch.conn.peer, name, "udp" if ch.udp else "tcp")
    await send_login_sequence(ch, account)
    ch.ready_timer = ch.conn.call_later(
        ch.settings.ready_timeout, lambda: ch.submit(lambda: become_ready(ch))
    )


async def _authenticate(ch: XmmepChannel, name: str, password: str) -> Account:
    """Steps 4–7 of §3.3: throttle 5, unknown name or wrong password 12, disabled 17, not activated 14."""
    try:
        return await ch.core.accounts.authenticate(
            Credentials(name, None, password, DEVICE, ch.addr[0]), ch.protocol
        )
    except CoreError as exc:
        if exc.code is Code.DISABLED:
            account = await ch.core.accounts.by_name(name)
            inactive = account is not None and not account.disabled and not account.activated
            raise Refused(R.USER_NOT_ACTIVATED if inactive else R.NOT_ALLOWED, "account not usable") from exc
        if exc.code in (Code.THROTTLED, Code.AUTH_FAILED):
            raise
        raise Refused(R.DATABASE_ERROR, "storage failure") from exc


async def send_login_sequence(ch: XmmepChannel, account: Account) -> None:
    """113, 114 groups, 115 buddies, 116 blacklist, 117 rooms, 118 online buddies, 127 (§5.2)."""
    me = account.uid
    ext = [("tok", ch.token)] if ch.token else []
    ch.write(X.LOGIN_RES1, [R.SUCCESS, user_info(account, own=True, last_login_ms=ch.last_login)], ext)
    friends = await ch.core.relations.friends(me)
    blocked = await ch.core.relations.blocked(me)
    accounts = {a.uid: a for a in await ch.core.accounts.get_many([f.peer for f in friends] + list(blocked))}
    groups = await ch.core.relations.buddy_groups(me)
    if any(not f.buddy_group for f in friends) and FRIENDS not in groups:
        groups.insert(0, FRIENDS)
    buddies: list[c.Buddy] = []
    online: list[c.OnlineBuddy] = []
    for f in friends:
        other = accounts.get(f.peer)
        if other is None or f.peer in blocked:
            continue
        buddies.append(c.Buddy(other.username, f.buddy_group or FRIENDS, f.remark))
        presence = ch.core.accounts.presence(f.peer)
        if presence is not Presence.OFFLINE and me not in await ch.core.relations.blocked(f.peer):
            ch.announced.add(f.peer)
            display = f.remark or other.nickname or other.username
            status = FROM_PRESENCE[presence]
            online.append(
                c.OnlineBuddy(
                    other.username,
                    f.buddy_group or FRIENDS,
                    display,
                    other.signature,
                    other.avatar,
                    "",
                    0,
                    status,
                )
            )
    rooms = [g.name for g in await ch.core.groups.of_user(me)]
    black = [accounts[u].username for u in blocked if u in accounts]
    lists: list[tuple[int, list[Any]]] = [
        (X.LOGIN_RES2, groups),
        (X.LOGIN_RES3, buddies),
        (X.LOGIN_RES4, black),
        (X.LOGIN_RES5, rooms),
        (X.LOGIN_RES6, online),
    ]
    for code, items in lists:
        for packet in pages(code, items, PAGE_LIMITS[code]):
            ch.conn.write(packet)
    ch.write(X.LOGIN_RES_END, [])


@command(X.CLIENT_READY)
async def _ready(ch: XmmepChannel, msg: c.Message) -> None:
    await become_ready(ch)


async def become_ready(ch: XmmepChannel) -> None:
    """READY (§1.3): offline 170s from the cursors (newest 1000, oldest first), then the queued events;
    a second 128 changes nothing."""
    if ch.ready or ch.session is None:
        return
    if ch.ready_timer is not None:
        ch.ready_timer.cancel()
        ch.ready_timer = None
    ch.ready = ch.catching_up = True
    if ch.session.presence is not ch.shown:
        await ch.core.accounts.set_presence(ch.session, ch.shown)
    try:
        for message in await _missed(ch):
            await ch.deliver_message(message, live=False)
    finally:
        ch.catching_up = False
    while ch.queued:
        await ch.render(ch.queued.popleft())


async def _missed(ch: XmmepChannel) -> list[Message]:
    assert ch.session is not None
    missed: list[Message] = []
    for state in await ch.messages.conversations(ch.me):
        if state.conv.kind not in (ConvKind.PEER, ConvKind.GROUP) or state.last_seq <= state.delivered_seq:
            continue
        after = max(state.delivered_seq, state.last_seq - OFFLINE_MAX)
        missed += await ch.messages.since(ch.session, state.conv, after, OFFLINE_MAX)
    missed.sort(key=lambda m: m.msg_id)
    return missed[-OFFLINE_MAX:]


@command(X.KEEP_ALIVE)
async def _keep_alive(ch: XmmepChannel, msg: c.Message) -> None:
    ch.write(X.KEEP_ALIVE, [ch.username])


@command(X.STATUS_CHANGED)
async def _status(ch: XmmepChannel, msg: c.Message) -> None:
    status = msg.num("status")
    if status == 3:
        await ch.sign_out()
        return
    if status not in TO_PRESENCE:
        raise Refused(R.PARAM_ERROR, "bad status")
    assert ch.session is not None
    ch.shown = TO_PRESENCE[status]
    if ch.ready:
        await ch.core.accounts.set_presence(ch.session, ch.shown)


# == chat ===================================================================================================
@command(X.TXT_MSG)
async def _chat(ch: XmmepChannel, msg: c.Message) -> None:
    """170 (§3.8): the receiver by name (a user, or a group when ``is_room_msg``), the core's rules, the
    commit; 171 to ``ack`` clients after the commit."""
    assert ch.session is not None
    receiver, content = msg.text("receiver"), msg.text("content")
    if not receiver or not content:
        raise Refused(R.PARAM_ERROR, "empty receiver or content")
    if msg.flag("is_room_msg"):
        group = await ch.core.groups.by_name(receiver)
        if group is None:
            raise Refused(R.NO_SUCH_ROOM, "no such room")
        conv = ConvId.group(group.gid)
    else:
        peer = await ch.core.accounts.by_name(receiver)
        if peer is None:
            raise Refused(R.NO_SUCH_USER, "no such user")
        conv = ConvId.peer(ch.me, peer.uid)
    result = await ch.messages.send(ch.session, _chat_out(ch, msg, conv), ch.protocol, ch.policy)
    ch.ack_after_commit(result, c.Frame(X.TXT_MSG, b""), msg)


@now(X.TXT_MSG)
def _chat_now(ch: XmmepChannel, frame: c.Frame, msg: c.Message) -> object:
    """:func:`_chat` without a coroutine, for a 170 to a user whose name and account are cached; a
    group's, an empty one and any other go on to the command's handler."""
    receiver = msg.text("receiver")
    if not receiver or not msg.text("content") or msg.flag("is_room_msg"):
        return LATER
    peer = ch.core.accounts.cached_by_name(receiver)
    if peer is None:
        return LATER
    return ch.send_and_ack_now(frame, msg, _chat_out(ch, msg, ConvId.peer(ch.me, peer.uid)), ch.policy)


def _chat_out(ch: XmmepChannel, msg: c.Message, conv: ConvId) -> Outgoing:
    """The 170 for the core. An ``ack`` client's resend is known by its ``cid``, or by the send time,
    the receiver and the text when it gave none."""
    content = msg.text("content")
    cid = msg.extension("cid") or ""
    if ch.ack and not cid:
        digest = hashlib.sha256(content.encode()).hexdigest()
        cid = f"{msg.num('send_time')}:{msg.text('receiver')}:{int(msg.flag('is_room_msg'))}:{digest}"
    return Outgoing(conv, ContentType.TEXT, content, cid, extra={"origin": "xmmep"})


@command(X.TXT_MSG_RECV)
async def _confirmed(ch: XmmepChannel, msg: c.Message) -> None:
    """172: the delivered cursor advances; resends stop (§3.8)."""
    for pending in _confirmed_pushes(ch, msg):
        await ch.messages.mark_delivered(ch.me, pending.conv, pending.seq)


@now(X.TXT_MSG_RECV)
def _confirmed_now(ch: XmmepChannel, frame: c.Frame, msg: c.Message) -> object:
    """:func:`_confirmed` without a coroutine: a 172 arrives for every delivered message."""
    for pending in _confirmed_pushes(ch, msg):
        ch.delivered(pending.conv, pending.seq)
    return None


def _confirmed_pushes(ch: XmmepChannel, msg: c.Message) -> list[Unconfirmed]:
    """The pushes a 172 confirms, taken off the unconfirmed ones with their resend timers cancelled."""
    confirmed = []
    for text in msg.strings("msg_ids"):
        pending = ch.unconfirmed.pop(int(text), None) if text.isdigit() else None
        if pending is not None:
            for timer in pending.timers:
                timer.cancel()
            confirmed.append(pending)
    return confirmed


# == buddies and buddy groups ===============================================================================
@command(X.GROUP_ADDED)
async def _group_added(ch: XmmepChannel, msg: c.Message) -> None:
    await ch.core.relations.add_buddy_group(ch.me, msg.text("new_group"))


@command(X.GROUP_REMOVED)
async def _group_removed(ch: XmmepChannel, msg: c.Message) -> None:
    await ch.core.relations.remove_buddy_group(ch.me, msg.text("group_name"))


@command(X.GROUP_RENAME)
async def _group_renamed(ch: XmmepChannel, msg: c.Message) -> None:
    await ch.core.relations.rename_buddy_group(ch.me, msg.text("group_name"), msg.text("new_name"))


async def _user(ch: XmmepChannel, name: str) -> Account:
    account = await ch.core.accounts.by_name(name) if name else None
    if account is None:
        raise Refused(R.NO_SUCH_USER, "no such user")
    return account


@command(X.ADD_BUDDY_REQ)
async def _add_buddy(ch: XmmepChannel, msg: c.Message) -> None:
    """150 → 151: the edge A→B at once, or B into the room ``group_name`` (§3.6)."""
    buddy = msg.buddy("buddy")
    other = await _user(ch, buddy.buddy_name)
    room = msg.num("is_room_member")
    assert ch.session is not None
    if room:
        group = await ch.core.groups.by_name(buddy.group_name)
        if group is None:
            raise Refused(R.NO_SUCH_ROOM, "no such room")
        await ch.core.groups.add_members(ch.me, group.gid, [other.uid], skip=ch.sid)
    else:
        if other.uid == ch.me:
            raise Refused(R.PARAM_ERROR, "cannot add yourself")
        await ch.core.relations.follow(ch.me, other.uid, buddy.display_name, buddy.group_name, skip=ch.sid)
    shown = await online_buddy(ch, other, ch.core.accounts.presence(other.uid), mine=not room)
    if not room:
        ch.announced.add(other.uid)  # its status travels in the 151: later changes are 136
    ch.write(X.ADD_BUDDY_RES, [ch.username, 1, shown, room])


@command(X.BUDDIED_RES)
async def _buddied_res(ch: XmmepChannel, msg: c.Message) -> None:
    """153: B answers A's add; ``buddy_name`` names A, or B itself for the oldest pending 152 (§3.6)."""
    buddy = msg.online_buddy("buddy")
    name = buddy.buddy_name
    if name == ch.username or not name:
        if not ch.pending_adds:
            raise Refused(R.PARAM_ERROR, "nothing to answer")
        name = ch.pending_adds[0]
    if name in ch.pending_adds:
        ch.pending_adds.remove(name)
    if msg.flag("is_add"):
        other = await _user(ch, name)
        await ch.core.relations.follow(ch.me, other.uid, buddy.display_name, buddy.group_name, skip=ch.sid)


@command(X.BUDDY_REMOVED)
async def _buddy_removed(ch: XmmepChannel, msg: c.Message) -> None:
    other = await _user(ch, msg.text("buddy_name"))
    if msg.flag("is_room_member"):
        group = await ch.core.groups.by_name(msg.text("buddy_group"))
        if group is None:
            raise Refused(R.NO_SUCH_ROOM, "no such room")
        await ch.core.groups.remove_members(ch.me, group.gid, [other.uid], skip=ch.sid)
    elif not await ch.core.relations.unfollow(ch.me, other.uid, skip=ch.sid):
        raise Refused(R.PARAM_ERROR, "not a buddy")


@command(X.BUDDY_MODIFIED)
async def _buddy_modified(ch: XmmepChannel, msg: c.Message) -> None:
    other = await _user(ch, msg.text("buddy_name"))
    if not await ch.core.relations.is_friend(ch.me, other.uid):
        raise Refused(R.PARAM_ERROR, "not a buddy")
    await ch.core.relations.set_attr(ch.me, other.uid, "REMARK", msg.text("display_name"))
    new_group = msg.text("new_group_name")
    await ch.core.relations.move_buddy(ch.me, other.uid, "" if new_group == FRIENDS else new_group)


@command(X.BUDDY_BLOCKED)
async def _blocked(ch: XmmepChannel, msg: c.Message) -> None:
    other = await _user(ch, msg.text("buddy_name"))
    await ch.core.relations.set_blocked(ch.me, other.uid, True)


@command(X.BUDDY_UNBLOCKED)
async def _unblocked(ch: XmmepChannel, msg: c.Message) -> None:
    other = await _user(ch, msg.text("buddy_name"))
    await ch.core.relations.set_blocked(ch.me, other.uid, False)
    group = msg.text("group_name")
    if group:
        if not await ch.core.relations.is_friend(ch.me, other.uid):
            await ch.core.relations.follow(ch.me, other.uid, skip=ch.sid)
        await ch.core.relations.move_buddy(ch.me, other.uid, "" if group == FRIENDS else group)


# == profile, info and search ================================================================================
@command(X.USER_INFO_UPDATED)
async def _profile(ch: XmmepChannel, msg: c.Message) -> None:
    """108: the current password must be given; no renaming, no password change (§3.2)."""
    info = msg.user_info("user_info")
    if info.user_name != ch.username:
        raise Refused(R.NOT_ALLOWED, "user_info names another user")
    try:
        await ch.core.accounts.authenticate(
            Credentials(ch.username, ch.me, msg.text("password"), DEVICE, ch.addr[0])
        )
    except CoreError as exc:
        raise Refused(R.PASSWD_MISMATCH, "wrong password") from exc
    if info.email:
        same = await ch.core.accounts.search(email=info.email, limit=1)
        if same and same[0].uid != ch.me:
            raise Refused(R.MAIL_IN_USE, "e-mail in use")
    change = AccountUpdate(
        nickname=info.nickname,
        email=info.email,
        avatar=info.avatar,
        birthday=info.birthday,
        signature=info.personal_msg,
        location=info.location,
        gender=1 if info.gender else 0,
    )
    await ch.core.accounts.update_profile(ch.me, change)


@command(X.GET_BUDDY_INFO_REQ)
async def _info(ch: XmmepChannel, msg: c.Message) -> None:
    account = await ch.core.accounts.by_name(msg.text("buddy_name")) if msg.text("buddy_name") else None
    if account is None or account.disabled:
        ch.write(X.GET_BUDDY_INFO_RES, [ch.username, R.NO_SUCH_USER])
        return
    ch.write(X.GET_BUDDY_INFO_RES, [ch.username, R.SUCCESS, user_info(account, own=account.uid == ch.me)])


SEARCH_FIELDS = {1: "name", 2: "nickname", 4: "email", 8: "location"}


@command(X.FIND_BUDDIES_REQ)
async def _search(ch: XmmepChannel, msg: c.Message) -> None:
    """195 → 196 …: every packet but the last carries exactly 10 (§2.6, §3.10)."""
    conditions = {SEARCH_FIELDS[k]: text for k, text in msg.pairs("conditions")[:4] if k in SEARCH_FIELDS}
    found = await ch.core.accounts.search(limit=SEARCH_MAX, **conditions) if conditions else []
    infos = [user_info(a, own=False) for a in found]
    for packet in search_pages(infos):
        ch.conn.write(packet)


def search_pages(infos: list[c.UserInfo]) -> list[bytes]:
    out: list[bytes] = []
    for start in range(0, len(infos), SEARCH_PAGE):
        batch = infos[start : start + SEARCH_PAGE]
        out.append(_fit(X.FIND_BUDDIES_RES, len(out) + 1, batch))
    if len(infos) % SEARCH_PAGE == 0:
        out.append(c.encode(X.FIND_BUDDIES_RES, [len(out) + 1, 0, []]))
    return out


def _fit(code: int, seq: int, batch: list[c.UserInfo]) -> bytes:
    """One 196 packet of exactly ``len(batch)`` items: free-text members cut, longest first, until it
    fits (§2.6)."""
    items: list[c.Struct] = list(batch)
    packet = c.encode(code, [seq, len(items), items])
    while len(packet) > c.MAX_MESSAGE:
        info = max(batch, key=lambda i: max(len(i.nickname), len(i.avatar), len(i.personal_msg)))
        longest = max(("nickname", "avatar", "personal_msg"), key=lambda f: len(getattr(info, f).encode()))
        value = getattr(info, longest).encode()
        setattr(info, longest, c.truncate_utf8(value, len(value) // 2).decode())
        packet = c.encode(code, [seq, len(items), items])
    return packet


# == file transfer negotiation ==============================================================================
@command(X.SEND_FILE_REQ)
async def _file_offer(ch: XmmepChannel, msg: c.Message) -> None:
    """180 (§3.9): 181 to B's XMMEP session, else 183 with result 0 at once."""
    name = posixpath.basename(msg.text("file_name").replace("\\", "/"))
    if not 1 <= len(name.encode()) <= 255:
        raise Refused(R.PARAM_ERROR, "bad file name")
    receiver, seq = msg.text("receiver"), msg.num("transfer_seq")
    target = await _xmmep_session(ch, receiver)
    if target is None:
        ch.write(X.SEND_FILE_RES_FWD, [receiver, ch.username, seq, 0, "", 0])
        return
    key, offers = (ch.username, seq), ch.shared.offers
    if key not in offers and sum(1 for k in offers if k[0] == ch.username) >= FILE_OFFERS_MAX:
        raise Refused(R.SERVER_BUSY, "too many pending offers")
    old = offers.pop(key, None)
    if old is not None and old.timer is not None:
        old.timer.cancel()
    offer = Offer(ch.username, receiver, seq)
    offer.timer = ch.conn.call_later(FILE_OFFER_TTL, lambda: _forget(offers, key, offer))
    offers[key] = offer
    ip, port = ch.addr
    fields: list[c.Value] = [ch.username, receiver, name, msg.num("file_size"), seq, msg.num("is_image")]
    target.write(X.SEND_FILE_REQ_FWD, [*fields, ip, port])


def _forget(offers: dict[tuple[str, int], Offer], key: tuple[str, int], offer: Offer) -> None:
    if offers.get(key) is offer:
        del offers[key]


async def _xmmep_session(ch: XmmepChannel, name: str) -> XmmepChannel | None:
    """The XMMEP channel of user ``name`` on this node, unless the user blocked this one."""
    account = await ch.core.accounts.by_name(name)
    if account is None or ch.me in await ch.core.relations.blocked(account.uid):
        return None
    for session in ch.core.sessions.of(account.uid):
        if isinstance(session.sink, XmmepChannel) and session.sink.session is session:
            return session.sink
    return None


@command(X.SEND_FILE_RES, actor=False)
async def _file_answer(ch: XmmepChannel, msg: c.Message) -> None:
    """182 from B (either field order, §3.9) → 183 to A with B's address when accepted."""
    first, second, seq = msg.text("sender"), msg.text("receiver"), msg.num("transfer_seq")
    if ch.username not in (first, second):
        raise Refused(R.NOT_ALLOWED, "sender is not the logged-in user")
    offerer = second if first == ch.username else first
    offers = ch.shared.offers
    offer = offers.get((offerer, seq))
    if offer is None or offer.receiver != ch.username:
        raise Refused(R.TIME_OUT, "no pending file offer")
    del offers[(offerer, seq)]
    if offer.timer is not None:
        offer.timer.cancel()
    target = await _xmmep_session(ch, offerer)
    if target is None:
        return
    accepted = msg.num("result")
    ip, port = ch.addr if accepted else ("", 0)
    target.write(X.SEND_FILE_RES_FWD, [ch.username, offerer, seq, accepted, ip, port])
