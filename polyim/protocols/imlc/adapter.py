"""imlc adapter: frames ⇄ core calls and core events (imlc.md §1–§3, §5, §7, §8).

One :class:`ImlcChannel` per TCP connection, on the shared :class:`Channel`: the codec frames the
stream and applies the header checks of §2.5; every accepted frame goes through the command table.
Conversation sync (SYNC) is ``sync.py``, rooms (ROOM and the room events) ``rooms.py``; both register
on this module's table, and the package imports them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final

from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.content import MEDIA_URL, media_url, summary
from polyim.core.errors import Code, CoreError
from polyim.core.events import (
    ControlEvent,
    KickReason,
    MessageEvent,
    PushEvent,
    ReadEvent,
    SignalEvent,
)
from polyim.core.ids import MAX_ID
from polyim.core.messaging import Outgoing, SendPolicy, SendResult
from polyim.core.push import EXPIRES, payload_of, push_topic
from polyim.model import Account, ContentType, ControlCmd, ConvId, ConvKind, DeviceClass, Message, MsgStatus
from polyim.protocols.channel import LATER, Channel, Commands, EventTable, RateLimit, Refused, State
from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb
from polyim.protocols.imlc.codec import Status as S
from polyim.protocols.imlc.settings import ImlcSettings
from polyim.transport.connection import ConnBase

log = logging.getLogger(__name__)

MAX_FIELD: Final = 4096  # bytes of any other request string (§2.4)
MAX_LOGIN_FAILURES = 3  # per connection (§1.2)
MAX_ERRORS_IN_A_ROW: Final = 10  # §2.5, last row
PULL_DEFAULT: Final = 50  # MP limit (§3.1)
PULL_MAX: Final = 100
MAX_QUEUED_AT_LOGIN: Final = 16  # frames behind a LOGIN in progress (§1.1 AUTHENTICATING)
PUSHES_AT_LOGIN = 1000  # stored pushes written after a LOGIN reply, at most
_ITEM_OVERHEAD: Final = 8  # tag and length of one repeated element in a reply body

_DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# The schema's numbers each message's content is checked against, as constants of the compiled module:
# ``pb.NAME`` is a globals lookup and a module attribute read at each use.
_UNKNOWN: Final = int(pb.MESSAGE_CONTENT_TYPE_UNKNOWN)
_TEXT: Final = int(pb.MESSAGE_CONTENT_TYPE_TEXT)
_TYPING: Final = int(pb.MESSAGE_CONTENT_TYPE_TYPING)
_MENTION_ALL: Final = int(pb.MENTION_TYPE_ALL)
# The statuses that count toward the close after ten in a row (§2.5).
_COUNTED: Final = frozenset({S.BAD_REQUEST, S.UNSUPPORTED_COMMAND, S.UNSUPPORTED_FLAG, S.NOT_LOGGED_IN})

# Core refusal → imlc status (§7).
ERRORS: dict[Code, tuple[int, str | None]] = {
    Code.BAD_REQUEST: (S.BAD_REQUEST, None),
    Code.EMPTY: (S.BAD_REQUEST, None),
    Code.USER_NOT_FOUND: (S.NOT_FOUND, None),
    Code.GROUP_NOT_FOUND: (S.NOT_FOUND, None),
    Code.CONV_NOT_FOUND: (S.NOT_FOUND, None),
    Code.MSG_NOT_FOUND: (S.NOT_FOUND, None),
    Code.ROOM_NOT_FOUND: (S.NOT_FOUND, None),
    Code.NOT_MEMBER: (S.NOT_MEMBER, None),
    Code.NOT_PARTICIPANT: (S.NOT_MEMBER, None),
    Code.NOT_IN_ROOM: (S.NOT_MEMBER, None),
    Code.NO_PRIVILEGE: (S.FORBIDDEN, None),
    Code.NOT_FRIEND: (S.FORBIDDEN, None),
    Code.FORBIDDEN: (S.FORBIDDEN, None),
    Code.ROOM_CLOSED: (S.FORBIDDEN, None),
    Code.BLOCKED: (S.BLOCKED, None),
    Code.MUTED: (S.MUTED, None),
    Code.TOO_LARGE: (S.MESSAGE_TOO_LARGE, None),
    Code.IDENTITY_MISMATCH: (S.IDENTITY_MISMATCH, None),
    Code.AUTH_FAILED: (S.AUTH_FAILED, "bad credentials"),
    Code.DISABLED: (S.ACCOUNT_DISABLED, None),
    Code.THROTTLED: (S.THROTTLED, None),
    Code.ROOM_FULL: (S.ROOM_FULL, None),
    Code.LIMIT: (S.SERVER_BUSY, None),
    Code.INTERNAL: (S.INTERNAL_ERROR, None),
}

DEVICE_CLASSES = {
    pb.DEVICE_CLASS_DESKTOP: DeviceClass.DESKTOP,
    pb.DEVICE_CLASS_MOBILE: DeviceClass.MOBILE,
    pb.DEVICE_CLASS_WEB: DeviceClass.WEB,
}

LOGOUT_REASONS = {
    KickReason.DUPLICATE_LOGIN: (pb.LOGOUT_REASON_REPLACED, "replaced by a newer login"),
    KickReason.OWN_DEVICE: (pb.LOGOUT_REASON_REPLACED, "ended from another device"),
    KickReason.OPERATOR: (pb.LOGOUT_REASON_ADMIN, "ended by an operator"),
    KickReason.DISABLED: (pb.LOGOUT_REASON_DISABLED, "account disabled"),
}

# imlc content type ⇄ core content kind (§8.4); the kinds imlc cannot name travel as UNKNOWN.
TO_CORE: Final[dict[int, ContentType]] = {
    pb.MESSAGE_CONTENT_TYPE_TEXT: ContentType.TEXT,
    pb.MESSAGE_CONTENT_TYPE_SOUND: ContentType.VOICE,
    pb.MESSAGE_CONTENT_TYPE_IMAGE: ContentType.IMAGE,
    pb.MESSAGE_CONTENT_TYPE_LOCATION: ContentType.LOCATION,
    pb.MESSAGE_CONTENT_TYPE_FILE: ContentType.FILE,
    pb.MESSAGE_CONTENT_TYPE_VIDEO: ContentType.VIDEO,
}
FROM_CORE: Final[dict[int, int]] = {int(kind): int(imlc) for imlc, kind in TO_CORE.items()}
CONV_TYPES: Final = {
    ConvKind.PEER: pb.CONVERSATION_TYPE_SINGLE,
    ConvKind.GROUP: pb.CONVERSATION_TYPE_GROUP,
    ConvKind.ROOM: pb.CONVERSATION_TYPE_ROOM,
}


class Later(Refused):
    """A refusal that tells the client when to retry (THROTTLED, SERVER_BUSY: ``Error.retry_after_s``)."""

    def __init__(self, code: int, text: str, retry_after: int, *, close: bool = False) -> None:
        super().__init__(code, text, close=close)
        self.retry_after = retry_after


def decimal(text: str) -> int | None:
    """A canonical decimal polyim id (imlc.md conventions: ``[1-9][0-9]{0,18}``), None for any other
    spelling. String methods, not a regular expression: this runs for every id of every request."""
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit() and text[0] != "0"):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def parser(cmd: c.Command) -> Callable[[bytes], Any]:
    """The command's body parser for the table (a bad body raises ImlcDecodeError → BAD_REQUEST)."""
    return lambda body: c.decode_body(cmd, body)


