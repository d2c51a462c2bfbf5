"""SQLite implementation of :class:`polyim.store.base.Store`.

Writes go through one :class:`WriterThread` (grouped commits, WAL, ``synchronous=FULL``), reads
through a separate reader connection, which WAL lets run beside the writer. Every write method's
future resolves only after the transaction holding it is committed: callers ack after that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import orjson

from polyim.model import (
    Account,
    AccountUpdate,
    Control,
    ControlCmd,
    ConvId,
    ConvKind,
    ConvState,
    Friend,
    FriendRequest,
    Group,
    GroupKind,
    GroupMember,
    GroupRole,
    GroupUpdate,
    Message,
    MsgStatus,
    OfflineFile,
    PriorityEntry,
    Role,
    RoomList,
    RoomRecord,
    RoomUser,
    changed_fields,
)
from polyim.pending import Pending
from polyim.store.base import Conflict, NewMessage, SendResult, Store, StoreMetrics, stored
from polyim.store.dbthread import DbThread, WriterThread, connect
from polyim.store.migrate import current_version, migrate
from polyim.store.receipts import Batch as ReceiptBatch
from polyim.store.receipts import Receipts

K = TypeVar("K", int, str)

Conn = sqlite3.Connection

_ACCOUNT_COLS = (
    "uid, username, nickname, email, avatar, mobile, birthday, role, disabled, activated, created_ms,"
    " signature, location, gender, last_login_ms"
)
_MSG_COLS = "conv, seq, msg_id, sender, device, client_id, ctype, content, data, extra, status, topic, ts_ms"
# The column each field of an update record writes (the records' fields are the whole vocabulary).
_ACCOUNT_UPDATE_COLUMNS = {
    "password_hash": "pw_hash",
    "nickname": "nickname",
    "email": "email",
    "avatar": "avatar",
    "mobile": "mobile",
    "birthday": "birthday",
    "role": "role",
    "disabled": "disabled",
    "activated": "activated",
    "signature": "signature",
    "location": "location",
    "gender": "gender",
    "last_login_ms": "last_login_ms",
}
_GROUP_UPDATE_COLUMNS = {
    "name": "name",
    "owner": "owner",
    "avatar": "avatar",
    "desc": "descr",
    "member_limit": "member_limit",
    "mute_all": "mute_all",
    "closed": "closed",
}
_ROOM_COLS = "rid, owner, name, descr, closed, capacity, member_limit, dismissed"
_GROUP_COLS = "gid, name, owner, avatar, descr, kind, member_limit, mute_all, closed, created_ms, updated_ms"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _account(row: Sequence[Any]) -> Account:
    return Account(
        uid=row[0],
        username=row[1],
        nickname=row[2],
        email=row[3],
        avatar=row[4],
        mobile=row[5],
        birthday=row[6],
        role=Role(row[7]),
        disabled=bool(row[8]),
        activated=bool(row[9]),
        created_ms=row[10],
        signature=row[11],
        location=row[12],
        gender=row[13],
        last_login_ms=row[14],
    )


def _message(row: Sequence[Any]) -> Message:
    return Message(
        conv=ConvId.from_key(row[0]),
        seq=row[1],
        msg_id=row[2],
        sender=row[3],
        device=row[4],
        client_id=row[5],
        ctype=row[6],
        content=row[7],
        data=bytes(row[8]),
        extra=json.loads(row[9]) if row[9] != "{}" else {},
        status=MsgStatus(row[10]),
        topic=row[11],
        ts_ms=row[12],
    )


def _group(row: Sequence[Any]) -> Group:
    return Group(
        gid=row[0],
        name=row[1],
        owner=row[2],
        avatar=row[3],
        desc=row[4],
        kind=GroupKind(row[5]),
        member_limit=row[6],
        mute_all=bool(row[7]),
        closed=bool(row[8]),
        created_ms=row[9],
        updated_ms=row[10],
    )


def _control(row: Sequence[Any]) -> Control:
    return Control(
        conv=ConvId.from_key(row[0]),
        seq=row[1],
        cmd=ControlCmd(row[2]),
        actor=row[3],
        client_id=row[4],
        target_client_id=row[5],
        content=row[6],
        ts_ms=row[7],
    )


def _state_key(conv: ConvId, topic: str) -> str:
    return f"{conv.key}#{topic}" if topic else conv.key


class SqliteStore(Store):
    def __init__(self, path: str) -> None:
        self.path = path
        self._wc = _WriteCache()
        self._writer = WriterThread(path, "polyim-sqlite-writer", self._wc)
        self._receipts = Receipts(self._write_receipts)
        # The appends of this loop turn, and their results (two lists: no pair made per message).
        self._news: list[NewMessage] = []
        self._waiting: list[Pending[SendResult]] = []
        self._stored = 0
        self._reader = DbThread(path, "polyim-sqlite-reader")
        self._accounts_by_uid = _PointReads[int](
            self._reader, f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE uid IN", 0
        )
        self._accounts_by_name = _PointReads[str](
            self._reader, f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE username IN", 1
        )

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        self._migrate()
        loop = asyncio.get_running_loop()
        self._writer.start(loop)
        self._reader.start(loop)

    async def upgrade(self) -> tuple[int, list[int]]:
        return await asyncio.to_thread(self._migrate)

    def _migrate(self) -> tuple[int, list[int]]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path)
        try:
            applied = migrate(conn)
            return current_version(conn), applied
        finally:
            conn.close()

    async def close(self) -> None:
        await self._receipts.close()
        self._writer.stop()
        self._reader.stop()

    def metrics(self) -> StoreMetrics:
        w = self._writer
        return StoreMetrics(
            self._stored, w.commits, w.commit_seconds, w.backlog(), w.batches, w.latency, w.linger_seconds
        )

    # -- accounts --------------------------------------------------------------------------------
    async def create_account(
        self,
        username: str,
        pw_hash: str,
        *,
        uid: int | None = None,
        nickname: str = "",
        email: str = "",
        role: Role = Role.USER,
        activated: bool = True,
    ) -> Account:
        def op(c: Conn) -> Account:
            if c.execute("SELECT 1 FROM accounts WHERE username=?", (username,)).fetchone():
                raise Conflict("username taken")
            new_uid = uid if uid is not None else _next_seq(c, "uid")
            if c.execute("SELECT 1 FROM accounts WHERE uid=?", (new_uid,)).fetchone():
                raise Conflict("uid taken")
            if uid is not None:
                c.execute(
                    "UPDATE sequences SET value=max(value, ?) WHERE name='uid' AND ? < 4294967296", (uid, uid)
                )
            c.execute(
                "INSERT INTO accounts(uid, username, pw_hash, nickname, email, role, activated, created_ms)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (new_uid, username, pw_hash, nickname, email, int(role), int(activated), _now_ms()),
            )
            row = c.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE uid=?", (new_uid,)).fetchone()
            return _account(row)

        return await self._writer.run(op)

    async def get_account(self, uid: int) -> Account | None:
        row = await self._accounts_by_uid.get(uid)
        return _account(row) if row else None

    async def get_account_by_name(self, username: str) -> Account | None:
        row = await self._accounts_by_name.get(username)
        return _account(row) if row else None

    async def get_accounts(self, uids: Iterable[int]) -> list[Account]:
        """In the order asked, unknown uids left out; one ``IN (…)`` per 500 with any other lookups of
        the same turn."""
        rows = await asyncio.gather(*(self._accounts_by_uid.get(uid) for uid in dict.fromkeys(uids)))
        return [_account(row) for row in rows if row]

    async def list_accounts(self, limit: int = 10_000) -> list[Account]:
        rows = await self._read_all(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY uid LIMIT ?", (limit,))
        return [_account(r) for r in rows]

    async def get_password_hash(self, uid: int) -> str | None:
        row = await self._read_one("SELECT pw_hash FROM accounts WHERE uid=?", (uid,))
        return str(row[0]) if row else None

    async def update_account(self, uid: int, change: AccountUpdate) -> Account | None:
        sets, values = _assignments(_ACCOUNT_UPDATE_COLUMNS, changed_fields(change))

        def op(c: Conn) -> Account | None:
            if sets:
                c.execute(f"UPDATE accounts SET {', '.join(sets)} WHERE uid=?", (*values, uid))
            row = c.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE uid=?", (uid,)).fetchone()
            return _account(row) if row else None

        return await self._writer.run(op)

    # -- messages --------------------------------------------------------------------------------
    def append_message(self, new: NewMessage, into: Pending[SendResult] | None = None) -> Pending[SendResult]:
        """Appends made in one loop turn travel to the writer as one job and a few multi-row INSERTs.

        Seqs come from the writer thread's memory (:class:`_WriteCache`): atomic because that thread is
        the only appender of the database file, and its transactions run one after another. Another
        process appending to the same file would be refused by the ``(conv, seq)`` unique index, never
        given a seq twice."""
        pending: Pending[SendResult] = Pending() if into is None else into
        self._news.append(new)
        self._waiting.append(pending)
        if len(self._news) == 1:
            asyncio.get_running_loop().call_soon(self._submit_appends)
        return pending

    def _submit_appends(self) -> None:
        news, waiting = self._news, self._waiting
        self._news, self._waiting = [], []
        wc = self._wc

        def settle(results: list[SendResult] | None, exc: BaseException | None) -> None:
            """Runs in the writer's one loop callback for its committed transaction: the appends' acks
            and deliveries happen there and then, not a loop turn later."""
            if exc is not None:
                if len(news) > 1:  # find the culprit: every message on its own
                    for new, fut in zip(news, waiting, strict=True):
                        single = self._writer.run(functools.partial(_append_one, wc, new))
                        single.add_done_callback(functools.partial(self._landed, fut))
                    return
                waiting[0].set_exception(exc)
                return
            assert results is not None
            self._stored += sum(not result.duplicate for result in results)
            for fut, result in zip(waiting, results, strict=True):
                if not fut.done():
                    fut.set_result(result)

        self._writer.submit(lambda c: _append_many(c, wc, news), settle)

    def _landed(self, fut: Pending[SendResult], done: asyncio.Future[SendResult]) -> None:
        """Settle ``fut`` from an append retried on its own, counting it if it stored a new message."""
        if done.exception() is None and not done.result().duplicate:
            self._stored += 1
        _chain(fut, done)

    async def get_message(self, conv: ConvId, seq: int) -> Message | None:
        row = await self._read_one(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv=? AND seq=?", (conv.key, seq)
        )
        return _message(row) if row else None

    async def find_message(self, sender: int, device: str, client_id: str) -> Message | None:
        row = await self._read_one(
            f"SELECT {_MSG_COLS} FROM messages WHERE sender=? AND device=? AND client_id=? AND client_id<>''",
            (sender, device, client_id),
        )
        return _message(row) if row else None

    async def message_by_id(self, conv: ConvId, msg_id: int) -> Message | None:
        """A notification through the partial index of schema v9 (its condition is in the query)."""
        only_notify = " AND conv >= 'n:' AND conv < 'n;'" if conv.kind is ConvKind.NOTIFY else ""
        row = await self._read_one(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv=? AND msg_id=?{only_notify}", (conv.key, msg_id)
        )
        return _message(row) if row else None

    async def max_client_seq(self, sender: int, device: str) -> int:
        row = await self._read_one(
            "SELECT MAX(CAST(client_id AS INTEGER)) FROM messages WHERE sender=? AND device=? AND client_id<>''",
            (sender, device),
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def history(
        self, conv: ConvId, before_seq: int, count: int, topic: str = "", *, deleted: bool = False
    ) -> list[Message]:
        """Newest first, seq <= before_seq (0 = from the newest), deleted messages skipped unless asked."""
        top = before_seq if before_seq > 0 else 1 << 62
        sql = f"SELECT {_MSG_COLS} FROM messages WHERE conv=? AND seq<=?" + (
            "" if deleted else " AND status<>3"
        )
        args: list[Any] = [conv.key, top]
        if topic:
            sql += " AND topic=? AND topic<>''"  # the second term lets SQLite use the partial messages_topic
            args.append(topic)
        rows = await self._read_all(sql + " ORDER BY seq DESC LIMIT ?", (*args, count))
        return [_message(r) for r in rows]

    async def messages_after(self, conv: ConvId, after_seq: int, count: int) -> list[Message]:
        """Oldest first, seq > after_seq, deleted ones included (sync must learn of deletions)."""
        rows = await self._read_all(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv=? AND seq>? ORDER BY seq LIMIT ?",
            (conv.key, after_seq, count),
        )
        return [_message(r) for r in rows]

    async def last_message(self, conv: ConvId, topic: str = "") -> Message | None:
        msgs = await self.history(conv, 0, 1, topic)
        return msgs[0] if msgs else None

    async def last_seq(self, conv: ConvId) -> int:
        row = await self._read_one("SELECT last_seq FROM conversations WHERE conv=?", (conv.key,))
        return int(row[0]) if row else 0

    async def apply_control(
        self,
        control: Control,
        device: str,
        new_status: MsgStatus,
        new_content: str | None,
        queue_uids: Sequence[int],
        activity_us: int,
    ) -> tuple[Control, bool]:
        return await self._writer.run(
            lambda c: _apply_control(c, control, device, new_status, new_content, queue_uids, activity_us)
        )

    async def find_control(self, actor: int, device: str, client_id: str) -> Control | None:
        row = await self._read_one(
            "SELECT conv, seq, cmd, actor, client_id, target_client_id, content, ts_ms FROM controls"
            " WHERE actor=? AND device=? AND client_id=? AND client_id<>''",
            (actor, device, client_id),
        )
        return _control(row) if row else None

    # -- per-user conversation state ---------------------------------------------------------------
    async def advance_read(self, uid: int, conv: ConvId, seq: int, activity_us: int, topic: str = "") -> int:
        def op(c: Conn) -> int:
            last = self._wc.last_seq(c, conv.key)
            target = min(seq, last)
            key = _state_key(conv, topic)
            c.execute(
                "INSERT INTO user_convs(uid, conv, read_seq, delivered_seq, activity_us) VALUES (?,?,?,?,?)"
                " ON CONFLICT(uid, conv) DO UPDATE SET read_seq=max(read_seq, excluded.read_seq),"
                " delivered_seq=max(delivered_seq, excluded.delivered_seq), activity_us=excluded.activity_us",
                (uid, key, target, target, activity_us),
            )
            row = c.execute("SELECT read_seq FROM user_convs WHERE uid=? AND conv=?", (uid, key)).fetchone()
            return int(row[0])

        return await self._writer.run(op)

    async def advance_delivered(self, uid: int, conv: ConvId, seq: int) -> None:
        def op(c: Conn) -> None:
            c.execute(
                "INSERT INTO user_convs(uid, conv, delivered_seq) VALUES (?,?,?)"
                " ON CONFLICT(uid, conv) DO UPDATE SET delivered_seq=max(delivered_seq, excluded.delivered_seq)",
                (uid, conv.key, min(seq, self._wc.last_seq(c, conv.key))),
            )

        await self._writer.run(op)

    def note_delivered(self, uid: int, conv: ConvId, seq: int) -> None:
        self._receipts.note(uid, conv.key, seq)

    def _write_receipts(self, pending: ReceiptBatch) -> asyncio.Future[None]:
        wc = self._wc

        def op(c: Conn) -> None:
            rows = [
                (uid, key, min(seq, wc.last_seq(c, key)))
                for uid, convs in pending.items()
                for key, seq in convs.items()
            ]
            c.executemany(
                "INSERT INTO user_convs(uid, conv, delivered_seq) VALUES (?,?,?) ON CONFLICT(uid, conv)"
                " DO UPDATE SET delivered_seq=max(delivered_seq, excluded.delivered_seq)",
                rows,
            )

        return self._writer.run(op)

    async def set_conv_attr(self, uid: int, conv: ConvId, name: str, value: str, activity_us: int) -> None:
        def op(c: Conn) -> None:
            row = c.execute("SELECT attrs FROM user_convs WHERE uid=? AND conv=?", (uid, conv.key)).fetchone()
            attrs: dict[str, str] = json.loads(row[0]) if row else {}
            if value:
                attrs[name] = value
            else:
                attrs.pop(name, None)
            c.execute(
                "INSERT INTO user_convs(uid, conv, attrs, activity_us) VALUES (?,?,?,?)"
                " ON CONFLICT(uid, conv) DO UPDATE SET attrs=excluded.attrs, activity_us=excluded.activity_us",
                (uid, conv.key, json.dumps(attrs, sort_keys=True), activity_us),
            )

        await self._writer.run(op)

    async def conv_state(self, uid: int, conv: ConvId, topic: str = "") -> ConvState:
        def op(c: Conn) -> ConvState:
            return _conv_state(c, uid, conv, topic)

        overlay = self._receipts.of(uid)  # taken before the read, so a flush racing it cannot hide one
        return _with_receipts(await self._reader.run(op), overlay)

    async def user_conversations(self, uid: int) -> list[ConvState]:
        """Every conversation of the user: 1:1 with messages, groups, notification topics."""
        overlay = self._receipts.of(uid)
        states = await self._reader.run(lambda c: _user_conversations(c, uid))
        return [_with_receipts(s, overlay) for s in states] if overlay else states

    async def peers(self, uid: int) -> list[int]:
        rows = await self._read_all("SELECT conv FROM user_convs WHERE uid=? AND conv LIKE 'p:%'", (uid,))
        peers = (ConvId.from_key(r[0]).peer_of(uid) for r in rows)
        return sorted(p for p in peers if p != uid)

    async def peer_cursors(self, uid: int) -> dict[str, tuple[int, int]]:
        return await self._reader.run(lambda c: _peer_cursors(c, uid))

    # -- priority queue ----------------------------------------------------------------------------
    async def priority_entries(
        self, uid: int, after_key: int, count: int, min_key: int
    ) -> list[PriorityEntry]:
        return await self._reader.run(lambda c: _priority_entries(c, uid, after_key, count, min_key))

    # -- relations ------------------------------------------------------------------------------
    async def add_friends(self, uid: int, peer: int, remark: str, both: bool) -> None:
        def op(c: Conn) -> None:
            now = _now_ms()
            c.execute(
                "INSERT INTO friends(uid, peer, remark, updated_ms) VALUES (?,?,?,?) ON CONFLICT(uid, peer)"
                " DO UPDATE SET remark=excluded.remark, updated_ms=excluded.updated_ms",
                (uid, peer, remark, now),
            )
            c.execute(
                "INSERT OR REPLACE INTO friend_attrs(uid, peer, name, value) SELECT ?,?,'REMARK',? WHERE ?<>''",
                (uid, peer, remark, remark),
            )
            if both:
                c.execute(
                    "INSERT INTO friends(uid, peer, updated_ms) VALUES (?,?,?) ON CONFLICT(uid, peer) DO NOTHING",
                    (peer, uid, now),
                )

        await self._writer.run(op)

    async def remove_friends(self, uid: int, peer: int, both: bool = True) -> bool:
        back = (peer, uid) if both else (uid, peer)

        def op(c: Conn) -> bool:
            n = c.execute(
                "DELETE FROM friends WHERE (uid=? AND peer=?) OR (uid=? AND peer=?)", (uid, peer, *back)
            ).rowcount
            c.execute(
                "DELETE FROM friend_attrs WHERE ((uid=? AND peer=?) OR (uid=? AND peer=?)) AND name<>'REMARK'",
                (uid, peer, *back),
            )
            return n > 0

        return await self._writer.run(op)

    async def set_buddy_group(self, uid: int, peer: int, group: str) -> bool:
        def op(c: Conn) -> bool:
            sql = "UPDATE friends SET buddy_group=?, updated_ms=? WHERE uid=? AND peer=?"
            return c.execute(sql, (group, _now_ms(), uid, peer)).rowcount > 0

        return await self._writer.run(op)

    async def rename_buddy_group(self, uid: int, old: str, new: str) -> None:
        def op(c: Conn) -> None:
            sql = "UPDATE friends SET buddy_group=?, updated_ms=? WHERE uid=? AND buddy_group=?"
            c.execute(sql, (new, _now_ms(), uid, old))

        await self._writer.run(op)

    async def friends(self, uid: int, since_ms: int = 0) -> list[Friend]:
        rows = await self._read_all(
            "SELECT uid, peer, remark, buddy_group, updated_ms FROM friends WHERE uid=? AND updated_ms>=?"
            " ORDER BY peer",
            (uid, since_ms),
        )
        return [Friend(*r) for r in rows]

    async def followers(self, uid: int) -> set[int]:
        return {int(r[0]) for r in await self._read_all("SELECT uid FROM friends WHERE peer=?", (uid,))}

    async def is_friend(self, uid: int, peer: int) -> bool:
        return await self._read_one("SELECT 1 FROM friends WHERE uid=? AND peer=?", (uid, peer)) is not None

    async def set_blocked(self, uid: int, peer: int, blocked: bool) -> None:
        await self._set_pair("blocks", uid, peer, blocked)

    async def blocked_by(self, uid: int) -> set[int]:
        """The users that ``uid`` has blocked."""
        return await self._peers("blocks", uid)

    async def _set_pair(self, table: str, uid: int, peer: int, present: bool) -> None:
        """Add or drop the (uid, peer) row of a relation table (``blocks``, ``mutes``)."""
        sql = (
            f"INSERT OR IGNORE INTO {table}(uid, peer) VALUES (?,?)"
            if present
            else f"DELETE FROM {table} WHERE uid=? AND peer=?"
        )
        await self._writer.run(lambda c: c.execute(sql, (uid, peer)) and None)

    async def _peers(self, table: str, uid: int) -> set[int]:
        rows = await self._read_all(f"SELECT peer FROM {table} WHERE uid=?", (uid,))
        return {int(r[0]) for r in rows}

    async def set_friend_attr(self, uid: int, peer: int, name: str, value: str) -> None:
        def op(c: Conn) -> None:
            c.execute(
                "INSERT OR REPLACE INTO friend_attrs(uid, peer, name, value) VALUES (?,?,?,?)",
                (uid, peer, name, value),
            )
            if name == "REMARK":
                c.execute(
                    "UPDATE friends SET remark=?, updated_ms=? WHERE uid=? AND peer=?",
                    (value, _now_ms(), uid, peer),
                )

        await self._writer.run(op)

    async def friend_attrs(self, uid: int, peer: int | None, name: str) -> list[tuple[int, str, str]]:
        sql = "SELECT peer, name, value FROM friend_attrs WHERE uid=?"
        args: list[Any] = [uid]
        if peer is not None:
            sql += " AND peer=?"
            args.append(peer)
        if name:
            sql += " AND name=?"
            args.append(name)
        rows = await self._read_all(sql + " ORDER BY peer, name", args)
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def set_muted(self, uid: int, peer: int, muted: bool) -> None:
        await self._set_pair("mutes", uid, peer, muted)

    async def muted_by(self, uid: int) -> set[int]:
        return await self._peers("mutes", uid)

    # -- friend requests --------------------------------------------------------------------------
    async def put_friend_request(self, request: FriendRequest, min_ms: int) -> None:
        def op(c: Conn) -> None:
            c.execute("DELETE FROM friend_requests WHERE created_ms<?", (min_ms,))
            c.execute(
                "INSERT OR REPLACE INTO friend_requests(uid, peer, remark, created_ms) VALUES (?,?,?,?)",
                (request.uid, request.peer, request.remark, request.created_ms),
            )

        await self._writer.run(op)

    async def accept_friend_request(self, requester: int, accepter: int, remark: str, min_ms: int) -> bool:
        def op(c: Conn) -> bool:
            row = c.execute(
                "SELECT remark FROM friend_requests WHERE uid=? AND peer=? AND created_ms>=?",
                (requester, accepter, min_ms),
            ).fetchone()
            if row is None:
                return False
            now = _now_ms()
            for uid, peer, mark in ((accepter, requester, remark), (requester, accepter, str(row[0]))):
                c.execute(
                    "INSERT INTO friends(uid, peer, remark, updated_ms) VALUES (?,?,?,?) ON CONFLICT(uid, peer)"
                    " DO UPDATE SET remark=excluded.remark, updated_ms=excluded.updated_ms",
                    (uid, peer, mark, now),
                )
                c.execute(
                    "INSERT OR REPLACE INTO friend_attrs(uid, peer, name, value) SELECT ?,?,'REMARK',?"
                    " WHERE ?<>''",
                    (uid, peer, mark, mark),
                )
            _delete_requests(c, requester, accepter)
            return True

        return await self._writer.run(op)

    async def delete_friend_requests(self, uid: int, peer: int) -> bool:
        return await self._writer.run(lambda c: _delete_requests(c, uid, peer))

    async def friend_requests_to(self, peer: int, min_ms: int) -> list[FriendRequest]:
        rows = await self._read_all(
            "SELECT uid, peer, remark, created_ms FROM friend_requests WHERE peer=? AND created_ms>=?"
            " ORDER BY created_ms, uid",
            (peer, min_ms),
        )
        return [FriendRequest(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in rows]

    # -- groups -----------------------------------------------------------------------------------
    async def create_group(self, group: Group, members: Sequence[int]) -> Group:
        def op(c: Conn) -> Group:
            gid = _next_seq(c, "gid")
            # An unnamed group is called GC_<gid>; if a user already named another group that way,
            # skip to the next gid rather than refusing every unnamed group from then on.
            taken = "SELECT 1 FROM groups WHERE name=?"
            while not group.name and c.execute(taken, (f"GC_{gid}",)).fetchone():
                gid = _next_seq(c, "gid")
            name = group.name or f"GC_{gid}"
            if c.execute("SELECT 1 FROM groups WHERE name=?", (name,)).fetchone():
                raise Conflict("group name taken")
            now = _now_ms()
            c.execute(
                f"INSERT INTO groups({_GROUP_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    gid,
                    name,
                    group.owner,
                    group.avatar,
                    group.desc,
                    int(group.kind),
                    group.member_limit,
                    int(group.mute_all),
                    int(group.closed),
                    now,
                    now,
                ),
            )
            roles = [
                (gid, u, int(GroupRole.OWNER if u == group.owner else GroupRole.MEMBER), now) for u in members
            ]
            c.executemany(
                "INSERT OR IGNORE INTO group_members(gid, uid, role, joined_ms) VALUES (?,?,?,?)", roles
            )
            return _group(c.execute(f"SELECT {_GROUP_COLS} FROM groups WHERE gid=?", (gid,)).fetchone())

        return await self._writer.run(op)

    async def get_group(self, gid: int) -> Group | None:
        row = await self._read_one(f"SELECT {_GROUP_COLS} FROM groups WHERE gid=?", (gid,))
        return _group(row) if row else None

    async def list_groups(self, limit: int = 10_000) -> list[Group]:
        rows = await self._read_all(f"SELECT {_GROUP_COLS} FROM groups ORDER BY gid LIMIT ?", (limit,))
        return [_group(r) for r in rows]

    async def get_group_by_name(self, name: str) -> Group | None:
        row = await self._read_one(f"SELECT {_GROUP_COLS} FROM groups WHERE name=?", (name,))
        return _group(row) if row else None

    async def update_group(self, gid: int, change: GroupUpdate) -> Group:
        sets, values = _assignments(_GROUP_UPDATE_COLUMNS, changed_fields(change))

        def op(c: Conn) -> Group:
            taken = "SELECT 1 FROM groups WHERE name=? AND gid<>?"
            if change.name is not None and c.execute(taken, (change.name, gid)).fetchone():
                raise Conflict("group name taken")
            if change.owner is not None:  # a transfer swaps the two roles in the same transaction
                c.execute(
                    "UPDATE group_members SET role=? WHERE gid=? AND role=?", (0, gid, int(GroupRole.OWNER))
                )
                c.execute(
                    "UPDATE group_members SET role=? WHERE gid=? AND uid=?",
                    (int(GroupRole.OWNER), gid, change.owner),
                )
            assignments = ", ".join([*sets, "updated_ms=?"])
            c.execute(f"UPDATE groups SET {assignments} WHERE gid=?", (*values, _now_ms(), gid))
            return _group(c.execute(f"SELECT {_GROUP_COLS} FROM groups WHERE gid=?", (gid,)).fetchone())

        return await self._writer.run(op)

    async def delete_group(self, gid: int) -> list[int]:
        def op(c: Conn) -> list[int]:
            members = [int(r[0]) for r in c.execute("SELECT uid FROM group_members WHERE gid=?", (gid,))]
            c.execute("DELETE FROM group_members WHERE gid=?", (gid,))
            c.execute("DELETE FROM group_blacklist WHERE gid=?", (gid,))
            c.execute("DELETE FROM groups WHERE gid=?", (gid,))
            return members

        return await self._writer.run(op)

    async def group_members(self, gid: int) -> list[GroupMember]:
        rows = await self._read_all(
            "SELECT uid, role, muted FROM group_members WHERE gid=? ORDER BY role DESC, uid", (gid,)
        )
        return [GroupMember(int(r[0]), GroupRole(r[1]), bool(r[2])) for r in rows]

    async def add_group_members(self, gid: int, uids: Sequence[int]) -> None:
        now = _now_ms()

        def op(c: Conn) -> None:
            c.executemany(
                "INSERT OR IGNORE INTO group_members(gid, uid, joined_ms) VALUES (?,?,?)",
                [(gid, u, now) for u in uids],
            )
            c.execute("UPDATE groups SET updated_ms=? WHERE gid=?", (now, gid))

        await self._writer.run(op)

    async def remove_group_members(self, gid: int, uids: Sequence[int]) -> None:
        def op(c: Conn) -> None:
            c.executemany("DELETE FROM group_members WHERE gid=? AND uid=?", [(gid, u) for u in uids])
            c.execute("UPDATE groups SET updated_ms=? WHERE gid=?", (_now_ms(), gid))

        await self._writer.run(op)

    async def set_member_role(self, gid: int, uid: int, role: GroupRole) -> None:
        await self._writer.run(
            lambda c: (
                c.execute("UPDATE group_members SET role=? WHERE gid=? AND uid=?", (int(role), gid, uid))
                and None
            )
        )

    async def set_member_muted(self, gid: int, uid: int, muted: bool) -> None:
        await self._writer.run(
            lambda c: (
                c.execute("UPDATE group_members SET muted=? WHERE gid=? AND uid=?", (int(muted), gid, uid))
                and None
            )
        )

    async def set_group_blacklisted(self, gid: int, uid: int, listed: bool) -> None:
        sql = (
            "INSERT OR IGNORE INTO group_blacklist(gid, uid) VALUES (?,?)"
            if listed
            else "DELETE FROM group_blacklist WHERE gid=? AND uid=?"
        )
        await self._writer.run(lambda c: c.execute(sql, (gid, uid)) and None)

    async def group_blacklist(self, gid: int) -> set[int]:
        rows = await self._read_all("SELECT uid FROM group_blacklist WHERE gid=?", (gid,))
        return {int(r[0]) for r in rows}

    async def groups_of(self, uid: int) -> list[Group]:
        rows = await self._read_all(
            f"SELECT {', '.join('g.' + c.strip() for c in _GROUP_COLS.split(','))} FROM groups g"
            " JOIN group_members m ON m.gid=g.gid WHERE m.uid=? ORDER BY g.gid",
            (uid,),
        )
        return [_group(r) for r in rows]

    # -- numbered devices ---------------------------------------------------------------------------
    async def new_device(self, uid: int, nation: int, city: int, town: int, now_ms: int) -> int:
        def op(c: Conn) -> int:
            device = _next_seq(c, "device")
            while c.execute("SELECT 1 FROM devices WHERE device=?", (_i64(device),)).fetchone():
                device = _next_seq(c, "device")
            c.execute(
                "INSERT INTO devices(device, uid, nation, city, town, registered, created_ms)"
                " VALUES (?,?,?,?,?,1,?)",
                (_i64(device), uid, nation, city, town, now_ms),
            )
            return device

        return await self._writer.run(op)

    async def bind_device(self, device: int, uid: int, now_ms: int) -> int:
        def op(c: Conn) -> int:
            c.execute(
                "INSERT OR IGNORE INTO devices(device, uid, created_ms) VALUES (?,?,?)",
                (_i64(device), uid, now_ms),
            )
            return int(c.execute("SELECT uid FROM devices WHERE device=?", (_i64(device),)).fetchone()[0])

        return await self._writer.run(op)

    async def device_owner(self, device: int) -> int | None:
        row = await self._read_one("SELECT uid FROM devices WHERE device=?", (_i64(device),))
        return int(row[0]) if row else None

    async def devices_since(self, uid: int, since_ms: int) -> int:
        row = await self._read_one(
            "SELECT COUNT(*) FROM devices WHERE uid=? AND created_ms>=? AND registered=1", (uid, since_ms)
        )
        return int(row[0]) if row else 0

    # -- rooms ------------------------------------------------------------------------------------
    async def next_rid(self) -> int:
        return await self._writer.run(lambda c: _next_seq(c, "rid"))

    def save_room(self, room: RoomRecord) -> asyncio.Future[None]:
        def op(c: Conn) -> None:
            c.execute(
                f"INSERT OR REPLACE INTO rooms({_ROOM_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                (
                    room.rid,
                    room.owner,
                    room.name,
                    room.desc,
                    int(room.closed),
                    room.capacity,
                    room.limit,
                    int(room.dismissed),
                ),
            )
            if room.dismissed:
                c.execute("DELETE FROM room_users WHERE rid=?", (room.rid,))

        return self._writer.run(op)

    def set_room_user(self, rid: int, uid: int, kind: RoomList, listed: bool) -> asyncio.Future[None]:
        sql = (
            "INSERT OR IGNORE INTO room_users(rid, kind, uid) VALUES (?,?,?)"
            if listed
            else "DELETE FROM room_users WHERE rid=? AND kind=? AND uid=?"
        )

        def op(c: Conn) -> None:
            c.execute(sql, (rid, int(kind), uid))

        return self._writer.run(op)

    async def rooms(self) -> list[RoomRecord]:
        rows = await self._read_all(f"SELECT {_ROOM_COLS} FROM rooms ORDER BY rid", ())
        return [
            RoomRecord(
                rid=r[0],
                owner=r[1],
                name=r[2],
                desc=r[3],
                closed=bool(r[4]),
                capacity=r[5],
                limit=r[6],
                dismissed=bool(r[7]),
            )
            for r in rows
        ]

    async def room_users(self) -> list[RoomUser]:
        rows = await self._read_all("SELECT rid, uid, kind FROM room_users ORDER BY rid, kind, uid", ())
        return [RoomUser(int(r[0]), int(r[1]), RoomList(r[2])) for r in rows]

    # -- idempotency ------------------------------------------------------------------------------
    async def remember(self, key: str, result: str) -> str:
        """Store ``result`` under ``key`` unless a result is there already; return the stored one."""

        def op(c: Conn) -> str:
            c.execute("INSERT OR IGNORE INTO idempotency(key, result) VALUES (?,?)", (key, result))
            return str(c.execute("SELECT result FROM idempotency WHERE key=?", (key,)).fetchone()[0])

        return await self._writer.run(op)

    async def recall(self, key: str) -> str | None:
        row = await self._read_one("SELECT result FROM idempotency WHERE key=?", (key,))
        return str(row[0]) if row else None

    # -- offline files ----------------------------------------------------------------------------
    async def keep_offline_file(self, record: OfflineFile) -> None:
        r = record

        def op(c: Conn) -> None:
            c.execute(
                "INSERT OR REPLACE INTO offline_files(task_id, sender, recipient, name, size, file_id, created_ms)"
                " VALUES (?,?,?,?,?,?,?)",
                (r.task_id, r.sender, r.recipient, r.name, r.size, r.file_id, r.created_ms),
            )

        await self._writer.run(op)

    async def forget_offline_file(self, task_id: str) -> None:
        def op(c: Conn) -> None:
            c.execute("DELETE FROM offline_files WHERE task_id=?", (task_id,))

        await self._writer.run(op)

    async def offline_files(self, *, recipient: int = 0, task_id: str = "") -> list[OfflineFile]:
        rows = await self._read_all(
            "SELECT task_id, sender, recipient, name, size, file_id, created_ms FROM offline_files"
            " WHERE (?1 = 0 OR recipient = ?1) AND (?2 = '' OR task_id = ?2) ORDER BY created_ms, task_id",
            (recipient, task_id),
        )
        return [
            OfflineFile(str(r[0]), int(r[1]), int(r[2]), str(r[3]), int(r[4]), str(r[5]), int(r[6]))
            for r in rows
        ]

    # -- helpers ----------------------------------------------------------------------------------
    async def _read_one(self, sql: str, args: Sequence[Any]) -> Any:
        return await self._reader.run(lambda c: c.execute(sql, args).fetchone())

    async def _read_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._reader.run(lambda c: c.execute(sql, args).fetchall())


class _PointReads(Generic[K]):
    """Lookups of one row by key, asked for in one loop turn, travel to the reader as one ``IN (…)`` query.

    A reconnect storm asks for thousands of accounts at once. One reader job each meant one thread
    hand-off and one loop wake-up each, and the reader thread, contending for the GIL with a busy loop,
    became the queue every login waited in. Every lookup still reads the database, as fresh as before.
    """

    _CHUNK = 500  # keys per statement, far below SQLite's bound on variables

    def __init__(self, reader: DbThread, select_in: str, key_column: int) -> None:
        self._reader = reader
        self._select_in = select_in
        self._key_column = key_column
        self._waiting: dict[K, list[asyncio.Future[Any]]] = {}

    def get(self, key: K) -> asyncio.Future[Any]:
        """The row whose key column is ``key``, or None."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._submit)
        fut: asyncio.Future[Any] = loop.create_future()
        self._waiting.setdefault(key, []).append(fut)
        return fut

    def _submit(self) -> None:
        waiting, self._waiting = self._waiting, {}
        keys = list(waiting)
        select_in, column, chunk = self._select_in, self._key_column, self._CHUNK

        def op(c: Conn) -> dict[Any, Any]:
            rows: dict[Any, Any] = {}
            for i in range(0, len(keys), chunk):
                part = keys[i : i + chunk]
                for row in c.execute(f"{select_in} ({','.join('?' * len(part))})", part):
                    rows[row[column]] = row
            return rows

        def settle(done: asyncio.Future[dict[Any, Any]]) -> None:
            exc = done.exception()
            rows = done.result() if exc is None else {}
            for key, futs in waiting.items():
                for fut in futs:
                    if fut.done():
                        continue
                    if exc is not None:
                        fut.set_exception(exc)
                    else:
                        fut.set_result(rows.get(key))

        self._reader.run(op).add_done_callback(settle)


