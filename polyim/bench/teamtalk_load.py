"""A lean TeamTalk load client (teamtalk.md §2, §3.1, §3.3): the 12-byte header, length-prefixed bodies.

Log in on the msg listener with 1/3 (the account's token as the password: the core verifies a polyim
token wherever a password goes), send 3/1 with the request counter in ``reserved``, match 3/2 acks by
``reserved``, read the tag from the text of delivered 3/1 and answer them with the recipient's 3/2.
Heartbeats (7/1) are the pings; their echo carries the same ``reserved``.
"""

from __future__ import annotations

import time

from polyim.bench.load import LoadSession, RunState, SessionSpec
from polyim.protocols.teamtalk import codec as c

PC_CLIENT = 0x01  # client_type of 1/3: Windows
MOBILE_CLIENT = 0x12  # Android


class TeamTalkSession(LoadSession):
    """One TeamTalk msg connection of the load."""

    def __init__(self, spec: SessionSpec, state: RunState) -> None:
        super().__init__(spec, state)
        self.decoder = c.Decoder()
        self.reserved = 0
        self.rsv_to_n: dict[int, int] = {}
        self.me = str(spec.uid)

    def reset_stream(self) -> None:
        self.decoder = c.Decoder()
        self.rsv_to_n.clear()

    def port(self) -> int:
        return self.state.plan.ports["teamtalk msg"]

    def _next(self) -> int:
        self.reserved = self.reserved % 0xFFFF + 1
        return self.reserved

    def login_frame(self) -> bytes:
        client_type = self.spec.device_type or PC_CLIENT
        login = c.LoginReq(self.spec.username, self.spec.secret, c.STATUS_ONLINE, client_type, "polyim-bench")
        return c.frame_of(c.USERLOGIN_REQ, self._next(), login)

    def message_frame(self, n: int, tag: str) -> bytes:
        rsv = self._next()
        self.rsv_to_n[rsv] = n
        text = tag + " " + "x" * max(0, self.state.plan.msg_size - len(tag) - 1)
        msg = c.MsgData(n & 0xFFFFFFFF, self.me, self.spec.to, int(time.time()), c.MSG_TEXT, text.encode())
        return c.frame_of(c.MSG_DATA, rsv, msg)

    def ping_frame(self) -> bytes:
        return c.encode_frame(c.HEARTBEAT, self._next())

    # -- input ----------------------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        keepalives = self.keepalives
        try:
            frames = self.decoder.feed(data)
        except c.TeamTalkDecodeError:
            self.drop()
            return
        for frame in frames:
            self._dispatch(frame)
        self.heard(len(frames), keepalives)

    def _dispatch(self, frame: c.Frame) -> None:
        key = frame.key
        if key == c.MSG_DATA_ACK:
            n = self.rsv_to_n.pop(frame.reserved, None)
            if n is not None:
                self.acked(n, 0)
        elif key == c.MSG_DATA:
            msg = c.MsgData.decode(frame.body)
            if self.state.plan.receipts:
                ack = c.MsgDataAck(msg.seq_no, msg.from_id)
                self.write(c.frame_of(c.MSG_DATA_ACK, self._next(), ack))
            self.delivered(msg.msg_data.split(b" ", 1)[0].decode(errors="replace"))
        elif key == c.HEARTBEAT:
            self.pong()
        elif key == c.USERLOGIN_RES:
            self.login_result(c.LoginRes.decode(frame.body).result)
        elif key == c.KICK_USER:
            self.kicked()