COMMANDS: Final = Commands()


class ImlcChannel(Channel):
    protocol = "imlc"
    commands = COMMANDS
    errors = ERRORS
    decode_errors = (c.ImlcDecodeError,)

    def __init__(self, core: Core, conn: ConnBase, settings: ImlcSettings) -> None:
        super().__init__(core, conn)
        self.settings = settings
        self.decoder = c.Decoder(max_body=settings.max_body_bytes)
        self.rate = RateLimit(settings.rate_limit, settings.rate_burst, close_after=10.0)
        self.policy = SendPolicy(settings.max_content_bytes, settings.require_friend)
        self.login_failures = 0
        self.errors_in_a_row = 0
        self.logging_in = 0  # LOGIN frames accepted before login and not yet answered
        self.queued_at_login = 0
        self.room_counts: dict[int, int] = {}  # rid → the member count this session last heard

    # -- bytes in -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        try:
            frames = self.decoder.feed(data)
        except c.ImlcDecodeError as exc:
            for frame in exc.frames:
                self._accept(frame)
            self._fatal(exc)
            return
        for frame in frames:
            self._accept(frame)

    def _fatal(self, exc: c.ImlcDecodeError) -> None:
        """A header that ends the stream (§2.5 rows 1–3): its reply if it has one, then close."""
        self.count_error("bad_frame")
        log.info("imlc %s: %s, closing", self.conn.peer, exc)
        if exc.kind is c.ErrorKind.REPLY_CLOSE:
            self._write(exc.command, exc.seq, c.Flow.REPLY, _error(str(exc)), exc.status)
        self.conn.close()

    def _accept(self, frame: c.Frame) -> None:
        """The per-frame checks of §2.5 and the rate limit, then the frame joins the ordered work."""
        try:
            c.check_request(frame)
            body = (
                frame.body
                if frame.command in (c.Command.PING, c.Command.LOGOUT)
                else c.inflate(frame, self.settings.max_body_bytes)
            )
        except c.ImlcDecodeError as exc:
            self._reply(frame, exc.status, _error(str(exc)))
            if exc.kind is not c.ErrorKind.REPLY:
                self.conn.close()
            return
        verdict = self.rate.take(self.conn.last_rx)
        if verdict == "close":
            log.warning("imlc %s: sustained flood, closing", self.conn.peer)
            self.conn.close()
        elif verdict is not None:
            self._reply(frame, S.THROTTLED, _error("rate limit", 1))
        elif self._queue_full():
            log.info(
                "imlc %s: more than %d frames behind a LOGIN, closing", self.conn.peer, MAX_QUEUED_AT_LOGIN
            )
            self.conn.close()
        elif frame.command == c.Command.LOGIN and self.session is None:
            self.logging_in += 1
            self.submit(lambda: self._login_attempt(frame, body))
        else:
            self.submit_frame(frame.command, frame, body)

    def _queue_full(self) -> bool:
        """Frames behind a LOGIN wait for its reply, in order; a 17th closes (§1.1 AUTHENTICATING)."""
        if self.session is not None or not self.logging_in:
            return False
        self.queued_at_login += 1
        return self.queued_at_login > MAX_QUEUED_AT_LOGIN

    async def _login_attempt(self, frame: c.Frame, body: bytes) -> None:
        try:
            await self.dispatch(frame.command, frame, body)
        finally:
            self.logging_in -= 1
            if not self.logging_in:
                self.queued_at_login = 0

    # -- the command table's hooks ----------------------------------------------------------------
    def wrong_state(self, cmd: int) -> Refused:
        return Refused(S.NOT_LOGGED_IN, "log in first")

    def unknown(self, cmd: int) -> Refused:
        return Refused(S.UNSUPPORTED_COMMAND, "command not supported yet")

    def undecodable(self, exc: Exception) -> Refused:
        return Refused(S.BAD_REQUEST, str(exc))

    def refuse(self, frame: c.Frame, request: Any, exc: Refused) -> None:
        """Every refused LOGIN before login counts, whatever refused it; the third reply on a
        connection is its last (§1.2, §3.1 LOGIN)."""
        assert exc.code is not None
        if frame.command == c.Command.LOGIN and self.session is None:
            self.login_failures += 1
            exc.close = exc.close or self.login_failures >= MAX_LOGIN_FAILURES
        self._reply(frame, exc.code, _error(exc.text, getattr(exc, "retry_after", 0)))

    def answer(self, frame: c.Frame, reply: bytes) -> None:
        self._reply(frame, S.OK, reply)

    def committed(self, frame: c.Frame, request: c.Sent, result: SendResult) -> None:
        self.answer(frame, _ack(request.message_id, result.message))

    def commit_failed(self, frame: c.Frame, request: c.Sent) -> None:
        self._reply(frame, S.SERVER_BUSY, _error("store unavailable", 1))

    # -- bytes out ----------------------------------------------------------------------------------
    def _reply(self, frame: c.Frame, status: int, body: bytes) -> None:
        """A reply with the request's seq and command (§2.3); ten refusals in a row close (§2.5)."""
        self._write(frame.command, frame.seq, c.Flow.REPLY, body, status)
        if status in _COUNTED:
            self.errors_in_a_row += 1
        elif status == S.OK:
            self.errors_in_a_row = 0
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
            log.info("imlc %s: %d bad frames in a row, closing", self.conn.peer, self.errors_in_a_row)
            self.conn.close()

    def _write(self, command: int, seq: int, flow: c.Flow, body: bytes, status: int = S.OK) -> None:
        self.conn.write(
            c.encode_frame(command, seq, flow, body, status, max_body=self.settings.max_body_bytes)
        )

    def notify(self, command: c.Command, body: bytes) -> None:
        """A server-initiated frame: flow 2, seq 0 (§2.3)."""
        self._write(command, 0, c.Flow.NOTIFY, body)

    # -- session life -------------------------------------------------------------------------------
    def send_kick(self, reason: KickReason) -> None:
        """The kick is a LOGOUT notify with its reason (§3.1 LOGOUT, §5.5)."""
        code, detail = LOGOUT_REASONS[reason]
        self.notify(c.Command.LOGOUT, c.encode_body(pb.Logout(reason=code, detail=detail)))

    def timed_out(self, logged_in: bool) -> None:
        """Idle sessions hear why (LOGOUT notify IDLE); a pre-login timeout closes without a frame."""
        if logged_in and self.session is not None:
            body = pb.Logout(reason=pb.LOGOUT_REASON_IDLE, detail="no frame within the idle timeout")
            self.notify(c.Command.LOGOUT, c.encode_body(body))
        super().timed_out(logged_in)

    async def replay_pushes(self) -> None:
        """The stored pushes the user has not had, oldest first, after the LOGIN reply (§3.1 MPS); each
        counts as delivered once written (best effort, never sent again)."""
        written = 0
        while written < PUSHES_AT_LOGIN:
            waiting = await self.core.push.waiting(self.live_session, min(100, PUSHES_AT_LOGIN - written))
            for message in waiting:
                self.notify(c.Command.MPS, _stored_push(message))
            if not waiting:
                return
            written += len(waiting)
            await self.messages.mark_delivered(self.me, waiting[-1].conv, waiting[-1].seq)

    # -- events out ---------------------------------------------------------------------------------
    def _on_message(self, event: MessageEvent) -> None:
        """A committed 1:1 or group message as MN (§5.2); a stored push or notification as MPS, which
        then counts as delivered (§3.1 MPS)."""
        message = event.message
        if message.conv.kind is ConvKind.NOTIFY:
            self.notify(c.Command.MPS, _stored_push(message))
            self.messages.mark_delivered_now(self.me, message.conv, message.seq)
        else:
            self.write_mn(message)

    def _on_push(self, event: PushEvent) -> None:
        """A push that is not stored (a user's, or a broadcast): MPS with its text and bytes."""
        body = event.wire_cache.get("imlc")
        if body is None:
            push = pb.Push(
                push_id=event.msgid, text=event.text, data=event.payload, server_time_ms=event.ts_ms
            )
            body = event.wire_cache["imlc"] = c.encode_body(push)
        self.notify(c.Command.MPS, body)

    def _on_signal(self, event: SignalEvent) -> None:
        """Typing from the peer: a transient MN (seq 0, never stored, §3.1 MS TYPING)."""
        if event.kind == "typing":
            self.notify(c.Command.MN, typing_body(event))

    def _on_control(self, event: ControlEvent) -> None:
        """A recall, edit or delete made in any protocol: MN with the changed message (§3.1 MN)."""
        if event.message is not None:
            self.write_mn(event.message)  # a message loaded for this control alone

    def _on_read(self, event: ReadEvent) -> None:
        """A read cursor moved in any protocol: READ notify to the reader's other sessions and, in a
        1:1, the peer's, the conversation seen from the receiving user (§3.1 READ)."""
        conv = event.conv
        if conv.kind is ConvKind.PEER:
            target = conv.peer_of(self.me)
        elif conv.kind is ConvKind.GROUP and event.uid == self.me:
            target = conv.a
        else:
            return
        self.notify(c.Command.READ, c.encode_body(_cursor(conv, target, event.seq, event.uid)))

    def write_mn(self, message: Message) -> None:
        """The MN frame is encoded once per view: a group's is shared, a 1:1 has the peer's and the
        sender's (the conversation names the other party, §8.1)."""
        kind = message.conv.kind
        if kind is ConvKind.NOTIFY:
            return
        target = message.conv.peer_of(self.me) if kind is ConvKind.PEER else message.conv.a
        key = f"imlc:{target}"
        frame = message.rendered(key)
        if frame is None:
            body = message_body(message, target)
            frame = message.keep_rendered(key, c.encode_frame(c.Command.MN, 0, c.Flow.NOTIFY, body))
        self.conn.write(frame)

    # Filled below the class: mypyc compiles no class-body table of the class's own functions.
    events: ClassVar[EventTable] = {}


