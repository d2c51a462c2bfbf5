"""TeamTalk module 6 (teamtalk.md §3.6, §4.8, §4.9, §8.3): file offers on the msg listener, and the
file listener's logins, online relays and offline uploads and downloads.

Tasks, offline files and who may do what are the core's (``core/files.py``); this module speaks the
frames. An online transfer is relayed connection to connection, frames unchanged, and the receiver's
pace paces the sender: when the receiver's connection stops draining, the sender's stops being read.
An offline upload is pulled by the server in 64 KiB segments, one outstanding at a time, into the
file store; a download is served from it at any offset.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from polyim.core.app import Core
from polyim.core.content import FILE_NAME, MEDIA_URL
from polyim.core.errors import CoreError
from polyim.core.events import FileEvent
from polyim.core.files import FileLimits, FileTask
from polyim.core.messaging import Outgoing
from polyim.http.common import api_error
from polyim.model import ContentType, ConvId, DeviceClass
from polyim.protocols.channel import Refused, State
from polyim.protocols.teamtalk import codec as c
from polyim.protocols.teamtalk.adapter import (
    FILE_ATTR,
    FILE_HOOKS,
    PROTOCOL,
    Endpoints,
    TeamTalkChannel,
    on,
    wire_id,
)
from polyim.protocols.teamtalk.settings import TeamTalkSettings

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # the file server's 7/1 after this much send silence
EXPIRE_INTERVAL = 600.0  # s between sweeps of expired offline files
SEGMENT = 64 * 1024  # offline upload pull size (§4.9)
WINDOWS_END_GRACE = 10.0  # s after a relayed 6/5 past the end before the task ends (§4.8)
# 6/2 and 6/5 results (§6.3)
OK, NO_TASK, REFUSED, BAD_TOKEN, NOT_PARTY = 0, 1, 2, 3, 4
PULL_ILLEGAL_USER, PULL_READ_ERROR = 6, 8


def limits(settings: TeamTalkSettings) -> FileLimits:
    return FileLimits(
        settings.file_max_size,
        settings.file_user_quota,
        settings.file_task_timeout,
        settings.offline_file_days,
    )


@dataclass
class FileConn:
    """What a file connection serves: one task, as one of its two parties."""

    task: FileTask
    uid: int
    sender: bool
    upload: asyncio.Queue[bytes | None] | None = None
    expected: int = 0  # next upload offset
    reader: AsyncIterator[bytes] | None = None  # a download's position in the stored file
    read_pos: int = 0
    pending: bytes = b""
    done: bool = False
    wrote: bool = False  # something was sent since the last heartbeat tick


# == msg listener =========================================================================================
def addresses(ch: TeamTalkChannel) -> list[c.Address]:
    host = ch.endpoints.advertise or ch.local
    return [c.Address(host, ch.endpoints.file_port)]


def online_on_pc_only(ch: TeamTalkChannel, uid: int) -> bool:
    """An online offer stays online only if the recipient is on a TeamTalk PC client and on no
    mobile-class one anywhere (§3.6 6/10)."""
    sessions = ch.core.sessions.of(uid)
    pc = [s for s in sessions if s.protocol == PROTOCOL and s.device_class is DeviceClass.DESKTOP]
    return bool(pc) and not any(s.device_class is DeviceClass.MOBILE for s in sessions)


@on(c.FILE_REQ, c.FileReq.decode)
async def _file_request(ch: TeamTalkChannel, frame: c.Frame, req: c.FileReq) -> bytes:
    """6/10 → 6/11, and 6/12 to the recipient's sessions."""
    if req.from_id != str(ch.me):
        log.warning("teamtalk %s: 6/10 from %r is not uid %d, closing", ch.conn.peer, req.from_id, ch.me)
        raise Refused(None, close=True)

    def failed(result: int) -> bytes:
        return ch.reply(
            c.FILE_RES, frame, c.FileRes(result, req.from_id, req.to_id, req.file_name, "", [], 0)
        )

    if not ch.endpoints.file_port:
        return failed(c.RESULT_NO_FILE_SERVER)
    to = wire_id(req.to_id)
    if to is None:
        return failed(REFUSED)
    offline = req.trans_mode != c.MODE_ONLINE or not online_on_pc_only(ch, to)
    try:
        task = await ch.core.transfers.offer(
            ch.live_session, to, req.file_name, req.file_size, offline, limits(ch.settings)
        )
    except CoreError as exc:
        log.info("teamtalk %s: 6/10 refused (%s)", ch.conn.peer, exc.text)
        return failed(REFUSED)
    mode = c.MODE_OFFLINE if offline else c.MODE_ONLINE
    ch.core.transfers.announce(task)
    body = c.FileRes(OK, req.from_id, req.to_id, task.name, task.task_id, addresses(ch), mode)
    return ch.reply(c.FILE_RES, frame, body)


