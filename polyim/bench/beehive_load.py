"""A lean beehive TCP load client (beehive.md §2, §4.1, §4.2): 52-byte headers, protobuf bodies.

Log in with ONLINE (a polyim token for uid and device = the sid), send CHAT with header seqs above the
floor the ONLINE-ACK gave, match CHAT-ACKs by seq, read the tag from the text of delivered CHATs and
answer them with the receiver's CHAT-ACK (which moves the delivered cursor).

Rooms (§4.4, the ``room`` scenario): a session with ``spec.room`` sends ROOM-JOIN right after its
ONLINE-ACK and counts as logged in once the ROOM-JOIN-ACK says 0. Its messages are ROOM-CHATs to the
whole room (gid 0), acked by ROOM-CHAT-ACK after the commit; delivered ROOM-CHATs carry the tag in
``text``, ROOM-BCs (pushed through ``POST /room/push``) in ``data``, and a ROOM-BC is answered with
ROOM-BC-ACK when receipts are on (ROOM-CHAT has no receipt). ROOM-JOIN-NTF and the other frames are
skipped without being decoded.
"""

from __future__ import annotations

import time

from polyim.bench.load import LoadSession, RunState, SessionSpec
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive.codec import HEADER, HEADER_SIZE, Cmd

_TERMINAL_PC = 1
_TAG_CACHE_MAX = 4096

# A fan-out body is the same bytes for every recipient (the server encodes it once): decode it once per
# load process. Body → (tag, msgid, body of the ROOM-BC-ACK receipt); msgid 0 and no receipt for a ROOM-CHAT.
_room_tags: dict[bytes, tuple[str, int, bytes]] = {}


def _room_tag(cmd: int, body: bytes) -> tuple[str, int, bytes]:
    hit = _room_tags.get(body)
    if hit is not None:
        return hit
    if cmd == Cmd.ROOM_CHAT:
        chat = pb.mesg_room_chat()
        chat.ParseFromString(body)
        hit = (chat.text.split(" ", 1)[0], 0, b"")
    else:
        bc = pb.mesg_room_bc()
        bc.ParseFromString(body)
        receipt = pb.mesg_room_bc_ack(rid=bc.rid, msgid=bc.msgid, code=0, errmsg="Ok").SerializeToString()
        hit = (bc.data.split(b" ", 1)[0].decode(errors="replace"), bc.msgid, receipt)
    if len(_room_tags) >= _TAG_CACHE_MAX:
        _room_tags.clear()
    _room_tags[body] = hit
    return hit


_WANTED = frozenset(
    {Cmd.CHAT_ACK, Cmd.CHAT, Cmd.PONG, Cmd.ONLINE_ACK, Cmd.KICK}
    | {Cmd.ROOM_JOIN_ACK, Cmd.ROOM_CHAT_ACK, Cmd.ROOM_CHAT, Cmd.ROOM_BC}
)


class BeehiveSession(LoadSession):
    """One beehive connection of the load."""

    def __init__(self, spec: SessionSpec, state: RunState) -> None:
        super().__init__(spec, state)
        self.sid = int(spec.device_id)
        self.hseq = 0
        self.seq_to_n: dict[int, int] = {}
        self.join_seq = 0
        self.joining = False
        self._buf = bytearray()

    def reset_stream(self) -> None:
        self._buf.clear()
        self.seq_to_n.clear()
        self.joining = False

    def failure_kind(self, code: int) -> str:
        return f"room join code {code}" if self.joining and code > 0 else super().failure_kind(code)

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
        if self.spec.room:
            room = pb.mesg_room_chat(
                uid=self.spec.uid, rid=self.spec.room, gid=0, level=0, time=int(time.time()), text=text
            )
            return self._frame(Cmd.ROOM_CHAT, seq, room.SerializeToString())
        body = pb.mesg_chat(
            suid=self.spec.uid, duid=self.spec.to_uid, level=0, time=int(time.time()), text=text
        ).SerializeToString()
        return self._frame(Cmd.CHAT, seq, body)

    def ping_frame(self) -> bytes:
        return self._frame(Cmd.PING, self._next_seq())

    # -- input ----------------------------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        keepalives, frames = self.keepalives, 0
        buf = self._buf
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            cmd, length, _sid, _cid, _nid, seq, _dsid, _dseq = HEADER.unpack_from(buf, pos)
            stop = pos + HEADER_SIZE + length
            if stop > end:
                break
            if cmd in _WANTED:
                self._dispatch(cmd, seq, bytes(buf[pos + HEADER_SIZE : stop]))
            pos = stop
            frames += 1
        del buf[:pos]
        self.heard(frames, keepalives)

    def _dispatch(self, cmd: int, seq: int, body: bytes) -> None:
        if cmd == Cmd.ROOM_CHAT or cmd == Cmd.ROOM_BC:
            self._room_pushed(cmd, body)
        elif cmd == Cmd.ROOM_CHAT_ACK:
            n = self.seq_to_n.pop(seq, None)
            if n is not None:
                room_ack = pb.mesg_room_chat_ack()
                room_ack.ParseFromString(body)
                self.acked(n, room_ack.code)
        elif cmd == Cmd.CHAT_ACK:
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
        elif cmd == Cmd.ROOM_JOIN_ACK:
            self._join_ack(seq, body)
        elif cmd == Cmd.KICK:
            self.kicked()

    def _online_ack(self, body: bytes) -> None:
        ack = pb.mesg_online_ack()
        ack.ParseFromString(body)
        if ack.code == 0:
            self.hseq = max(self.hseq, ack.seq)
            if self.spec.room:  # in only once inside the room
                self.joining = True
                self.join_seq = self._next_seq()
                join = pb.mesg_room_join(uid=self.spec.uid, rid=self.spec.room)
                self.write(self._frame(Cmd.ROOM_JOIN, self.join_seq, join.SerializeToString()))
                return
        self.login_result(ack.code)

    def _join_ack(self, seq: int, body: bytes) -> None:
        if seq != self.join_seq:
            return
        ack = pb.mesg_room_join_ack()
        ack.ParseFromString(body)
        self.login_result(ack.code)

    def _room_pushed(self, cmd: int, body: bytes) -> None:
        tag, msgid, receipt = _room_tag(cmd, body)
        if msgid and self.state.plan.receipts:
            self.write(self._frame(Cmd.ROOM_BC_ACK, msgid, receipt))
        self.delivered(tag)

    def _pushed(self, seq: int, body: bytes) -> None:
        chat = pb.mesg_chat()
        chat.ParseFromString(body)
        if self.state.plan.receipts and seq > 0:
            receipt = pb.mesg_chat_ack(suid=chat.suid, duid=chat.duid, code=0, errmsg="Ok")
            self.write(self._frame(Cmd.CHAT_ACK, seq, receipt.SerializeToString()))
        self.delivered(chat.text.split(" ", 1)[0])