ImlcChannel.events.update(
    {
        MessageEvent: ImlcChannel._on_message,
        ControlEvent: ImlcChannel._on_control,
        ReadEvent: ImlcChannel._on_read,
        PushEvent: ImlcChannel._on_push,
        SignalEvent: ImlcChannel._on_signal,
    }
)


def _error(detail: str, retry_after: int = 0) -> bytes:
    return c.encode_body(pb.Error(detail=detail[:200], retry_after_s=retry_after))


def _ack(message_id: int, message: Message) -> bytes:
    """MS's reply."""
    return c.encode_send_ack(message_id, message.msg_id, message.seq, message.ts_ms)


def _stored_push(message: Message) -> bytes:
    """MPS of a notification-stream item: a stored push carries its text and bytes as given, another
    protocol's business notification only its text (§8.4)."""
    expires = message.extra.get(EXPIRES) if message.extra else None
    push = pb.Push(
        push_id=message.msg_id,
        text=message.content,
        data=payload_of(message) if message.topic == push_topic(message.conv.a) else b"",
        server_time_ms=message.ts_ms,
        expires_ms=expires if isinstance(expires, int) else 0,
    )
    return c.encode_body(push)


def fit(sizes: list[int], budget: int) -> int:
    """How many of the leading items (by encoded size) fit a reply body of ``budget`` bytes, at least
    one (a page never comes back empty while items remain, §2.4)."""
    used = n = 0
    for size in sizes:
        used += size + _ITEM_OVERHEAD
        if used > budget and n:
            break
        n += 1
    return n