def _assignments(columns: dict[str, str], changed: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """``column=?`` for each changed field of an update record, and the values to bind (bools as 0/1)."""
    sets = [f"{columns[name]}=?" for name in changed]
    return sets, [int(v) if isinstance(v, bool) else v for v in changed.values()]


def _i64(value: int) -> int:
    """An unsigned 64-bit id as the signed 64-bit integer SQLite stores (same bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _delete_requests(c: Conn, uid: int, peer: int) -> bool:
    n = c.execute(
        "DELETE FROM friend_requests WHERE (uid=? AND peer=?) OR (uid=? AND peer=?)", (uid, peer, peer, uid)
    ).rowcount
    return n > 0


def _next_seq(c: Conn, name: str) -> int:
    row = c.execute("UPDATE sequences SET value=value+1 WHERE name=? RETURNING value", (name,)).fetchone()
    return int(row[0])


class _WriteCache:
    """Writer-thread state that spans the statements of one transaction.

    Each conversation's last seq is kept in memory (read once), so an append is a single INSERT; the
    conversations' new last seq and activity and the senders' read cursors are written once per
    conversation per batch, just before COMMIT. A rollback forgets everything, so the next use reads
    the committed values again.
    """

    def __init__(self) -> None:
        self.seqs: dict[str, int] = {}
        self.convs: dict[str, tuple[int, int]] = {}
        self.reads: dict[tuple[int, str], int] = {}

    def last_seq(self, c: Conn, key: str) -> int:
        seq = self.seqs.get(key)
        if seq is None:
            row = c.execute("SELECT last_seq FROM conversations WHERE conv=?", (key,)).fetchone()
            seq = self.seqs[key] = int(row[0]) if row else 0
        return seq

    def conv_moved(self, key: str, seq: int, activity_us: int) -> None:
        """Conversation ``key``'s last seq is now ``seq`` (written at COMMIT with its activity)."""
        self.seqs[key] = seq
        self.convs[key] = (seq, activity_us)

    def before_commit(self, c: Conn) -> None:
        if self.convs:
            c.executemany(
                "INSERT INTO conversations(conv, last_seq, activity_us) VALUES (?,?,?) ON CONFLICT(conv) DO UPDATE"
                " SET last_seq=max(last_seq, excluded.last_seq), activity_us=max(activity_us, excluded.activity_us)",
                [(k, seq, act) for k, (seq, act) in self.convs.items()],
            )
            self.convs.clear()
        if self.reads:
            c.executemany(
                "INSERT INTO user_convs(uid, conv, read_seq, delivered_seq) VALUES (?,?,?,?) ON CONFLICT(uid, conv)"
                " DO UPDATE SET read_seq=max(read_seq, excluded.read_seq),"
                " delivered_seq=max(delivered_seq, excluded.delivered_seq)",
                [(uid, k, seq, seq) for (uid, k), seq in self.reads.items()],
            )
            self.reads.clear()

    def after_rollback(self) -> None:
        self.seqs.clear()
        self.convs.clear()
        self.reads.clear()


def _with_receipts(state: ConvState, receipts: dict[str, int]) -> ConvState:
    pending = receipts.get(state.conv.key, 0) if not state.topic else 0
    if pending <= state.delivered_seq:
        return state
    return dataclasses.replace(state, delivered_seq=min(pending, state.last_seq))


def _chain(target: Pending[Any], source: asyncio.Future[Any]) -> None:
    if target.done():
        return
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


_INSERT_MSG_HEAD = f"INSERT OR IGNORE INTO messages({_MSG_COLS}) VALUES "
_MSG_VALUES = "(?,?,?,?,?,?,?,?,?,?,0,?,?)"
_INSERT_MSG = _INSERT_MSG_HEAD + _MSG_VALUES


#: ``orjson.dumps`` read once: compiled, a module's attribute is a dictionary lookup at every call.
_DUMPS: Final = orjson.dumps


def _extra_json(extra: dict[str, Any]) -> str:
    """A message's ``extra`` as stored: orjson's compact JSON (0.2 µs where ``json.dumps`` took 2–3 µs
    on the writer thread for beehive's and imlc's extras). ``json`` takes what orjson refuses (an int
    beyond 64 bits, a key that is not text); both read back with ``json.loads``."""
    if not extra:
        return "{}"
    try:
        return _DUMPS(extra).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(extra, separators=(",", ":"))


# A messages row as inserted: conv, seq, msg_id, sender, device, client_id, ctype, content, data, extra,
# topic, ts_ms (the order of _INSERT_MSG). Typed as a tuple of objects, not of its twelve types: mypyc
# passes a fixed-length tuple type between native functions as a C struct, so each row taken from the
# batch's list was unboxed, then boxed again into a new tuple for the statement's parameters and its
# integers into new int objects for the read cursor's key (six int objects and a tuple a message).
_Row = tuple[Any, ...]

#: The ``data`` of most messages. Python's sqlite3 binds an int, a float, a str or a ``bytearray`` as it is,
#: but asks its adapter registry about anything else first, ``bytes`` and None included (a tuple built, a
#: dict missed, two attribute lookups failed: 1,400 instructions a message for ``bytes``, 3,300 for None,
#: under callgrind); a copy into a ``bytearray`` costs a tenth of that. asyncpg writes either as bytea.
_NO_DATA: Final = bytearray()


def _row(new: NewMessage, key: str, seq: int) -> _Row:
    extra = _extra_json(new.extra)
    return (
        key,
        seq,
        new.msg_id,
        new.sender,
        new.device,
        new.client_id,
        new.ctype,
        new.content,
        bytearray(new.data) if new.data else _NO_DATA,
        extra,
        new.topic,
        new.ts_ms,
    )


#: The row counts of one multi-row INSERT, largest first: a batch's rows go in statements of these
#: sizes, so the connection's statement cache holds five texts (256 × 12 parameters, far under
#: SQLite's 32,766).
_CHUNKS: Final = (256, 64, 16, 4, 1)
_MULTI_ROW: Final = {size: _INSERT_MSG_HEAD + ",".join([_MSG_VALUES] * size) for size in _CHUNKS}


def _insert_messages(c: Conn, rows: list[_Row]) -> None:
    """``executemany(_INSERT_MSG, rows)`` as a few multi-row statements. Python's sqlite3 gives the GIL
    up and takes it back four times for each row of an ``executemany`` (around the step, the reset and
    two calls between), with a mutex and a condition variable each time, and SQLite starts the statement
    once a row; a statement of 256 rows does that once. An ``INSERT OR IGNORE`` that calls no function
    cannot stop midway, so SQLite keeps no statement journal for it (schema v9). The cursors' upserts stay
    one row a step: a constraint may abort them, and a multi-row one would journal every page it touches."""
    i, n = 0, len(rows)
    for size in _CHUNKS:
        while n - i >= size:
            params: list[Any] = []
            for k in range(i, i + size):
                params.extend(rows[k])
            c.execute(_MULTI_ROW[size], params)
            i += size


def _append_many(c: Conn, wc: _WriteCache, news: list[NewMessage]) -> list[SendResult]:
    """All appends of one loop turn in a few multi-row INSERTs (:func:`_insert_messages`). Seqs are
    assigned up front; if any row was a resend (ignored by the dedup index) the rows just inserted are
    deleted again and the set is done row by row, so a duplicate never leaves a gap in a conversation's
    seqs.

    Not a SAVEPOINT: inside one, SQLite copies every page the statement touches into a sub-journal
    first (a temporary file: two ``pwrite`` per page, ~560 pages a commit under the chat load), for the
    rare batch with a resend. The transaction holds the database's write lock, so the rows after the
    table's last rowid are exactly this batch's."""
    if len(news) == 1:
        return [_append(c, wc, news[0])]
    next_seq: dict[str, int] = {}
    last: dict[str, NewMessage] = {}  # each conversation's last message of the batch
    rows = []
    for new in news:
        key = new.conv.key
        seq = next_seq.get(key) or wc.last_seq(c, key) + 1
        next_seq[key] = seq + 1
        last[key] = new
        rows.append(_row(new, key, seq))
    last_rowid = c.execute("SELECT max(rowid) FROM messages").fetchone()[0] or 0
    before = c.total_changes
    _insert_messages(c, rows)
    if c.total_changes - before != len(rows):
        c.execute("DELETE FROM messages WHERE rowid > ?", (last_rowid,))
        return [_append(c, wc, new) for new in news]
    for key, new in last.items():  # once per conversation, not per message
        wc.conv_moved(key, next_seq[key] - 1, new.activity_us)
    return [_kept(c, wc, new, row) for new, row in zip(news, rows, strict=True)]


def _stored(c: Conn, wc: _WriteCache, new: NewMessage, row: _Row) -> SendResult:
    """Bookkeeping after ``new`` was inserted alone as ``row`` (see :func:`_row`)."""
    wc.conv_moved(row[0], row[1], new.activity_us)
    return _kept(c, wc, new, row)


def _kept(c: Conn, wc: _WriteCache, new: NewMessage, row: _Row) -> SendResult:
    """The bookkeeping of an inserted message after its conversation's (:meth:`_WriteCache.conv_moved`):
    the sender's cursor, state rows, priority queues."""
    key: str = row[0]
    seq: int = row[1]
    if seq == 1 or new.conv.kind is ConvKind.NOTIFY:
        _ensure_state_rows(c, new, key)
    if new.conv.kind is not ConvKind.NOTIFY:
        wc.reads[(row[3], key)] = row[1]  # the row's sender and seq, already int objects
    if new.priority_uids:
        _enqueue_priority(c, new.priority_uids, key, seq, 0, new.activity_us)
    return SendResult(stored(new, seq), False)


def _append_one(wc: _WriteCache, new: NewMessage, c: Conn) -> SendResult:
    return _append(c, wc, new)


def _append(c: Conn, wc: _WriteCache, new: NewMessage) -> SendResult:
    key = new.conv.key
    seq = wc.last_seq(c, key) + 1
    # The unique index on (sender, device, client_id) turns a resend into an ignored insert, so the common
    # case costs one statement and the rare duplicate one more lookup.
    inserted = _row(new, key, seq)
    if c.execute(_INSERT_MSG, inserted).rowcount:
        return _stored(c, wc, new, inserted)
    row = c.execute(
        f"SELECT {_MSG_COLS} FROM messages WHERE sender=? AND device=? AND client_id=? AND client_id<>''",
        (new.sender, new.device, new.client_id),
    ).fetchone()
    if row is None:
        raise sqlite3.IntegrityError(f"message {key}/{seq} was not stored")
    return SendResult(_message(row), True)


def _ensure_state_rows(c: Conn, new: NewMessage, key: str) -> None:
    """1:1 conversations and notification topics get a state row per participant at creation, so that a
    user's conversation list is one indexed query; group members need none (they come from membership)."""
    if new.conv.kind is ConvKind.PEER:
        rows = [(new.conv.a, key), (new.conv.b, key)]
    elif new.conv.kind is ConvKind.NOTIFY:
        rows = [(new.conv.a, _state_key(new.conv, new.topic))]
    else:
        return
    c.executemany("INSERT OR IGNORE INTO user_convs(uid, conv) VALUES (?,?)", rows)


def _enqueue_priority(c: Conn, uids: Sequence[int], key: str, seq: int, control_id: int, now_us: int) -> None:
    for uid in uids:
        row = c.execute("SELECT MAX(key) FROM priority_queue WHERE uid=?", (uid,)).fetchone()
        pkey = max((row[0] or 0) + 1, now_us)
        c.execute(
            "INSERT INTO priority_queue(uid, key, conv, seq, control_id) VALUES (?,?,?,?,?)",
            (uid, pkey, key, seq, control_id),
        )


def _apply_control(
    c: Conn,
    control: Control,
    device: str,
    new_status: MsgStatus,
    new_content: str | None,
    queue_uids: Sequence[int],
    activity_us: int,
) -> tuple[Control, bool]:
    if control.client_id:
        row = c.execute(
            "SELECT conv, seq, cmd, actor, client_id, target_client_id, content, ts_ms FROM controls"
            " WHERE actor=? AND device=? AND client_id=? AND client_id<>''",
            (control.actor, device, control.client_id),
        ).fetchone()
        if row:
            return _control(row), True
    key = control.conv.key
    if new_content is None:
        c.execute("UPDATE messages SET status=? WHERE conv=? AND seq=?", (int(new_status), key, control.seq))
    else:
        c.execute(
            "UPDATE messages SET status=?, content=? WHERE conv=? AND seq=?",
            (int(new_status), new_content, key, control.seq),
        )
    cur = c.execute(
        "INSERT INTO controls(conv, seq, cmd, actor, device, client_id, target_client_id, content, ts_ms)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (
            key,
            control.seq,
            int(control.cmd),
            control.actor,
            device,
            control.client_id,
            control.target_client_id,
            control.content,
            control.ts_ms,
        ),
    )
    if control.cmd is ControlCmd.DELETE:
        c.execute("DELETE FROM priority_queue WHERE conv=? AND seq=? AND control_id=0", (key, control.seq))
    c.execute("UPDATE conversations SET activity_us=? WHERE conv=?", (activity_us, key))
    _enqueue_priority(c, queue_uids, key, control.seq, int(cur.lastrowid or 0), activity_us)
    return control, False


