"""File transfers between users (design.md §4 "Files"): transfer tasks, offline files kept in the
:class:`~polyim.store.base.FileStore`, and who may do what with them.

A task is made by its sender for one recipient; only those two may join it, only the sender uploads,
only the recipient downloads or deletes an offline file. The limits (one file's size, the bytes one
uploader may keep waiting) and the retention are given by the protocol that offers transfers (TeamTalk
today). Transfers in progress live in this node's memory; an offline file, once its sender registered
it for the recipient, is recorded in the database too (:meth:`Files.load` brings the records back at
start), so a restart loses no file that is waiting.

A recipient told of an offline file in another protocol's words gets a 1:1 message from the sender
naming it, with an HTTP link whose token is signed for that recipient and that file only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from polyim.core.auth import TokenSigner
from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import FileEvent
from polyim.core.sessions import Session
from polyim.model import OfflineFile
from polyim.store.base import FileStore

log = logging.getLogger(__name__)

LINK_PURPOSE = "file-link"


@dataclass
class FileTask:
    """One transfer: ``offline`` ones are stored (``file_id`` once the upload is complete, ``ready``
    once the sender registered it for the recipient)."""

    task_id: str
    sender: int
    recipient: int
    name: str
    size: int
    offline: bool
    created_ms: int
    active_ms: int
    file_id: str = ""
    ready: bool = False


@dataclass(frozen=True, slots=True)
class FileLimits:
    """What the offering protocol allows (TeamTalk ``file_max_size``, ``file_user_quota``,
    ``file_task_timeout``, ``offline_file_days``)."""

    max_size: int
    user_quota: int
    task_timeout_s: float
    keep_days: int


class Files:
    def __init__(self, ctx: Context, store: FileStore | None, signer: TokenSigner) -> None:
        self.ctx = ctx
        self.store = store
        self.links = signer
        self.tasks: dict[str, FileTask] = {}

    # -- tasks ------------------------------------------------------------------------------------
    async def offer(
        self, session: Session, recipient: int, name: str, size: int, offline: bool, limits: FileLimits
    ) -> FileTask:
        """A new task from ``session``'s user to ``recipient``: the recipient exists and has not blocked
        the sender; an offline file fits the size limit and the sender's quota (nothing is refused for
        an online relay's size: its bytes are never kept)."""
        await self.ctx.require_account(recipient)
        if session.uid in await self.ctx.blocked_by(recipient):
            raise CoreError(Code.BLOCKED, "blocked by the recipient")
        if offline:
            if self.store is None:
                raise CoreError(Code.INTERNAL, "no file store")
            if size <= 0 or size > limits.max_size:
                raise CoreError(Code.TOO_LARGE, "file size out of range")
            if self.waiting_bytes(session.uid) + size > limits.user_quota:
                raise CoreError(Code.LIMIT, "offline file quota reached")
        now = self.ctx.clock.now_ms()
        task = FileTask(
            secrets.token_hex(16), session.uid, recipient, clean_name(name), size, offline, now, now
        )
        self.tasks[task.task_id] = task
        return task

    def announce(self, task: FileTask) -> int:
        """Tell the recipient's sessions of the offer (again, once an offline file is ready)."""
        event = FileEvent(
            task.task_id, task.sender, task.recipient, task.name, task.size, task.offline, task.ready
        )
        return self.ctx.sessions.deliver([task.recipient], event)

    def find(self, task_id: str, limits: FileLimits) -> FileTask | None:
        """The live task ``task_id``: an online task lives ``task_timeout_s`` after its last activity, an
        offline one until its file is deleted or ``keep_days`` have passed."""
        task = self.tasks.get(task_id)
        if task is None:
            return None
        now = self.ctx.clock.now_ms()
        if task.ready:
            alive = now - task.created_ms < limits.keep_days * 86_400_000
        else:
            alive = now - task.active_ms < limits.task_timeout_s * 1000
        if not alive:
            self.tasks.pop(task_id, None)
            return None
        return task

    def touch(self, task: FileTask) -> None:
        task.active_ms = self.ctx.clock.now_ms()

    def end(self, task: FileTask) -> None:
        """An online task is over (done, cancelled, refused, or a party left)."""
        if not task.offline:
            self.tasks.pop(task.task_id, None)

    def waiting_bytes(self, uploader: int) -> int:
        """Bytes of offline files from ``uploader`` not deleted yet, uploads in progress included."""
        return sum(t.size for t in self.tasks.values() if t.offline and t.sender == uploader)

    def may_join(self, uid: int, task: FileTask) -> bool:
        return uid in (task.sender, task.recipient)

    def login_from(self, uid: int, addr: str, protocol: str) -> bool:
        """``uid`` has a live session of ``protocol`` from ``addr`` on this node: the file login of old
        clients that never send their token back (TeamTalk §8.3 (b))."""
        return any(s.protocol == protocol and s.peer_addr == addr for s in self.ctx.sessions.of(uid))

    # -- offline files ----------------------------------------------------------------------------
    async def store_upload(self, task: FileTask, stream: AsyncIterator[bytes]) -> None:
        """Keep the uploaded bytes of an offline task (at most its announced size)."""
        assert self.store is not None
        ref = await self.store.put(stream, task.size)
        if ref.size != task.size:
            await self.store.delete(ref.id)
            raise CoreError(Code.BAD_REQUEST, "upload shorter than announced")
        task.file_id = ref.id
        self.touch(task)

    async def register(self, uid: int, task: FileTask) -> bool:
        """The sender announces a complete upload to its recipient (False: not its task, not uploaded).
        The record is committed before this returns: the recipient is told of a file that survives."""
        if uid != task.sender or not task.offline or not task.file_id:
            return False
        record = OfflineFile(
            task.task_id, task.sender, task.recipient, task.name, task.size, task.file_id, task.created_ms
        )
        await self.ctx.store.keep_offline_file(record)
        task.ready = True
        return True

    async def load(self) -> None:
        """The offline files recorded before a restart, waiting again for their recipients."""
        for record in await self.ctx.store.offline_files():
            self.tasks[record.task_id] = _ready_task(record)

    async def lookup(self, task_id: str, limits: FileLimits) -> FileTask | None:
        """The live task ``task_id`` (see :meth:`find`), a ready offline file as the database has it: on a
        cluster another node may have received it (its record is read) or deleted it (it is forgotten
        here; its bytes went with the record)."""
        task = self.find(task_id, limits)
        if task is not None and not task.ready:
            return task
        records = await self.ctx.store.offline_files(task_id=task_id)
        if not records:
            self.tasks.pop(task_id, None)
            return None
        self.tasks.setdefault(task_id, _ready_task(records[0]))
        return self.find(task_id, limits)

    async def waiting_for(self, uid: int, limits: FileLimits) -> list[FileTask]:
        """The ready offline files for ``uid``, from the database (any node may have received one)."""
        waiting = []
        for record in await self.ctx.store.offline_files(recipient=uid):
            self.tasks.setdefault(record.task_id, _ready_task(record))
            task = self.find(record.task_id, limits)
            if task is not None:
                waiting.append(task)
        return waiting

    def offline(self, uid: int | None = None) -> list[FileTask]:
        """The offline files kept for ``uid`` (None: for everyone), oldest first: an operator's view."""
        kept = [t for t in self.tasks.values() if t.ready and uid in (None, t.recipient)]
        return sorted(kept, key=lambda t: (t.created_ms, t.task_id))

    def read(self, task: FileTask) -> AsyncIterator[bytes]:
        assert self.store is not None and task.file_id
        return self.store.open(task.file_id)

    async def delete(self, uid: int, task: FileTask) -> bool:
        """Only the recipient deletes an offline file (TeamTalk 6/19)."""
        if uid != task.recipient or not task.offline:
            return False
        await self.drop(task)
        return True

    async def drop(self, task: FileTask) -> None:
        self.tasks.pop(task.task_id, None)
        if task.ready:
            await self.ctx.store.forget_offline_file(task.task_id)
        if task.file_id and self.store is not None:
            await self.store.delete(task.file_id)

    async def expire(self, limits: FileLimits) -> int:
        """Remove the offline files kept longer than ``keep_days`` and abandoned uploads."""
        gone = [t for t in list(self.tasks.values()) if self.find(t.task_id, limits) is None]
        for task in gone:
            await self.drop(task)
        return len(gone)

    # -- links for other protocols ----------------------------------------------------------------
    def link_token(self, task: FileTask, ttl_s: int) -> str:
        """A token only ``task``'s recipient's link carries: signed, naming the recipient and the task."""
        return self.links.issue(task.recipient, task.task_id, ttl_s)

    async def by_link(self, task_id: str, token: str, limits: FileLimits) -> FileTask | None:
        """The ready offline file a link names, if its token is valid for it."""
        claims = self.links.verify(token)
        if claims is None:
            return None
        task = await self.lookup(task_id, limits)
        if task is None or not task.ready:
            return None
        if claims.device != task.task_id or claims.uid != task.recipient:
            return None
        return task


def _ready_task(r: OfflineFile) -> FileTask:
    """The task of a recorded offline file."""
    return FileTask(
        r.task_id, r.sender, r.recipient, r.name, r.size, True, r.created_ms, r.created_ms, r.file_id, True
    )


def clean_name(name: str) -> str:
    """A file name as metadata only: path separators and control characters stripped (TeamTalk §8.3)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:255] or "file"
