"""A lean imlc load client (imlc.md §2, §3.1): 12-byte headers, protobuf bodies, polyim's own codec.

Log in with LOGIN (a polyim token in ``token``, or the password), send MS with a header seq of its own
per request, pair each reply with its request by that seq (§2.3), and read the tag from the text of
each MN. imlc has no per-message receipt (the delivered cursor moves with a FORWARD ``MP``, §3.1 MP),
so ``--no-receipts`` changes nothing here. THROTTLED and SERVER_BUSY refusals pause the session's
sends briefly, as the other protocols' slow-down codes do. imlc's rate limit (50 frames/s per
connection, bursts of 100, imlc.md §2.4) is raised by the bench's own server (``[imlc] rate_limit``);
against another server an unpaced run may meet it, and the figures then show the limit, not the server.
"""

from __future__ import annotations

from typing import ClassVar, cast

from polyim.bench.load import LoadSession, RunState, SessionSpec
from polyim.core.auth import TOKEN_PREFIX
from polyim.protocols.imlc import codec as c
from polyim.protocols.imlc import imlc_pb2 as pb

_LOGIN_SEQ = 1
_U32_MAX = 0xFFFFFFFF


def login_request(spec: SessionSpec) -> pb.LoginRequest:
    """A token login names the account by uid (the token carries it); a password login by username."""
    req = pb.LoginRequest(
        device_id=spec.device_id,
        device_class=cast(pb.DeviceClass, spec.device_type or pb.DEVICE_CLASS_MOBILE),
        client_version="polyim-bench",
    )
    if spec.secret.startswith(TOKEN_PREFIX):
        req.token = spec.secret
        if spec.uid:
            req.uid = str(spec.uid)
    else:
        req.username = spec.username
        req.password = spec.secret
    return req


class MessageTemplate:
    """MS bodies of one sender to one 1:1 target: only ``message_id`` and the text change."""

    __slots__ = ("message", "size")

    def __init__(self, spec: SessionSpec, size: int) -> None:
        conv = pb.Conversation(type=pb.CONVERSATION_TYPE_SINGLE, target=spec.to)
        content = pb.MessageContent(content_type=pb.MESSAGE_CONTENT_TYPE_TEXT)
        self.message = pb.Message(message_content=content, conversation=conv)
        self.size = size

    def body(self, n: int, tag: str) -> bytes:
        msg = self.message
        msg.message_id = n
        msg.message_content.searchable_content = tag + " " + "x" * max(0, self.size - len(tag) - 1)
        return c.encode_body(msg)


class ImlcSession(LoadSession):
    """One imlc connection of the load."""

    #: THROTTLED (the per-connection rate limit, §2.4) and SERVER_BUSY ask the client to wait.
    backoff_codes: ClassVar[frozenset[int]] = frozenset({c.Status.THROTTLED, c.Status.SERVER_BUSY})

    def __init__(self, spec: SessionSpec, state: RunState) -> None:
        super().__init__(spec, state)
        self.decoder = c.Decoder()
        self.hseq = _LOGIN_SEQ
        self.seq_to_n: dict[int, int] = {}
        self._template: MessageTemplate | None = None

    def reset_stream(self) -> None:
        self.decoder = c.Decoder()
        self.seq_to_n.clear()

    def login_frame(self) -> bytes:
        body = c.encode_body(login_request(self.spec))
        return c.encode_frame(c.Command.LOGIN, _LOGIN_SEQ, c.Flow.REQUEST, body)

    def message_frame(self, n: int, tag: str) -> bytes:
        template = self._template
        if template is None:
            template = self._template = MessageTemplate(self.spec, self.state.plan.msg_size)
        seq = self._next_seq()
        self.seq_to_n[seq] = n
        return c.encode_frame(c.Command.MS, seq, c.Flow.REQUEST, template.body(n, tag))

    def ping_frame(self) -> bytes:
        return c.encode_frame(c.Command.PING, self._next_seq(), c.Flow.REQUEST)

    def _next_seq(self) -> int:
        """Every request its own seq (§2.3: from 1 up, wrapping to 1; the LOGIN's is 1)."""
        self.hseq = self.hseq + 1 if self.hseq < _U32_MAX else 1
        return self.hseq

    # -- input ----------------------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        keepalives = self.keepalives
        try:
            frames = self.decoder.feed(data)
        except c.ImlcDecodeError as exc:
            self.report.error("undecodable frame")
            frames = list(exc.frames)
            self.drop()
        for frame in frames:
            self._dispatch(frame)
        self.heard(len(frames), keepalives)

    def _dispatch(self, frame: c.Frame) -> None:
        command = frame.command
        if frame.flow == c.Flow.NOTIFY:
            if command == c.Command.MN:
                self._pushed(frame.body)
            elif command == c.Command.LOGOUT:
                self.kicked()
        elif command == c.Command.MS:
            n = self.seq_to_n.pop(frame.seq, None)
            if n is not None:
                self.acked(n, frame.status)
        elif command == c.Command.PING:
            self.pong()
        elif command == c.Command.LOGIN:
            self._login_reply(frame)

    def _login_reply(self, frame: c.Frame) -> None:
        if frame.status:
            self.login_result(frame.status)
            return
        try:
            reply = c.decode_body(c.Command.LOGIN, frame.body, c.Flow.REPLY)
        except c.ImlcDecodeError:
            self.login_result(-3)
            return
        self.login_result(0, int(reply.uid) if reply.uid.isdigit() else 0)

    def _pushed(self, body: bytes) -> None:
        try:
            msg = c.decode_body(c.Command.MN, body, c.Flow.NOTIFY)
        except c.ImlcDecodeError:
            self.report.counters.foreign += 1
            return
        if msg.seq:  # seq 0 is a transient frame (typing), never a stored message
            self.delivered(msg.message_content.searchable_content.split(" ", 1)[0])