def _conv_state(c: Conn, uid: int, conv: ConvId, topic: str) -> ConvState:
    key = conv.key
    crow = c.execute("SELECT last_seq, activity_us FROM conversations WHERE conv=?", (key,)).fetchone()
    urow = c.execute(
        "SELECT read_seq, delivered_seq, activity_us, attrs FROM user_convs WHERE uid=? AND conv=?",
        (uid, _state_key(conv, topic)),
    ).fetchone()
    last, act = (int(crow[0]), int(crow[1])) if crow else (0, 0)
    read, delivered, uact, attrs = urow if urow else (0, 0, 0, "{}")
    return ConvState(conv, last, read, delivered, max(act, uact), json.loads(attrs), topic)


def _user_conversations(c: Conn, uid: int) -> list[ConvState]:
    # Groups come from current membership only: a group the user left or that was dismissed must not
    # stay listed (with a growing unread count) because of the cursor row left from reading it.
    rows = c.execute(
        "SELECT x.conv, COALESCE(cv.last_seq, 0), COALESCE(cv.activity_us, 0), COALESCE(u.read_seq, 0),"
        " COALESCE(u.delivered_seq, 0), COALESCE(u.activity_us, 0), COALESCE(u.attrs, '{}')"
        " FROM (SELECT conv FROM user_convs WHERE uid=? AND conv NOT LIKE 'n:%' AND conv NOT LIKE 'g:%'"
        "       UNION SELECT 'g:' || gid FROM group_members WHERE uid=?) x"
        " LEFT JOIN conversations cv ON cv.conv=x.conv LEFT JOIN user_convs u ON u.uid=? AND u.conv=x.conv",
        (uid, uid, uid),
    ).fetchall()
    states = [
        ConvState(
            ConvId.from_key(r[0]),
            int(r[1]),
            int(r[3]),
            int(r[4]),
            max(int(r[2]), int(r[5])),
            json.loads(r[6]),
        )
        for r in rows
    ]
    return states + _notify_topics(c, uid)