def _cursor(conv: ConvId, target: int, seq: int, reader: int) -> pb.ReadCursor:
    kind = pb.CONVERSATION_TYPE_SINGLE if conv.kind is ConvKind.PEER else pb.CONVERSATION_TYPE_GROUP
    return pb.ReadCursor(
        conversation=pb.Conversation(type=kind, target=str(target)), read_seq=seq, reader=str(reader)
    )


# == wire ⇄ core ==========================================================================================
def message_body(message: Message, target: int) -> bytes:
    """A stored message's Message body as imlc shows it to a user for whom the conversation's other end
    is ``target``: MN, and each message of a pull or a sync."""
    message_id = 0
    if message.extra.get("origin") == "imlc" and message.client_id.isdigit():
        message_id = int(message.client_id)
    shown = message.status in (MsgStatus.NORMAL, MsgStatus.EDITED)
    return c.encode_message(
        message_id,
        _content(message) if shown else None,
        CONV_TYPES[message.conv.kind],
        str(target),
        str(message.sender),
        str(message.recipient),
        message.msg_id,
        message.seq,
        message.ts_ms,
        int(message.status),
    )


def typing_body(event: SignalEvent) -> bytes:
    """A typing signal as the peer sees it: seq 0 and no server id, so clients never store it."""
    sent_here = event.origin_protocol == "imlc"
    kept = event.extra.get("imlc") if sent_here else None
    typing = {"content_type": pb.MESSAGE_CONTENT_TYPE_TYPING}
    return c.encode_message(
        int(event.extra.get("message_id", 0)) if sent_here else 0,
        _content_of(kept or typing, 0, event.text, event.data),
        pb.CONVERSATION_TYPE_SINGLE,
        str(event.sender),
        str(event.sender),
        str(event.peer),
        server_time_ms=event.ts_ms,
    )