def on_file(ch: TeamTalkChannel, event: FileEvent) -> None:
    """6/12 to every TeamTalk session of the recipient (§3.6)."""
    if ch.session is None:
        return
    mode = c.MODE_OFFLINE if event.offline else c.MODE_ONLINE
    body = c.FileNotify(
        str(event.sender),
        str(event.recipient),
        event.name,
        event.size,
        event.task_id,
        addresses(ch),
        mode,
        1 if event.ready else 0,
    )
    ch.push(c.FILE_NOTIFY, body)


TeamTalkChannel.events[FileEvent] = on_file


@on(c.HAS_OFFLINE_REQ)
async def _offline_files(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> bytes:
    waiting = await ch.core.transfers.waiting_for(ch.me, limits(ch.settings))
    files = [c.OfflineFile(str(t.sender), t.task_id, t.name, t.size) for t in waiting]
    return ch.reply(c.HAS_OFFLINE_RES, frame, c.HasOfflineRes(files, addresses(ch)))


@on(c.ADD_OFFLINE_REQ, c.AddOfflineReq.decode)
async def _add_offline(ch: TeamTalkChannel, frame: c.Frame, req: c.AddOfflineReq) -> None:
    """6/18 after a complete upload: the recipient is told (6/12 ready, or a message with a link in
    another protocol's words). Anything else is ignored (§4.9)."""
    if req.from_id != str(ch.me):
        log.warning("teamtalk %s: 6/18 from %r is not uid %d, closing", ch.conn.peer, req.from_id, ch.me)
        raise Refused(None, close=True)
    task = ch.core.transfers.find(req.task_id, limits(ch.settings))
    if task is None or not await ch.core.transfers.register(ch.me, task):
        log.info("teamtalk %s: 6/18 for %r ignored", ch.conn.peer, req.task_id)
        return
    ch.core.transfers.announce(task)
    await _tell_other_protocols(ch, task)


async def _tell_other_protocols(ch: TeamTalkChannel, task: FileTask) -> None:
    """A 1:1 message from the sender naming the file, with a signed, expiring link for the recipient
    only; TeamTalk sessions skip it (they have 6/12 and 6/17)."""
    http = ch.core.nodes.listener("http", "tcp")
    if http is None:
        return
    ttl = ch.settings.offline_file_days * 86_400
    token = ch.core.transfers.link_token(task, ttl)
    host = ch.endpoints.advertise or http.host
    url = f"http://{host}:{http.port}/teamtalk/files/{task.task_id}?token={token}"
    extra = {FILE_NAME: task.name, "size": task.size, MEDIA_URL: url, FILE_ATTR: task.task_id}
    text = f"[file] {task.name} {url}"
    out = Outgoing(
        ConvId.peer(task.sender, task.recipient), ContentType.FILE, text, f"file:{task.task_id}", extra=extra
    )
    try:
        await ch.messages.send(ch.live_session, out, PROTOCOL, ch.policy)
    except CoreError as exc:
        log.info("teamtalk %s: file message refused (%s)", ch.conn.peer, exc.text)


@on(c.DEL_OFFLINE_REQ, c.DelOfflineReq.decode)
async def _delete_offline(ch: TeamTalkChannel, frame: c.Frame, req: c.DelOfflineReq) -> None:
    """6/19: the recipient removes the file; from anyone else it is ignored (§4.9)."""
    if req.to_id != str(ch.me):
        log.info("teamtalk %s: 6/19 by a non-recipient ignored", ch.conn.peer)
        return
    task = await ch.core.transfers.lookup(req.task_id, limits(ch.settings))
    if task is not None:
        await ch.core.transfers.delete(ch.me, task)


# == file listener: heartbeat ==========================================================================
def send(ch: TeamTalkChannel, data: bytes) -> None:
    """Everything a file connection is sent goes through here, so its heartbeat knows (§1.4)."""
    ch.conn.write(data)
    conn: FileConn | None = ch.file
    if conn is not None:
        conn.wrote = True


def heartbeat(ch: TeamTalkChannel) -> None:
    """7/1 after ``HEARTBEAT_S`` seconds in which the file connection was sent nothing (§1.4)."""
    conn: FileConn | None = ch.file
    if conn is None:
        return
    if not conn.wrote:
        ch.conn.write(c.encode_frame(c.HEARTBEAT, 0))
    conn.wrote = False
    ch.conn.call_later(HEARTBEAT_S, lambda: heartbeat(ch))


# == file listener: login =================================================================================
@on(c.FILE_LOGIN_REQ, c.FileLoginReq.decode, states=State.ANY, role="file")
async def _file_login(ch: TeamTalkChannel, frame: c.Frame, req: c.FileLoginReq) -> None:
    """6/1 → 6/2 (§8.3): the user by token or by a live msg session from the same address, a party of
    the task, in a mode its role allows; any failure is answered and closes."""
    if ch.file is not None:
        return
    result, conn = _join(ch, req, await ch.core.transfers.lookup(req.task_id, limits(ch.settings)))
    send(ch, ch.reply(c.FILE_LOGIN_RES, frame, c.FileLoginRes(result, req.task_id)))
    if conn is None:
        log.info("teamtalk file %s: 6/1 for %r refused (%d)", ch.conn.peer, req.task_id, result)
        ch.conn.close()
        return
    ch.file = conn
    ch.conn.logged_in = True  # the file connection's idle deadline from now on
    ch.conn.call_later(HEARTBEAT_S, lambda: heartbeat(ch))
    if conn.task.offline and conn.sender:
        conn.upload = asyncio.Queue()
        _background(ch, _upload(ch, conn))
        _pull(ch, conn)
    elif not conn.task.offline:
        other = _peer(ch)
        if other is not None:  # the second party hears PEER_READY with its own id (§3.6 6/3)
            send(
                ch,
                c.frame_of(
                    c.FILE_STATE, 0, c.FileState(c.STATE_PEER_READY, conn.task.task_id, str(conn.uid))
                ),
            )


def _join(ch: TeamTalkChannel, req: c.FileLoginReq, task: FileTask | None) -> tuple[int, FileConn | None]:
    transfers = ch.core.transfers
    uid = wire_id(req.user_id)
    addr = ch.conn.peer.rsplit(":", 1)[0]
    by_token = uid is not None and ch.core.accounts.token_uid(req.token) == uid
    by_session = (
        uid is not None and not ch.settings.file_token_required and transfers.login_from(uid, addr, PROTOCOL)
    )
    if uid is None or not (by_token or by_session):
        return BAD_TOKEN, None
    if task is None:
        return NO_TASK, None
    if not transfers.may_join(uid, task):
        return NOT_PARTY, None
    sender = uid == task.sender
    mode = req.client_mode
    if task.offline:
        allowed = (mode == c.CLIENT_OFFLINE_UPLOAD and sender and not task.file_id) or (
            mode == c.CLIENT_OFFLINE_DOWNLOAD and not sender and task.ready
        )
    else:
        allowed = mode in (c.CLIENT_REALTIME_SENDER, c.CLIENT_REALTIME_RECEIVER, c.CLIENT_OFFLINE_DOWNLOAD)
        parties = ch.endpoints.relays.setdefault(task.task_id, {})
        allowed = allowed and sender not in parties
        if allowed:
            parties[sender] = ch
    if not allowed:
        return NOT_PARTY, None
    transfers.touch(task)
    return OK, FileConn(task, uid, sender)


def _peer(ch: TeamTalkChannel) -> TeamTalkChannel | None:
    conn: FileConn | None = ch.file
    if conn is None:
        return None
    return ch.endpoints.relays.get(conn.task.task_id, {}).get(not conn.sender)


def _background(ch: TeamTalkChannel, coro: Coroutine[Any, Any, None]) -> None:
    keep_running(ch.endpoints, coro)


def keep_running(ends: Endpoints, coro: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.ensure_future(coro)
    ends.jobs.add(task)
    task.add_done_callback(ends.jobs.discard)


def expire_regularly(core: Core, ends: Endpoints, settings: TeamTalkSettings) -> None:
    """Offline files past ``offline_file_days`` and abandoned tasks go, every ten minutes."""
    core.nodes.every(EXPIRE_INTERVAL, lambda: keep_running(ends, core.transfers.expire(limits(settings))))


# == file listener: after login ===========================================================================
def _own(ch: TeamTalkChannel, user_id: str) -> FileConn:
    """The connection's file state, with ``user_id`` its logged-in party (§8.2), else the close."""
    conn: FileConn | None = ch.file
    if conn is None:
        raise Refused(None)  # before 6/1: ignored (§2.6 step 6)
    if user_id != str(conn.uid):
        log.warning(
            "teamtalk file %s: user_id %r is not the party %d, closing", ch.conn.peer, user_id, conn.uid
        )
        raise Refused(None, close=True)
    return conn


@on(c.FILE_STATE, c.FileState.decode, states=State.ANY, role="file")
async def _state(ch: TeamTalkChannel, frame: c.Frame, req: c.FileState) -> None:
    """6/3 CANCEL, REFUSE or DONE from a party of an online task: relayed, and the task ends."""
    conn = _own(ch, req.user_id)
    if conn.task.offline:
        return
    other = _peer(ch)
    if other is not None:
        send(other, c.encode_frame(frame.key, frame.reserved, frame.body))
    if req.state in (c.STATE_CANCEL, c.STATE_REFUSE, c.STATE_DONE):
        conn.done = True
        _end(ch)


@on(c.PULL_DATA_REQ, c.PullDataReq.decode, states=State.ANY, role="file")
async def _pull_request(ch: TeamTalkChannel, frame: c.Frame, req: c.PullDataReq) -> None:
    """6/4: online, from the receiver, relayed to the sender (size capped at 1 MiB); offline, a
    download served from the store (§4.9)."""
    conn = _own(ch, req.user_id)
    ch.core.transfers.touch(conn.task)
    size = min(req.size, c.MAX_FILE_DATA)
    if not conn.task.offline:
        other = _peer(ch)
        if other is not None and not conn.sender:
            relayed = c.PullDataReq(req.task_id, req.user_id, req.mode, req.offset, size)
            send(other, c.frame_of(frame.key, frame.reserved, relayed))
        return
    if conn.sender or not conn.task.ready:
        return
    if req.mode != c.MODE_OFFLINE:
        send(ch, ch.reply(c.PULL_DATA_RES, frame, c.PullDataRes(PULL_ILLEGAL_USER, "", "", 0, b"")))
        return
    await _serve_download(ch, conn, frame, req.offset, size)


async def _serve_download(
    ch: TeamTalkChannel, conn: FileConn, frame: c.Frame, offset: int, size: int
) -> None:
    task = conn.task
    sender = str(task.sender)
    if offset >= task.size:
        send(ch, ch.reply(c.PULL_DATA_RES, frame, c.PullDataRes(OK, task.task_id, sender, offset, b"")))
        send(ch, c.frame_of(c.FILE_STATE, 0, c.FileState(c.STATE_DONE, task.task_id, str(conn.uid))))
        ch.conn.close()
        return
    try:
        data = await _read_at(ch, conn, offset, min(size, task.size - offset))
    except OSError as exc:
        log.error("teamtalk file %s: cannot read %s: %s", ch.conn.peer, task.task_id, exc)
        send(ch, ch.reply(c.PULL_DATA_RES, frame, c.PullDataRes(PULL_READ_ERROR, "", "", 0, b"")))
        return
    send(ch, ch.reply(c.PULL_DATA_RES, frame, c.PullDataRes(OK, task.task_id, sender, offset, data)))


async def _read_at(ch: TeamTalkChannel, conn: FileConn, offset: int, n: int) -> bytes:
    """``n`` bytes at ``offset`` of the stored file: read on from where the last read stopped (the
    clients read in order), reopened from the start when a client seeks back."""
    if conn.reader is None or offset < conn.read_pos:
        conn.reader = ch.core.transfers.read(conn.task)
        conn.read_pos, conn.pending = 0, b""
    out = bytearray()
    while len(out) < n:
        if not conn.pending:
            conn.pending = await anext(conn.reader, b"")
            if not conn.pending:
                break
        skip = max(0, offset + len(out) - conn.read_pos)
        if skip >= len(conn.pending):
            conn.read_pos += len(conn.pending)
            conn.pending = b""
            continue
        take = conn.pending[skip : skip + n - len(out)]
        out += take
        conn.read_pos += skip + len(take)
        conn.pending = conn.pending[skip + len(take) :]
    return bytes(out)


@on(c.PULL_DATA_RES, c.PullDataRes.decode, states=State.ANY, role="file")
async def _pull_answer(ch: TeamTalkChannel, frame: c.Frame, res: c.PullDataRes) -> None:
    """6/5 from the sender: online, relayed to the receiver; offline, a segment of the upload."""
    conn = _own(ch, res.user_id)
    if not conn.sender:
        return
    ch.core.transfers.touch(conn.task)
    if conn.task.offline:
        _segment(ch, conn, res)
        return
    other = _peer(ch)
    if other is not None:
        send(other, c.encode_frame(frame.key, frame.reserved, frame.body))
    if res.offset + len(res.data) >= conn.task.size and not conn.done:
        conn.done = True  # the Windows receiver sends no DONE: the task ends a little later (§4.8)
        ch.conn.call_later(WINDOWS_END_GRACE, lambda: _end(ch))


# == offline upload =======================================================================================
def _pull(ch: TeamTalkChannel, conn: FileConn) -> None:
    """The 6/4 for the next segment (§4.9)."""
    size = min(SEGMENT, conn.task.size - conn.expected)
    body = c.PullDataReq(conn.task.task_id, str(conn.uid), c.MODE_OFFLINE, conn.expected, size)
    send(ch, c.frame_of(c.PULL_DATA_REQ, 0, body))


def _segment(ch: TeamTalkChannel, conn: FileConn, res: c.PullDataRes) -> None:
    """A segment at the expected offset of the expected size is kept and the next one pulled; any
    other answer is answered by the pull for the first missing segment."""
    want = min(SEGMENT, conn.task.size - conn.expected)
    if conn.upload is None or conn.done:
        return
    if res.result != OK or res.offset != conn.expected or len(res.data) != want:
        _pull(ch, conn)
        return
    conn.upload.put_nowait(res.data)
    conn.expected += want
    if conn.expected < conn.task.size:
        _pull(ch, conn)
    else:
        conn.done = True
        conn.upload.put_nowait(None)


async def _upload(ch: TeamTalkChannel, conn: FileConn) -> None:
    """The file store takes the segments as they come; once committed, 6/3 DONE to the uploader."""
    queue = conn.upload
    assert queue is not None

    async def segments() -> AsyncIterator[bytes]:
        while (piece := await queue.get()) is not None:
            yield piece

    try:
        await ch.core.transfers.store_upload(conn.task, segments())
    except Exception as exc:
        log.warning("teamtalk file %s: upload of %s failed: %s", ch.conn.peer, conn.task.task_id, exc)
        await ch.core.transfers.drop(conn.task)
        ch.conn.close()
        return
    send(ch, c.frame_of(c.FILE_STATE, 0, c.FileState(c.STATE_DONE, conn.task.task_id, str(conn.uid))))
    log.info(
        "teamtalk file %s: offline file %s stored (%d bytes)", ch.conn.peer, conn.task.task_id, conn.task.size
    )


# == the end of a task ====================================================================================
def _end(ch: TeamTalkChannel) -> None:
    """An online task is over: both file connections close (§4.8)."""
    conn: FileConn | None = ch.file
    if conn is None:
        return
    parties = ch.endpoints.relays.pop(conn.task.task_id, {})
    ch.core.transfers.end(conn.task)
    for party in parties.values():
        party.conn.close()
    ch.conn.close()


def file_closed(ch: TeamTalkChannel, _closed: bool = True) -> None:
    """A file connection went away: an unfinished online task ends with 6/3 CANCEL to the other party;
    an unfinished upload is dropped."""
    conn: FileConn | None = ch.file
    if conn is None:
        return
    if conn.upload is not None and not conn.done:
        conn.upload.put_nowait(None)  # the store sees a short file and refuses it
    if conn.task.offline:
        return
    other = _peer(ch)
    if other is not None and not conn.done:
        send(
            other, c.frame_of(c.FILE_STATE, 0, c.FileState(c.STATE_CANCEL, conn.task.task_id, str(conn.uid)))
        )
    _end(ch)


def relay_paused(ch: TeamTalkChannel, paused: bool) -> None:
    """The receiver's connection stopped (or resumed) draining: so does the reading of the sender's."""
    conn: FileConn | None = ch.file
    if conn is None or conn.sender:
        return
    other = _peer(ch)
    if other is not None:
        if paused:
            other.conn.pause_reading()
        else:
            other.conn.resume_reading()


# == the link other protocols' users get ====================================================================
def http_routes(core: Core, settings: TeamTalkSettings) -> list[web.RouteDef]:
    """``GET /teamtalk/files/{task_id}?token=…``: the offline file, for the holder of the recipient's
    signed link only (404 for anything else, so a link reveals nothing about other files)."""

    async def download(request: web.Request) -> web.StreamResponse:
        token = request.query.get("token", "")
        task = await core.transfers.by_link(request.match_info["task_id"], token, limits(settings))
        if task is None:
            return api_error(404, "no such file")
        quoted = urllib.parse.quote(task.name)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(task.size),
                "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}",
            }
        )
        await response.prepare(request)
        async for chunk in core.transfers.read(task):
            await response.write(chunk)
        await response.write_eof()
        return response

    return [web.get("/teamtalk/files/{task_id}", download)]


FILE_HOOKS["closed"] = file_closed
FILE_HOOKS["paused"] = relay_paused