def _peer_cursors(c: Conn, uid: int) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for (key,) in c.execute("SELECT conv FROM user_convs WHERE uid=? AND conv LIKE 'p:%'", (uid,)).fetchall():
        peer = ConvId.from_key(key).peer_of(uid)
        if peer == uid:
            continue
        row = c.execute(
            "SELECT read_seq, activity_us FROM user_convs WHERE uid=? AND conv=?", (peer, key)
        ).fetchone()
        if row is not None:
            out[key] = (int(row[0]), int(row[1]))
    return out


def _notify_topics(c: Conn, uid: int) -> list[ConvState]:
    conv = ConvId.notify(uid)
    prefix = conv.key + "#"
    rows = c.execute(
        "SELECT conv, read_seq, delivered_seq, activity_us, attrs FROM user_convs WHERE uid=? AND conv LIKE ?",
        (uid, prefix + "%"),
    ).fetchall()
    out = []
    for key, read, delivered, uact, attrs in rows:
        topic = key[len(prefix) :]
        # Through the partial index messages_topic (conv, topic, seq), which the ``topic<>''`` terms let
        # SQLite use: the newest item and a count of the unread ones, not a read of the user's whole
        # notification stream per topic (2.2 s per list at 100,000 stored pushes; docs/performance.md).
        newest = c.execute(
            "SELECT seq, ts_ms FROM messages WHERE conv=? AND topic=? AND topic<>'' ORDER BY seq DESC LIMIT 1",
            (conv.key, topic),
        ).fetchone()
        unread = c.execute(
            "SELECT COUNT(*) FROM messages WHERE conv=? AND topic=? AND topic<>'' AND seq>?",
            (conv.key, topic, read),
        ).fetchone()[0]
        last, last_ts = (int(newest[0]), int(newest[1])) if newest else (0, 0)
        act = max(last_ts * 1000, int(uact))
        # read_seq is reported as last - unread so that ConvState.unread counts this topic's items only
        out.append(ConvState(conv, last, last - unread, int(delivered), act, json.loads(attrs), topic))
    return out


def _priority_entries(c: Conn, uid: int, after_key: int, count: int, min_key: int) -> list[PriorityEntry]:
    rows = c.execute(
        "SELECT key, conv, seq, control_id FROM priority_queue WHERE uid=? AND key>? AND key>=?"
        " ORDER BY key LIMIT ?",
        (uid, after_key, min_key, count),
    ).fetchall()
    out = []
    for key, conv, seq, control_id in rows:
        mrow = c.execute(f"SELECT {_MSG_COLS} FROM messages WHERE conv=? AND seq=?", (conv, seq)).fetchone()
        message = _message(mrow) if mrow else None
        control = None
        if control_id:
            crow = c.execute(
                "SELECT conv, seq, cmd, actor, client_id, target_client_id, content, ts_ms FROM controls WHERE id=?",
                (control_id,),
            ).fetchone()
            control = _control(crow) if crow else None
        elif message is None or message.status is MsgStatus.DELETED:
            continue
        out.append(PriorityEntry(int(key), message, control))
    return out