def _content(message: Message) -> bytes:
    """imlc's own content comes back exactly as sent; another protocol's rich content names its kind
    (or UNKNOWN), its URL and, where it has no text, a summary such as ``[file] <name>`` (§8.4)."""
    kept = message.extra.get("imlc")
    if kept is not None:
        return _content_of(kept, message.ctype, message.content, message.data)
    text = message.content if message.ctype in (ContentType.TEXT, ContentType.NONE) else summary(message)
    return _content_of({}, message.ctype, text, message.data, media_url(message))


def _content_of(kept: dict[str, Any], ctype: int, text: str, data: bytes, url: str = "") -> bytes:
    """The content's bytes: the fields the core has no column for come from ``kept``, the message's
    ``extra["imlc"]``, where an imlc sender's content keeps them exactly as sent (§8.4 "imlc → imlc")."""
    return c.encode_content(
        kept.get("content_type", FROM_CORE.get(ctype, 0)),
        text,
        kept.get("push_content", ""),
        data,
        kept.get("mentioned_type", 0),
        kept.get("mentioned_targets"),
        kept.get("media_type", 0),
        kept.get("msg_length", 0),
        kept.get("remote_media_url", url),
    )


def read_content(sent: c.Sent, limit: int) -> tuple[int, dict[str, Any], str, bytes]:
    """MS checks 3 and 4 of §3.1 (the encoded size, then what each content type needs), and what the
    core stores of the content: its kind, the fields kept for imlc recipients (``local_media_path`` is
    dropped, §8.3), its text and its bytes."""
    if sent.content_size > limit:
        raise Refused(S.MESSAGE_TOO_LARGE, "message content too large")
    kind = sent.content_type
    if kind == _UNKNOWN or kind < 0:
        raise Refused(S.BAD_REQUEST, "content_type required")
    # TYPING is a signal: the content checks of a stored message do not apply to it.
    if kind != _TYPING:
        _check_content(kind, sent.text, sent.data, sent.url, sent.mentioned_type, sent.targets)
    kept: dict[str, Any] = {"content_type": kind}
    if sent.push:
        kept["push_content"] = sent.push
    if sent.mentioned_type:
        kept["mentioned_type"] = sent.mentioned_type
    if sent.targets:
        kept["mentioned_targets"] = sent.targets
    if sent.media_type:
        kept["media_type"] = sent.media_type
    if sent.msg_length:
        kept["msg_length"] = sent.msg_length
    if sent.url:
        kept["remote_media_url"] = sent.url
    return TO_CORE.get(kind, ContentType.NONE), kept, sent.text, sent.data


def _check_content(
    kind: int, text: str, data: bytes, url: str, mentioned_type: int, targets: Sequence[str]
) -> None:
    if kind == _TEXT and not text:
        raise Refused(S.BAD_REQUEST, "text required")
    if not (text or data or url):
        raise Refused(S.BAD_REQUEST, "empty content")
    if mentioned_type > _MENTION_ALL or mentioned_type < 0:
        raise Refused(S.BAD_REQUEST, "bad mentioned_type")
    for target in targets:
        if decimal(target) is None:
            raise Refused(S.BAD_REQUEST, "bad mentioned_targets")
    if len(url) * 4 > MAX_FIELD and len(url.encode()) > MAX_FIELD:
        raise Refused(S.BAD_REQUEST, "field too long")


