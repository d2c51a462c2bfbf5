"""A lean beehive TCP load client (beehive.md §2, §4.1, §4.2): 52-byte headers, protobuf bodies.

Log in with ONLINE (a polyim token for uid and device = the sid), send CHAT with header seqs above the
floor the ONLINE-ACK gave, match CHAT-ACKs by seq, read the tag from the text of delivered CHATs and
answer them with the receiver's CHAT-ACK (which moves the delivered cursor). Rooms (ROOM-CHAT,
ROOM-BC) are not spoken yet; see ``scenarios.room``.
"""

from __future__ import annotations

import time

from polyim.bench.load import LoadSession, RunState, SessionSpec
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive.codec import HEADER, HEADER_SIZE, Cmd

_TERMINAL_PC = 1


class BeehiveSession(LoadSession):
    """One beehive connection of the load."""

    def __init__(self, spec: SessionSpec, state: RunState) -> None:
        super().__init__(spec, state)
        self.sid = int(spec.device_id)
        self.hseq = 0
        self.seq_to_n: dict[int, int] = {}
        self._buf = bytearray()

    def reset_stream(self) -> None:
        self._buf.clear()
        self.seq_to_n.clear()

    def _frame(self, cmd: int, seq: int, body: bytes = b"") -> bytes:
        return HEADER.pack(cmd, len(body), self.sid, 0, 0, seq, 0, 0) + body

    def _next_seq(self) -> int:
        self.hseq += 1
        return self.hseq

    def login_frame(self) -> bytes:
        body = pb.mesg_online(
            uid=self.spec.uid,
            sid=self.sid,
            token=self.spec.secret,
            app="polyim-bench",
            version="1",
            terminal=self.spec.device_type or _TERMINAL_PC,
        ).SerializeToString()
        return self._frame(Cmd.ONLINE, self._next_seq(), body)

    def message_frame(self, n: int, tag: str) -> bytes:
        seq = self._next_seq()
        self.seq_to_n[seq] = n
        text = tag + " " + "x" * max(0, self.state.plan.msg_size - len(tag) - 1)
        body = pb.mesg_chat(
            suid=self.spec.uid, duid=self.spec.to_uid, level=0, time=int(time.time()), text=text
        ).SerializeToString()
        return self._frame(Cmd.CHAT, seq, body)

    def ping_frame(self) -> bytes:
        return self._frame(Cmd.PING, self._next_seq())

    # -- input ----------------------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        self.state.last_rx = time.monotonic()
        buf = self._buf
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            cmd, length, _sid, _cid, _nid, seq, _dsid, _dseq = HEADER.unpack_from(buf, pos)
            stop = pos + HEADER_SIZE + length
            if stop > end:
                break
            self._dispatch(cmd, seq, bytes(buf[pos + HEADER_SIZE : stop]))
            pos = stop
        del buf[:pos]

    def _dispatch(self, cmd: int, seq: int, body: bytes) -> None:
        if cmd == Cmd.CHAT_ACK:
            n = self.seq_to_n.pop(seq, None)
            if n is not None:
                ack = pb.mesg_chat_ack()
                ack.ParseFromString(body)
                self.acked(n, ack.code)
        elif cmd == Cmd.CHAT:
            self._pushed(seq, body)
        elif cmd == Cmd.PONG:
            self.pong()
        elif cmd == Cmd.ONLINE_ACK:
            self._online_ack(body)
        elif cmd == Cmd.KICK:
            self.kicked()

    def _online_ack(self, body: bytes) -> None:
        ack = pb.mesg_online_ack()
        ack.ParseFromString(body)
        if ack.code == 0:
            self.hseq = max(self.hseq, ack.seq)
        self.login_result(ack.code)

    def _pushed(self, seq: int, body: bytes) -> None:
        chat = pb.mesg_chat()
        chat.ParseFromString(body)
        if self.state.plan.receipts and seq > 0:
            receipt = pb.mesg_chat_ack(suid=chat.suid, duid=chat.duid, code=0, errmsg="Ok")
            self.write(self._frame(Cmd.CHAT_ACK, seq, receipt.SerializeToString()))
        self.delivered(chat.text.split(" ", 1)[0])
