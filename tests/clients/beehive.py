"""An independent beehive test client written from beehive.md (§2 framing, §3 bodies, §4 commands).

It does not import polyim. One client speaks either TCP (a byte stream of frames) or WebSocket (one
frame per binary message, via aiohttp). Frames whose type is a reply type (any ``…-ACK``, PONG) or
ERROR and whose ``seq`` matches a pending request answer that request; every other frame is a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.clients.beehive_spec_pb2 import MESSAGES as M

HEADER = struct.Struct(">IIQQIQQQ")  # type, length, sid, cid, nid, seq, dsid, dseq
HEADER_SIZE = 52

ONLINE, ONLINE_ACK, OFFLINE, OFFLINE_ACK, PING, PONG = 0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106
SUB, SUB_ACK, ERROR, ERROR_ACK, SYNC, SYNC_ACK, KICK = 0x0107, 0x0108, 0x010B, 0x010C, 0x010D, 0x010E, 0x0110
ONLINE_NTF, OFFLINE_NTF = 0x0150, 0x0152
CHAT, CHAT_ACK, FRIEND_ADD, FRIEND_ADD_ACK, FRIEND_DEL, FRIEND_DEL_ACK = (
    0x0201,
    0x0202,
    0x0203,
    0x0204,
    0x0205,
    0x0206,
)
BLACKLIST_ADD, BLACKLIST_ADD_ACK, BLACKLIST_DEL, BLACKLIST_DEL_ACK = 0x0207, 0x0208, 0x0209, 0x020A
GROUP_CREAT, GROUP_CREAT_ACK, GROUP_JOIN, GROUP_JOIN_ACK = 0x0301, 0x0302, 0x0305, 0x0306
GROUP_CHAT, GROUP_CHAT_ACK, GROUP_JOIN_NTF = 0x030B, 0x030C, 0x0350
GROUP_QUIT, GROUP_QUIT_ACK, GROUP_INVITE, GROUP_INVITE_ACK = 0x0307, 0x0308, 0x0309, 0x030A
GROUP_USR_LIST, GROUP_USR_LIST_ACK, GROUP_QUIT_NTF = 0x031C, 0x031D, 0x0352
UNSUB, UNSUB_ACK = 0x0109, 0x010A
ROOM_CREAT, ROOM_CREAT_ACK, ROOM_DISMISS, ROOM_DISMISS_ACK = 0x0401, 0x0402, 0x0403, 0x0404
ROOM_JOIN, ROOM_JOIN_ACK, ROOM_QUIT, ROOM_QUIT_ACK = 0x0405, 0x0406, 0x0407, 0x0408
ROOM_KICK, ROOM_KICK_ACK, ROOM_CHAT, ROOM_CHAT_ACK = 0x0409, 0x040A, 0x040B, 0x040C
ROOM_BC, ROOM_BC_ACK, ROOM_USR_NUM, ROOM_USR_NUM_ACK, ROOM_LSN_STAT = 0x040D, 0x040E, 0x0410, 0x0411, 0x0412
ROOM_JOIN_NTF, ROOM_QUIT_NTF, ROOM_KICK_NTF = 0x0450, 0x0452, 0x0454
GAG_ADD, GAG_ADD_ACK, GAG_DEL, GAG_DEL_ACK = 0x020B, 0x020C, 0x020D, 0x020E
MARK_ADD, MARK_ADD_ACK = 0x0210, 0x0211
GROUP_DISMISS, GROUP_DISMISS_ACK, GROUP_KICK, GROUP_KICK_ACK = 0x0303, 0x0304, 0x030D, 0x030E
GROUP_GAG_ADD, GROUP_GAG_ADD_ACK, GROUP_GAG_DEL, GROUP_GAG_DEL_ACK = 0x0310, 0x0311, 0x0312, 0x0313
GROUP_BL_ADD, GROUP_BL_ADD_ACK, GROUP_BL_DEL, GROUP_BL_DEL_ACK = 0x0314, 0x0315, 0x0316, 0x0317
GROUP_MGR_ADD, GROUP_MGR_ADD_ACK, GROUP_MGR_DEL, GROUP_MGR_DEL_ACK = 0x0318, 0x0319, 0x031A, 0x031B
GROUP_KICK_NTF, GROUP_GAG_ADD_NTF, GROUP_GAG_DEL_NTF = 0x0354, 0x0356, 0x0358
GROUP_BL_ADD_NTF, GROUP_BL_DEL_NTF, GROUP_MGR_ADD_NTF, GROUP_MGR_DEL_NTF = 0x0360, 0x0362, 0x0364, 0x0366
BC, BC_ACK, P2P, P2P_ACK = 0x0501, 0x0502, 0x0503, 0x0504

BODIES: dict[int, str] = {
    ONLINE: "mesg_online",
    ONLINE_ACK: "mesg_online_ack",
    SUB: "mesg_sub",
    SUB_ACK: "mesg_sub_ack",
    ERROR: "mesg_error",
    SYNC: "mesg_sync",
    SYNC_ACK: "mesg_sync_ack",
    KICK: "mesg_kick",
    ONLINE_NTF: "mesg_online_ntf",
    OFFLINE_NTF: "mesg_offline_ntf",
    CHAT: "mesg_chat",
    CHAT_ACK: "mesg_chat_ack",
    FRIEND_ADD: "mesg_friend_add",
    FRIEND_ADD_ACK: "mesg_friend_add_ack",
    FRIEND_DEL: "mesg_friend_del",
    FRIEND_DEL_ACK: "mesg_friend_del_ack",
    BLACKLIST_ADD: "mesg_blacklist_add",
    BLACKLIST_ADD_ACK: "mesg_blacklist_add_ack",
    BLACKLIST_DEL: "mesg_blacklist_del",
    BLACKLIST_DEL_ACK: "mesg_blacklist_del_ack",
    GROUP_CREAT: "mesg_group_creat",
    GROUP_CREAT_ACK: "mesg_group_creat_ack",
    GROUP_JOIN: "mesg_group_join",
    GROUP_JOIN_ACK: "mesg_group_join_ack",
    GROUP_CHAT: "mesg_group_chat",
    GROUP_CHAT_ACK: "mesg_group_chat_ack",
    GROUP_JOIN_NTF: "mesg_group_join_ntf",
    GROUP_QUIT: "mesg_group_quit",
    GROUP_QUIT_ACK: "mesg_group_quit_ack",
    GROUP_INVITE: "mesg_group_invite",
    GROUP_INVITE_ACK: "mesg_group_invite_ack",
    GROUP_USR_LIST: "mesg_group_usr_list",
    GROUP_USR_LIST_ACK: "mesg_group_usr_list_ack",
    GROUP_QUIT_NTF: "mesg_group_quit_ntf",
    UNSUB: "mesg_unsub",
    UNSUB_ACK: "mesg_unsub_ack",
    ROOM_CREAT: "mesg_room_creat",
    ROOM_CREAT_ACK: "mesg_room_creat_ack",
    ROOM_DISMISS: "mesg_room_dismiss",
    ROOM_DISMISS_ACK: "mesg_room_dismiss_ack",
    ROOM_JOIN: "mesg_room_join",
    ROOM_JOIN_ACK: "mesg_room_join_ack",
    ROOM_QUIT: "mesg_room_quit",
    ROOM_QUIT_ACK: "mesg_room_quit_ack",
    ROOM_KICK: "mesg_room_kick",
    ROOM_KICK_ACK: "mesg_room_kick_ack",
    ROOM_CHAT: "mesg_room_chat",
    ROOM_CHAT_ACK: "mesg_room_chat_ack",
    ROOM_BC: "mesg_room_bc",
    ROOM_BC_ACK: "mesg_room_bc_ack",
    ROOM_USR_NUM: "mesg_room_usr_num",
    ROOM_JOIN_NTF: "mesg_room_join_ntf",
    ROOM_QUIT_NTF: "mesg_room_quit_ntf",
    ROOM_KICK_NTF: "mesg_room_kick_ntf",
    MARK_ADD: "mesg_mark_add",
    MARK_ADD_ACK: "mesg_mark_add_ack",
    GAG_ADD: "mesg_gag_add",
    GAG_ADD_ACK: "mesg_gag_add_ack",
    GAG_DEL: "mesg_gag_del",
    GAG_DEL_ACK: "mesg_gag_del_ack",
    GROUP_DISMISS: "mesg_group_dismiss",
    GROUP_DISMISS_ACK: "mesg_group_dismiss_ack",
    GROUP_KICK: "mesg_group_kick",
    GROUP_KICK_ACK: "mesg_group_kick_ack",
    GROUP_KICK_NTF: "mesg_group_kick_ntf",
    GROUP_GAG_ADD: "mesg_group_gag_add",
    GROUP_GAG_ADD_ACK: "mesg_group_gag_add_ack",
    GROUP_GAG_ADD_NTF: "mesg_group_gag_add_ntf",
    GROUP_GAG_DEL: "mesg_group_gag_del",
    GROUP_GAG_DEL_ACK: "mesg_group_gag_del_ack",
    GROUP_GAG_DEL_NTF: "mesg_group_gag_del_ntf",
    GROUP_BL_ADD: "mesg_group_bl_add",
    GROUP_BL_ADD_ACK: "mesg_group_bl_add_ack",
    GROUP_BL_ADD_NTF: "mesg_group_bl_add_ntf",
    GROUP_BL_DEL: "mesg_group_bl_del",
    GROUP_BL_DEL_ACK: "mesg_group_bl_del_ack",
    GROUP_BL_DEL_NTF: "mesg_group_bl_del_ntf",
    GROUP_MGR_ADD: "mesg_group_mgr_add",
    GROUP_MGR_ADD_ACK: "mesg_group_mgr_add_ack",
    GROUP_MGR_ADD_NTF: "mesg_group_mgr_add_ntf",
    GROUP_MGR_DEL: "mesg_group_mgr_del",
    GROUP_MGR_DEL_ACK: "mesg_group_mgr_del_ack",
    GROUP_MGR_DEL_NTF: "mesg_group_mgr_del_ntf",
}
REPLY_TYPES = {
    ONLINE_ACK,
    SUB_ACK,
    SYNC_ACK,
    OFFLINE_ACK,
    PONG,
    ERROR,
    ERROR_ACK,
    CHAT_ACK,
    FRIEND_ADD_ACK,
    FRIEND_DEL_ACK,
    BLACKLIST_ADD_ACK,
    BLACKLIST_DEL_ACK,
    GROUP_CREAT_ACK,
    GROUP_JOIN_ACK,
    GROUP_CHAT_ACK,
    GROUP_QUIT_ACK,
    GROUP_INVITE_ACK,
    GROUP_USR_LIST_ACK,
    UNSUB_ACK,
    ROOM_CREAT_ACK,
    ROOM_DISMISS_ACK,
    ROOM_JOIN_ACK,
    ROOM_QUIT_ACK,
    ROOM_KICK_ACK,
    ROOM_CHAT_ACK,
    GAG_ADD_ACK,
    GAG_DEL_ACK,
    MARK_ADD_ACK,
    GROUP_DISMISS_ACK,
    GROUP_KICK_ACK,
    GROUP_GAG_ADD_ACK,
    GROUP_GAG_DEL_ACK,
    GROUP_BL_ADD_ACK,
    GROUP_BL_DEL_ACK,
    GROUP_MGR_ADD_ACK,
    GROUP_MGR_DEL_ACK,
}


def body(cmd: int, **fields: Any) -> Any:
    return M[BODIES[cmd]](**fields)


@dataclass
class Header:
    type: int
    length: int = 0
    sid: int = 0
    cid: int = 0
    nid: int = 0
    seq: int = 0
    dsid: int = 0
    dseq: int = 0


@dataclass
class Frame:
    header: Header
    raw: bytes

    @property
    def type(self) -> int:
        return self.header.type

    @property
    def msg(self) -> Any:
        """The decoded body (a protobuf message of package beehive_test)."""
        name = BODIES[self.header.type]
        m = M[name]()
        m.ParseFromString(self.raw)
        return m


def encode(cmd: int, payload: Any = b"", *, sid: int, seq: int) -> bytes:
    raw = payload if isinstance(payload, bytes) else payload.SerializeToString()
    return HEADER.pack(cmd, len(raw), sid, 0, 0, seq, 0, 0) + raw


class BeehiveClient:
    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.seq = 0
        self.uid = 0
        self.pushes: asyncio.Queue[Frame] = asyncio.Queue()
        self._pending: dict[tuple[int, int], asyncio.Future[Frame]] = {}
        self._closed = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.ws_close_code: int | None = None
        self._sends: set[asyncio.Future[None]] = set()

    # -- connecting -------------------------------------------------------------------------------
    @classmethod
    async def tcp(cls, host: str, port: int, sid: int) -> BeehiveClient:
        client = cls(sid)
        reader, client._writer = await asyncio.open_connection(host, port)
        client._task = asyncio.ensure_future(client._read_tcp(reader))
        return client

    @classmethod
    async def websocket(cls, url: str, sid: int) -> BeehiveClient:
        client = cls(sid)
        client._http = aiohttp.ClientSession()
        client._ws = await client._http.ws_connect(url, protocols=("im",))
        client._task = asyncio.ensure_future(client._read_ws())
        return client

    async def _read_tcp(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readexactly(HEADER_SIZE)
                header = Header(*HEADER.unpack(head))
                raw = await reader.readexactly(header.length) if header.length else b""
                self._dispatch(Frame(header, raw))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._closed.set()

    async def _read_ws(self) -> None:
        assert self._ws is not None
        try:
            async for msg in self._ws:
                assert msg.type == aiohttp.WSMsgType.BINARY, f"server sent {msg.type} (spec: binary)"
                data: bytes = msg.data
                header = Header(*HEADER.unpack_from(data, 0))
                assert header.length == len(data) - HEADER_SIZE, "one frame per WebSocket message"
                self._dispatch(Frame(header, data[HEADER_SIZE:]))
        finally:
            self.ws_close_code = self._ws.close_code
            self._closed.set()

    def _dispatch(self, frame: Frame) -> None:
        h = frame.header
        if h.type in REPLY_TYPES:
            fut = self._pending.pop((h.seq, h.type), None) or self._pending.pop((h.seq, ERROR), None)
            if h.type == ERROR and fut is None:
                fut = next((f for (s, _), f in list(self._pending.items()) if s == h.seq), None)
                for key in [k for k in self._pending if k[0] == h.seq]:
                    del self._pending[key]
            if fut is not None and not fut.done():
                fut.set_result(frame)
                return
        self.pushes.put_nowait(frame)

    # -- sending ----------------------------------------------------------------------------------
    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def send(self, cmd: int, payload: Any = b"", *, seq: int | None = None, sid: int | None = None) -> int:
        s = self.next_seq() if seq is None else seq
        data = encode(cmd, payload, sid=self.sid if sid is None else sid, seq=s)
        self.send_raw(data)
        return s

    def send_raw(self, data: bytes) -> None:
        if self._writer is not None:
            self._writer.write(data)
        else:
            assert self._ws is not None
            task = asyncio.ensure_future(self._ws.send_bytes(data))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def request(
        self, cmd: int, payload: Any = b"", *, seq: int | None = None, timeout: float = 5.0
    ) -> Frame:
        s = self.next_seq() if seq is None else seq
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Frame] = loop.create_future()
        self._pending[(s, cmd + 1)] = fut
        self._pending[(s, ERROR)] = fut
        self.send(cmd, payload, seq=s)
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop((s, cmd + 1), None)
            self._pending.pop((s, ERROR), None)

    # -- commands ---------------------------------------------------------------------------------
    async def online(
        self, uid: int, token: str, *, app: str = "test", version: str = "1.0", terminal: int | None = 1
    ) -> Any:
        fields: dict[str, Any] = {"uid": uid, "sid": self.sid, "token": token, "app": app, "version": version}
        if terminal is not None:
            fields["terminal"] = terminal
        reply = await self.request(ONLINE, body(ONLINE, **fields))
        assert reply.type == ONLINE_ACK, reply
        ack = reply.msg
        if ack.code == 0:
            self.uid = uid
            self.seq = ack.seq  # the floor; the next frame carries a larger value (§2.4)
        return ack

    async def sync(self) -> tuple[list[Frame], Any]:
        """SYNC; returns the frames pushed before SYNC-ACK and the ACK body."""
        reply = await self.request(SYNC, body(SYNC, uid=self.uid))
        frames = []
        while not self.pushes.empty():
            frames.append(self.pushes.get_nowait())
        return frames, reply.msg

    async def chat(self, duid: int, text: str, *, suid: int | None = None, data: bytes | None = None) -> Any:
        fields: dict[str, Any] = {
            "suid": self.uid if suid is None else suid,
            "duid": duid,
            "level": 0,
            "time": int(time.time()),
            "text": text,
        }
        if data is not None:
            fields["data"] = data
        reply = await self.request(CHAT, body(CHAT, **fields))
        assert reply.type == CHAT_ACK, reply
        return reply.msg

    def ack_chat(self, frame: Frame) -> None:
        """The receiver's CHAT-ACK: header seq = the delivered CHAT's seq (§4.2)."""
        m = frame.msg
        ack = body(CHAT_ACK, suid=m.suid, duid=m.duid, code=0, errmsg="Ok")
        self.send(CHAT_ACK, ack, seq=frame.header.seq)

    async def pair(self, cmd: int, duid: int, **extra: Any) -> Any:
        """FRIEND-ADD/-DEL, BLACKLIST-ADD/-DEL: returns the ACK body (or the ERROR body)."""
        reply = await self.request(cmd, body(cmd, suid=extra.pop("suid", self.uid), duid=duid, **extra))
        return reply.msg

    async def group(self, cmd: int, gid: int, **fields: Any) -> Frame:
        """A 0x03xx request {uid (the acting user unless given), gid, …}; returns the reply frame."""
        fields.setdefault("uid", self.uid)
        return await self.request(cmd, body(cmd, gid=gid, **fields))

    async def create_group(self, name: str) -> int:
        """GROUP-CREAT; the gid arrives as GROUP-JOIN-NTF with the request's seq (beehive.md §4.3)."""
        reply = await self.request(GROUP_CREAT, body(GROUP_CREAT, uid=self.uid, gid=0, name=name, desc=""))
        assert reply.type == GROUP_CREAT_ACK and reply.msg.code == 0, reply
        ntf = await self.expect(GROUP_JOIN_NTF)
        assert ntf.header.seq == reply.header.seq
        gid: int = ntf.msg.gid
        return gid

    async def ping(self) -> Frame:
        return await self.request(PING)

    async def expect(self, cmd: int, timeout: float = 5.0) -> Frame:
        """The next push of type ``cmd``; pushes of other types before it are dropped."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no push 0x{cmd:04x}")
            frame = await asyncio.wait_for(self.pushes.get(), left)
            if frame.type == cmd:
                return frame

    async def no_push(self, cmd: int, wait: float = 0.5) -> bool:
        with contextlib.suppress(TimeoutError):
            await self.expect(cmd, wait)
            return False
        return True

    async def wait_closed(self, timeout: float = 5.0) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), timeout)
        return self._closed.is_set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