def conversation(ch: ImlcChannel, conv: pb.Conversation) -> ConvId:
    """A request's conversation as the core's, from the session's point of view (§8.1)."""
    return conv_id(ch, conv.type, conv.target)


def conv_id(ch: ImlcChannel, kind: int, target_text: str) -> ConvId:
    """:func:`conversation` of a Conversation's two fields."""
    target = decimal(target_text)
    if target is None or kind not in (0, 1, 2):
        raise Refused(S.BAD_REQUEST, "bad conversation")
    if kind == pb.CONVERSATION_TYPE_SINGLE:
        return ConvId.peer(ch.me, target)
    if kind == pb.CONVERSATION_TYPE_GROUP:
        return ConvId.group(target)
    return ConvId.room(target)


# == connection ===========================================================================================
@COMMANDS.on(c.Command.LOGIN, parser(c.Command.LOGIN), states=State.ANY)
async def _login(ch: ImlcChannel, frame: c.Frame, req: pb.LoginRequest) -> None:
    if ch.session is not None:
        raise Refused(S.BAD_REQUEST, "already logged in")
    try:
        account = await _authenticate(ch, req)
    except CoreError as exc:
        raise _login_refusal(ch, exc) from exc
    session = ch.new_session(account.uid, account.role, req.device_id, DEVICE_CLASSES[req.device_class])
    ch.answer(frame, _login_reply(ch, account, req.device_id))
    await ch.go_online(session)
    await ch.replay_pushes()
    log.info("imlc %s: uid %d logged in (device %s)", ch.conn.peer, account.uid, req.device_id)


def _login_refusal(ch: ImlcChannel, exc: CoreError) -> Refused:
    """A throttled login says how long the lockout lasts (§3.1 LOGIN step 1)."""
    refused = ch.refusal(exc)
    if exc.code is Code.THROTTLED:
        assert refused.code is not None
        return Later(refused.code, refused.text, ch.core.settings.lockout)
    return refused


def _check_login(req: pb.LoginRequest) -> int | None:
    """The fields checked before anything else (§3.1 LOGIN); returns the uid the request names."""
    if not _DEVICE_ID.fullmatch(req.device_id) or req.device_class not in DEVICE_CLASSES:
        raise Refused(S.BAD_REQUEST, "bad device_id or device_class")
    if len(req.client_version.encode()) > 64 or len(req.username.encode()) > MAX_FIELD:
        raise Refused(S.BAD_REQUEST, "field too long")
    if req.WhichOneof("credential") is None:
        raise Refused(S.BAD_REQUEST, "password or token required")
    account = req.WhichOneof("account")
    if account is None and req.WhichOneof("credential") == "password":
        raise Refused(S.BAD_REQUEST, "uid or username required")
    if account != "uid":
        return None
    uid = decimal(req.uid)
    if uid is None:
        raise Refused(S.BAD_REQUEST, "uid is not a decimal id")
    return uid


async def _authenticate(ch: ImlcChannel, req: pb.LoginRequest) -> Account:
    """Throttle, credentials, token identity, account state: the order of §3.1 LOGIN."""
    uid = _check_login(req)
    addr = ch.conn.peer.rsplit(":", 1)[0]
    if req.WhichOneof("credential") == "password":
        cred = Credentials(req.username, uid, req.password, req.device_id, addr)
        return await ch.core.accounts.authenticate(cred, ch.protocol)
    owner = ch.core.accounts.token_uid(req.token)
    cred = Credentials("", owner, req.token, req.device_id, addr, device_bound=True)
    account = await ch.core.accounts.authenticate(cred, ch.protocol)
    if uid is not None and uid != account.uid:
        raise Refused(S.IDENTITY_MISMATCH, "uid is not the token's")
    return account


def _login_reply(ch: ImlcChannel, account: Account, device_id: str) -> bytes:
    ttl = ch.settings.token_ttl
    now = ch.core.clock.now_ms()
    reply = pb.LoginReply(
        uid=str(account.uid),
        username=account.username,
        nickname=account.nickname,
        token=ch.core.accounts.issue_token(account.uid, device_id, ttl),
        token_expires_ms=now + ttl * 1000,
        server_time_ms=now,
        heartbeat_s=ch.settings.heartbeat,
        max_body_bytes=ch.settings.max_body_bytes,
    )
    return c.encode_body(reply)


@COMMANDS.on(c.Command.LOGOUT, states=State.ANY)
async def _logout(ch: ImlcChannel, frame: c.Frame, _req: None) -> None:
    """No reply: the session ends and the connection closes (§3.1 LOGOUT, §5.6)."""
    session, ch.session = ch.session, None
    if session is not None:
        await ch.core.accounts.detach(session)
    ch.conn.close()


@COMMANDS.on(c.Command.PING)
async def _ping(ch: ImlcChannel, frame: c.Frame, _req: None) -> bytes:
    return b""


# == messages =============================================================================================
class _Checked:
    """An MS request that passed its own checks (§3.1 steps 1–4), with what the send needs of it."""

    __slots__ = ("conv", "ctype", "data", "kept", "text", "typing")

    def __init__(self, conv: ConvId, ctype: int, kept: dict[str, Any], text: str, data: bytes) -> None:
        self.conv = conv
        self.ctype = ctype
        self.kept = kept
        self.text = text
        self.data = data
        self.typing = kept["content_type"] == _TYPING


def _checked_send(ch: ImlcChannel, msg: c.Sent) -> _Checked:
    """The checks of MS before the core's (§3.1 steps 1-4): the conversation and the content's own fields."""
    if not msg.message_id or not msg.has_content or not msg.has_conversation:
        raise Refused(S.BAD_REQUEST, "message_id, message_content and conversation required")
    conv = conv_id(ch, msg.conv_type, msg.conv_target)
    if msg.to and msg.to != msg.conv_target:
        raise Refused(S.BAD_REQUEST, "to is not the conversation's target")
    if msg.sender and msg.sender != str(ch.me):
        raise Refused(S.IDENTITY_MISMATCH, "from is not you")
    ctype, kept, text, data = read_content(msg, ch.settings.max_content_bytes)
    return _Checked(conv, ctype, kept, text, data)


def _send_out(sent: _Checked, message_id: int) -> Outgoing:
    extra: dict[str, Any] = {"origin": "imlc", "imlc": sent.kept}
    url = sent.kept.get("remote_media_url")
    if url:
        extra[MEDIA_URL] = url  # how the other protocols find the media
    return Outgoing(sent.conv, sent.ctype, sent.text, str(message_id), data=sent.data, extra=extra)


@COMMANDS.on(c.Command.MS, c.decode_send)
async def _send(ch: ImlcChannel, frame: c.Frame, msg: c.Sent) -> bytes | None:
    """MS in the order of §3.1: request shape, sender, content; then dedup, then the core's checks and
    the commit, acked once it has landed."""
    sent = _checked_send(ch, msg)
    assert ch.session is not None
    if sent.typing:
        return await _typing(ch, sent, msg.message_id)
    out = _send_out(sent, msg.message_id)
    try:
        if sent.conv.kind is ConvKind.ROOM:
            result = ch.core.rooms.chat(ch.session, out, 0, ch.policy)
        else:
            result = await ch.messages.send(ch.session, out, ch.protocol, ch.policy)
    except CoreError:
        # Step 5 comes before the target and policy checks: a resend of a committed message gets its
        # first ack even where they would now refuse it. An accepted resend needs no read here (the
        # store settles it to the original, unstored and undelivered); only a refusal looks it up.
        prior = await ch.messages.find_sent(ch.me, ch.session.device_id, str(msg.message_id))
        if prior is None:
            raise
        return _ack(msg.message_id, prior)
    ch.ack_after_commit(result, frame, msg)
    return None


@COMMANDS.now(c.Command.MS)
def _send_now(ch: ImlcChannel, frame: c.Frame, msg: c.Sent) -> object:
    """The common 1:1 or group send without a coroutine. Typing, rooms and a send the core refuses (it
    may be a resend to answer with its first ack) go to :func:`_send`, which checks them again."""
    sent = _checked_send(ch, msg)
    if sent.conv.kind is ConvKind.ROOM or sent.typing:
        return LATER
    try:
        return ch.send_and_ack_now(frame, msg, _send_out(sent, msg.message_id), ch.policy)
    except CoreError:
        return LATER


async def _typing(ch: ImlcChannel, sent: _Checked, message_id: int) -> bytes:
    """TYPING: 1:1 only, checked as a send to the peer, never stored, no seq, no dedup (§3.1 MS)."""
    if sent.conv.kind is not ConvKind.PEER:
        raise Refused(S.BAD_REQUEST, "typing is for 1:1 conversations")
    assert ch.session is not None
    now = ch.core.clock.now_ms()
    extra = {"imlc": sent.kept, "message_id": message_id}
    signal = SignalEvent(
        ch.me, sent.conv.peer_of(ch.me), "typing", now, sent.text, sent.data, extra, ch.protocol
    )
    await ch.messages.signal(ch.session, signal, ch.policy)
    return c.encode_send_ack(message_id, 0, 0, now)


@COMMANDS.on(c.Command.MP, parser(c.Command.MP))
async def _pull(ch: ImlcChannel, frame: c.Frame, req: pb.PullRequest) -> bytes:
    """Catch-up (FORWARD) and history (BACKWARD), always in ascending seq (§3.1 MP)."""
    if not req.HasField("conversation") or req.direction not in (0, 1):
        raise Refused(S.BAD_REQUEST, "conversation and a direction required")
    conv = conversation(ch, req.conversation)
    await _require(ch, conv)
    limit = min(req.limit or PULL_DEFAULT, PULL_MAX)
    last_seq = (await ch.messages.state(ch.me, conv)).last_seq
    if req.direction == pb.PULL_DIRECTION_FORWARD:
        page = await _forward(ch, conv, req.anchor_seq, limit, last_seq)
    else:
        page = await _backward(ch, conv, req.anchor_seq, limit)
    forward = req.direction == pb.PULL_DIRECTION_FORWARD
    target = int(req.conversation.target)
    shown = [message_body(m, target) for m in (page[:limit] if forward else page[-limit:])]
    if not forward:
        shown.reverse()  # the page is cut at its oldest end: the messages next to the anchor stay
    n = fit([len(m) for m in shown], ch.settings.max_body_bytes - 64)
    kept = shown[:n] if forward else shown[:n][::-1]
    reply = pb.PullReply(conversation=req.conversation, last_seq=last_seq, has_more=len(page) > n)
    for body in kept:
        reply.messages.add().MergeFromString(body)
    return c.encode_body(reply)


async def _require(ch: ImlcChannel, conv: ConvId) -> None:
    """The conversation's other end exists (NOT_FOUND); membership is the core's check (NOT_MEMBER)."""
    if conv.kind is ConvKind.PEER:
        missing = await ch.core.accounts.get(conv.peer_of(ch.me)) is None
    elif conv.kind is ConvKind.ROOM:
        missing = ch.core.rooms.get(conv.a) is None
    else:
        missing = await ch.core.groups.find(conv.a) is None
    if missing:
        raise Refused(S.NOT_FOUND, "no such conversation")


async def _forward(ch: ImlcChannel, conv: ConvId, anchor: int, limit: int, last_seq: int) -> list[Message]:
    """One more than asked, to tell ``has_more``; the anchor also moves the delivered cursor."""
    assert ch.session is not None
    page = await ch.messages.since(ch.session, conv, anchor, limit + 1)
    if anchor and last_seq and conv.kind is not ConvKind.ROOM:  # room cursors belong to no user
        await ch.messages.mark_delivered(ch.me, conv, min(anchor, last_seq))
    return page


async def _backward(ch: ImlcChannel, conv: ConvId, anchor: int, limit: int) -> list[Message]:
    """The newest ``limit`` (plus one) below the anchor, oldest first; anchor 0 = from the newest."""
    assert ch.session is not None
    if anchor == 1:
        return await ch.messages.since(ch.session, conv, 0, 0)  # nothing below 1: the access check
    newest_first = await ch.messages.history(ch.session, conv, max(anchor - 1, 0), limit + 1, deleted=True)
    return newest_first[::-1]


# MR words the core's refusals its own way (§3.1 MR): not allowed is RECALL_DENIED.
RECALL_ERRORS = {Code.FORBIDDEN: (S.RECALL_DENIED, None)}


@COMMANDS.on(c.Command.MR, parser(c.Command.MR), errors=RECALL_ERRORS)
async def _recall(ch: ImlcChannel, frame: c.Frame, req: pb.Recall) -> bytes:
    """Recall one message; the other sessions of the conversation get the changed message as MN."""
    if not req.HasField("conversation") or not req.seq:
        raise Refused(S.BAD_REQUEST, "conversation and seq required")
    conv = conversation(ch, req.conversation)
    await _require(ch, conv)
    assert ch.session is not None
    message = await ch.messages.message_for_control(ch.session, conv, req.seq)
    if message.status is MsgStatus.RECALLED:
        return b""  # already recalled: OK, nothing changes
    window = ch.settings.recall_window
    if window and ch.core.clock.now_ms() > message.ts_ms + window * 1000:
        raise Refused(S.RECALL_DENIED, "recall window has passed")
    await ch.messages.control(ch.session, message, ControlCmd.RECALL, f"mr:{conv.key}:{req.seq}")
    return b""


@COMMANDS.on(c.Command.READ, parser(c.Command.READ))
async def _read(ch: ImlcChannel, frame: c.Frame, req: pb.ReadCursor) -> bytes:
    """Move the user's read cursor; the reply carries the stored value (§3.1 READ)."""
    if not req.HasField("conversation") or req.conversation.type == pb.CONVERSATION_TYPE_ROOM:
        raise Refused(S.BAD_REQUEST, "a SINGLE or GROUP conversation required")
    conv = conversation(ch, req.conversation)
    if req.reader and req.reader != str(ch.me):
        raise Refused(S.IDENTITY_MISMATCH, "reader is not you")
    await _require(ch, conv)
    assert ch.session is not None
    stored = await ch.messages.mark_read(ch.session, conv, req.read_seq)
    return c.encode_body(_cursor(conv, int(req.conversation.target), stored, ch.me))
