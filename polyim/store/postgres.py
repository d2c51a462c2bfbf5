"""PostgreSQL implementation of :class:`polyim.store.base.Store` (asyncpg), for many nodes on one database.

The schema and the row shapes are SQLite's (``migrations/postgresql`` holds the same tables in this
dialect, under the same version numbers). Writes go through one :class:`PgWriter` connection per node
(grouped commits; results settle after COMMIT); reads through a small pool. What SQLite keeps in its one
writer's memory, several nodes must get from the database in the write's own transaction: a seq is
``conversations.last_seq`` raised in the insert's transaction (the row lock orders the appenders of every
node, so seqs stay gapless and unique, and commit in seq order), and a resend is refused by the unique
index on (sender, device, client id) whichever node stored the first copy.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy

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
from polyim.store import migrate
from polyim.store.base import Conflict, NewMessage, SendResult, Store, StoreMetrics, stored
from polyim.store.pgwriter import Connection, PgWriter
from polyim.store.receipts import Receipts
from polyim.store.sqlite import (
    _ACCOUNT_COLS,
    _ACCOUNT_UPDATE_COLUMNS,
    _GROUP_COLS,
    _GROUP_UPDATE_COLUMNS,
    _MSG_COLS,
    _ROOM_COLS,
    _account,
    _control,
    _group,
    _i64,
    _message,
    _Row,
    _row,
    _state_key,
    _with_receipts,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: What a read runs on: a connection of the pool.
_Reader = Connection | PoolConnectionProxy
_CTRL_COLS = "conv, seq, cmd, actor, client_id, target_client_id, content, ts_ms"
_MIGRATION_LOCK = 0x70_6F_6C_79  # advisory lock key: one node upgrades the schema at a time
_POOL_SIZE = 4
_TIMEOUT = 15.0  # seconds a statement may take before the call fails (a hung server is not a hang here)

# -- the append path: one statement per step for a whole loop turn of appends ----------------------
_ALLOCATE = (
    "INSERT INTO conversations AS c (conv, last_seq, activity_us)"
    " SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) ORDER BY 1"
    " ON CONFLICT (conv) DO UPDATE SET last_seq = c.last_seq + EXCLUDED.last_seq,"
    " activity_us = GREATEST(c.activity_us, EXCLUDED.activity_us) RETURNING conv, last_seq"
)
_INSERT_MSGS = (
    "INSERT INTO messages(conv, seq, msg_id, sender, device, client_id, ctype, content, data, extra, topic,"
    " ts_ms) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[],"
    " $6::text[], $7::bigint[], $8::text[], $9::bytea[], $10::text[], $11::text[], $12::bigint[])"
    " ON CONFLICT (sender, device, client_id) WHERE client_id <> '' DO NOTHING RETURNING seq"
)
_ENSURE_STATE = (
    "INSERT INTO user_convs(uid, conv) SELECT * FROM unnest($1::bigint[], $2::text[]) ORDER BY 1, 2"
    " ON CONFLICT DO NOTHING"
)
_ADVANCE_READS = (
    "INSERT INTO user_convs AS u (uid, conv, read_seq, delivered_seq)"
    " SELECT a, b, c, c FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS t(a, b, c) ORDER BY 1, 2"
    " ON CONFLICT (uid, conv) DO UPDATE SET read_seq = GREATEST(u.read_seq, EXCLUDED.read_seq),"
    " delivered_seq = GREATEST(u.delivered_seq, EXCLUDED.delivered_seq)"
)
_ENQUEUE = (
    "INSERT INTO priority_queue(uid, key, conv, seq, control_id)"
    " SELECT $1, GREATEST(COALESCE(MAX(key), 0) + 1, $5), $2, $3, $4 FROM priority_queue WHERE uid = $1"
)
_ADVANCE_DELIVERED = (
    "INSERT INTO user_convs AS u (uid, conv, delivered_seq)"
    " SELECT $1, $2, LEAST($3, COALESCE((SELECT last_seq FROM conversations WHERE conv = $2), 0))"
    " ON CONFLICT (uid, conv) DO UPDATE SET delivered_seq = GREATEST(u.delivered_seq, EXCLUDED.delivered_seq)"
)
_UPSERT_FRIEND = (
    "INSERT INTO friends AS f (uid, peer, remark, updated_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (uid, peer)"
    " DO UPDATE SET remark = EXCLUDED.remark, updated_ms = EXCLUDED.updated_ms"
)
_REMARK_ATTR = (
    "INSERT INTO friend_attrs(uid, peer, name, value) SELECT $1, $2, 'REMARK', $3 WHERE $3 <> ''"
    " ON CONFLICT (uid, peer, name) DO UPDATE SET value = EXCLUDED.value"
)


def in_a_task(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Run a read in a task of its own when its caller is not in one. A protocol channel starts a frame's
    handler eagerly, inside ``data_received`` and outside any task, and asyncpg's connect (a pool
    replacing a connection lost with the server) needs a current task for its timeout."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if asyncio.current_task() is None:
            return await asyncio.ensure_future(fn(*args, **kwargs))
        return await fn(*args, **kwargs)

    return run


async def _keep_session(conn: Connection) -> None:
    """A read connection going back to the pool needs no reset query (a round trip per read): reads set
    no session state, and asyncpg itself ends any open transaction."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _assignments(columns: dict[str, str], changed: dict[str, Any], first: int) -> tuple[list[str], list[Any]]:
    """``column = $n`` for each changed field of an update record (numbered from ``first``), and the values
    to bind (bools as 0/1, the columns being integers as in SQLite)."""
    sets = [f"{columns[name]} = ${first + i}" for i, name in enumerate(changed)]
    return sets, [int(v) if isinstance(v, bool) else v for v in changed.values()]


async def _next_seq(c: Connection, name: str) -> int:
    return int(
        await c.fetchval("UPDATE sequences SET value = value + 1 WHERE name = $1 RETURNING value", name)
    )


class PostgresStore(Store):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._writer = PgWriter(self._connect)
        self._pool: asyncpg.Pool | None = None
        self._appends: list[tuple[NewMessage, Pending[SendResult]]] = []
        # the appends call queued and not started yet: later appends join it while it is the last call
        self._open: tuple[list[tuple[NewMessage, Pending[SendResult]]], asyncio.Future[Any]] | None = None
        self._stored = 0
        self._receipts = Receipts(self._write_receipts)
        self._accounts_by_uid = _PointReads[int](
            self, f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE uid = ANY($1::bigint[])", 0
        )
        self._accounts_by_name = _PointReads[str](
            self, f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE username = ANY($1::text[])", 1
        )

    async def _connect(self) -> Connection:
        return await asyncpg.connect(self.dsn, command_timeout=_TIMEOUT, timeout=_TIMEOUT)

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        await self.upgrade()
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=_POOL_SIZE,
            command_timeout=_TIMEOUT,
            timeout=_TIMEOUT,
            reset=_keep_session,
        )
        self._writer.start()

    async def upgrade(self) -> tuple[int, list[int]]:
        conn = await self._connect()
        try:
            async with conn.transaction():
                await conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                version = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
                applied = []
                for number, sql in migrate.available("postgresql"):
                    if number > version:
                        await conn.execute(sql)
                        await conn.execute("INSERT INTO schema_version(version) VALUES ($1)", number)
                        applied.append(number)
                        version = number
            return version, applied
        finally:
            await conn.close()

    async def close(self) -> None:
        await self._receipts.close()
        await self._writer.stop()
        if self._pool is not None:
            # close() waits for every connection to come back; a shutdown must not wait forever for one
            # a read never returned (asyncpg terminates the pool when the wait is cancelled)
            try:
                await asyncio.wait_for(self._pool.close(), _TIMEOUT)
            except TimeoutError:
                log.warning("PostgreSQL read pool did not close in %.0f s: terminated", _TIMEOUT)

    def metrics(self) -> StoreMetrics:
        w = self._writer
        return StoreMetrics(self._stored, w.commits, w.commit_seconds, w.backlog(), w.batches, w.latency)

    # -- helpers ----------------------------------------------------------------------------------
    @property
    def _reads(self) -> asyncpg.Pool:
        assert self._pool is not None, "store not open"
        return self._pool

    @in_a_task
    async def _read_one(self, sql: str, *args: Any) -> Any:
        return await self._reads.fetchrow(sql, *args)

    @in_a_task
    async def _read_all(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._reads.fetch(sql, *args))

    async def _execute(self, sql: str, *args: Any) -> None:
        async def op(c: Connection) -> None:
            await c.execute(sql, *args)

        await self._writer.run(op)

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
        async def op(c: Connection) -> Account:
            if await c.fetchval("SELECT 1 FROM accounts WHERE username = $1", username):
                raise Conflict("username taken")
            new_uid = uid if uid is not None else await _next_seq(c, "uid")
            if await c.fetchval("SELECT 1 FROM accounts WHERE uid = $1", new_uid):
                raise Conflict("uid taken")
            if uid is not None and uid < 1 << 32:
                await c.execute("UPDATE sequences SET value = GREATEST(value, $1) WHERE name = 'uid'", uid)
            row = await _unique(
                c.fetchrow(
                    "INSERT INTO accounts(uid, username, pw_hash, nickname, email, role, activated, created_ms)"
                    f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_ACCOUNT_COLS}",
                    new_uid,
                    username,
                    pw_hash,
                    nickname,
                    email,
                    int(role),
                    int(activated),
                    _now_ms(),
                ),
                "username taken",
            )
            return _account(row)

        return await self._writer.run(op)

    async def get_account(self, uid: int) -> Account | None:
        row = await self._accounts_by_uid.get(uid)
        return _account(row) if row else None

    async def get_account_by_name(self, username: str) -> Account | None:
        row = await self._accounts_by_name.get(username)
        return _account(row) if row else None

    async def get_accounts(self, uids: Iterable[int]) -> list[Account]:
        """In the order asked, unknown uids left out; one query."""
        wanted = list(dict.fromkeys(uids))
        rows = await self._read_all(
            f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE uid = ANY($1::bigint[])", wanted
        )
        found = {row[0]: row for row in rows}
        return [_account(found[uid]) for uid in wanted if uid in found]

    async def list_accounts(self, limit: int = 10_000) -> list[Account]:
        rows = await self._read_all(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY uid LIMIT $1", limit)
        return [_account(r) for r in rows]

    async def get_password_hash(self, uid: int) -> str | None:
        row = await self._read_one("SELECT pw_hash FROM accounts WHERE uid = $1", uid)
        return str(row[0]) if row else None

    async def update_account(self, uid: int, change: AccountUpdate) -> Account | None:
        sets, values = _assignments(_ACCOUNT_UPDATE_COLUMNS, changed_fields(change), 2)

        async def op(c: Connection) -> Account | None:
            if sets:
                await c.execute(f"UPDATE accounts SET {', '.join(sets)} WHERE uid = $1", uid, *values)
            row: Any = await c.fetchrow(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE uid = $1", uid)
            return _account(row) if row else None

        return await self._writer.run(op)

    # -- messages --------------------------------------------------------------------------------
    def append_message(self, new: NewMessage, into: Pending[SendResult] | None = None) -> Pending[SendResult]:
        """Appends made in one loop turn travel to the writer as one call: a few statements in all."""
        pending: Pending[SendResult] = Pending() if into is None else into
        self._appends.append((new, pending))
        if len(self._appends) == 1:
            asyncio.get_running_loop().call_soon(self._submit_appends)
        return pending

    def _submit_appends(self) -> None:
        """A loop turn's appends join the appends call still waiting for the writer when nothing was
        queued after it, so that a transaction holds one seq statement (locking its conversations in
        key order): two nodes' transactions with several such statements each, every one ordered only
        within itself, deadlocked on conversations they share (PostgreSQL aborts one after a second)."""
        new_calls, self._appends = self._appends, []
        if self._open is not None and self._writer.queued_last(self._open[1]):
            self._open[0].extend(new_calls)  # settled by the call they joined
            return
        batch = new_calls

        async def op(c: Connection) -> list[SendResult]:
            if self._open is not None and self._open[0] is batch:
                self._open = None  # started: later appends make a call of their own
            return await _append_many(c, [new for new, _ in batch])

        def settle(done: asyncio.Future[list[SendResult]]) -> None:
            exc = done.exception()
            for i, (_, fut) in enumerate(batch):
                if fut.done():
                    continue
                if exc is not None:
                    fut.set_exception(exc)
                    continue
                result = done.result()[i]
                self._stored += not result.duplicate
                fut.set_result(result)

        done = self._writer.run(op, locks_convs=True)
        done.add_done_callback(settle)
        self._open = (batch, done)

    async def get_message(self, conv: ConvId, seq: int) -> Message | None:
        row = await self._read_one(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv = $1 AND seq = $2", conv.key, seq
        )
        return _message(row) if row else None

    async def find_message(self, sender: int, device: str, client_id: str) -> Message | None:
        if not client_id:
            return None
        row = await self._read_one(
            f"SELECT {_MSG_COLS} FROM messages WHERE sender = $1 AND device = $2 AND client_id = $3"
            " AND client_id <> ''",
            sender,
            device,
            client_id,
        )
        return _message(row) if row else None

    async def message_by_id(self, conv: ConvId, msg_id: int) -> Message | None:
        """A notification through the partial index of schema v8 (its condition is in the query)."""
        only_notify = " AND conv LIKE 'n:%'" if conv.kind is ConvKind.NOTIFY else ""
        row = await self._read_one(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv = $1 AND msg_id = $2{only_notify}", conv.key, msg_id
        )
        return _message(row) if row else None

    async def max_client_seq(self, sender: int, device: str) -> int:
        row = await self._read_one(
            "SELECT MAX(client_id::bigint) FROM messages WHERE sender = $1 AND device = $2"
            " AND client_id ~ '^[0-9]{1,18}$'",
            sender,
            device,
        )
        return int(row[0]) if row and row[0] is not None else 0

    async def history(
        self, conv: ConvId, before_seq: int, count: int, topic: str = "", *, deleted: bool = False
    ) -> list[Message]:
        top = before_seq if before_seq > 0 else 1 << 62
        sql = f"SELECT {_MSG_COLS} FROM messages WHERE conv = $1 AND seq <= $2" + (
            "" if deleted else " AND status <> 3"
        )
        args: list[Any] = [conv.key, top]
        if topic:
            sql += " AND topic = $3 AND topic <> ''"  # the second term lets the planner use messages_topic
            args.append(topic)
        rows = await self._read_all(sql + f" ORDER BY seq DESC LIMIT ${len(args) + 1}", *args, count)
        return [_message(r) for r in rows]

    async def messages_after(self, conv: ConvId, after_seq: int, count: int) -> list[Message]:
        rows = await self._read_all(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            conv.key,
            after_seq,
            count,
        )
        return [_message(r) for r in rows]

    async def last_message(self, conv: ConvId, topic: str = "") -> Message | None:
        msgs = await self.history(conv, 0, 1, topic)
        return msgs[0] if msgs else None

    async def last_seq(self, conv: ConvId) -> int:
        row = await self._read_one("SELECT last_seq FROM conversations WHERE conv = $1", conv.key)
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
        async def op(c: Connection) -> tuple[Control, bool]:
            return await _apply_control(c, control, device, new_status, new_content, queue_uids, activity_us)

        return await self._writer.run(op, locks_convs=True)

    async def find_control(self, actor: int, device: str, client_id: str) -> Control | None:
        row = await self._read_one(
            f"SELECT {_CTRL_COLS} FROM controls WHERE actor = $1 AND device = $2 AND client_id = $3"
            " AND client_id <> ''",
            actor,
            device,
            client_id,
        )
        return _control(row) if row else None

    # -- per-user conversation state ---------------------------------------------------------------
    async def advance_read(self, uid: int, conv: ConvId, seq: int, activity_us: int, topic: str = "") -> int:
        async def op(c: Connection) -> int:
            last = await c.fetchval("SELECT last_seq FROM conversations WHERE conv = $1", conv.key)
            target = min(seq, int(last or 0))
            return int(
                await c.fetchval(
                    "INSERT INTO user_convs AS u (uid, conv, read_seq, delivered_seq, activity_us)"
                    " VALUES ($1, $2, $3, $3, $4) ON CONFLICT (uid, conv) DO UPDATE SET"
                    " read_seq = GREATEST(u.read_seq, EXCLUDED.read_seq),"
                    " delivered_seq = GREATEST(u.delivered_seq, EXCLUDED.delivered_seq),"
                    " activity_us = EXCLUDED.activity_us RETURNING read_seq",
                    uid,
                    _state_key(conv, topic),
                    target,
                    activity_us,
                )
            )

        return await self._writer.run(op)

    async def advance_delivered(self, uid: int, conv: ConvId, seq: int) -> None:
        await self._execute(_ADVANCE_DELIVERED, uid, conv.key, seq)

    def note_delivered(self, uid: int, conv: ConvId, seq: int) -> None:
        self._receipts.note(uid, conv.key, seq)

    def _write_receipts(self, pending: dict[int, dict[str, int]]) -> asyncio.Future[None]:
        rows = sorted((uid, key, seq) for uid, convs in pending.items() for key, seq in convs.items())

        async def op(c: Connection) -> None:
            await c.executemany(_ADVANCE_DELIVERED, rows)

        return self._writer.run(op)

    async def set_conv_attr(self, uid: int, conv: ConvId, name: str, value: str, activity_us: int) -> None:
        async def op(c: Connection) -> None:
            row = await c.fetchrow(
                "SELECT attrs FROM user_convs WHERE uid = $1 AND conv = $2 FOR UPDATE", uid, conv.key
            )
            attrs: dict[str, str] = json.loads(row[0]) if row else {}
            if value:
                attrs[name] = value
            else:
                attrs.pop(name, None)
            await c.execute(
                "INSERT INTO user_convs(uid, conv, attrs, activity_us) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (uid, conv) DO UPDATE SET attrs = EXCLUDED.attrs, activity_us = EXCLUDED.activity_us",
                uid,
                conv.key,
                json.dumps(attrs, sort_keys=True),
                activity_us,
            )

        await self._writer.run(op)

    @in_a_task
    async def conv_state(self, uid: int, conv: ConvId, topic: str = "") -> ConvState:
        overlay = self._receipts.of(uid)  # taken before the read, so a flush racing it cannot hide one
        async with self._reads.acquire() as c:
            state = await _conv_state(c, uid, conv, topic)
        return _with_receipts(state, overlay)

    @in_a_task
    async def user_conversations(self, uid: int) -> list[ConvState]:
        overlay = self._receipts.of(uid)
        async with self._reads.acquire() as c:
            states = await _user_conversations(c, uid)
        return [_with_receipts(s, overlay) for s in states] if overlay else states

    async def peers(self, uid: int) -> list[int]:
        rows = await self._read_all("SELECT conv FROM user_convs WHERE uid = $1 AND conv LIKE 'p:%'", uid)
        peers = (ConvId.from_key(r[0]).peer_of(uid) for r in rows)
        return sorted(p for p in peers if p != uid)

    async def peer_cursors(self, uid: int) -> dict[str, tuple[int, int]]:
        rows = await self._read_all(
            "SELECT mine.conv, theirs.read_seq, theirs.activity_us FROM user_convs mine"
            " JOIN user_convs theirs ON theirs.conv = mine.conv AND theirs.uid <> mine.uid"
            " WHERE mine.uid = $1 AND mine.conv LIKE 'p:%'",
            uid,
        )
        out: dict[str, tuple[int, int]] = {}
        for key, read, activity in rows:
            if ConvId.from_key(key).peer_of(uid) != uid:
                out[key] = (int(read), int(activity))
        return out

    @in_a_task
    async def priority_entries(
        self, uid: int, after_key: int, count: int, min_key: int
    ) -> list[PriorityEntry]:
        async with self._reads.acquire() as c:
            return await _priority_entries(c, uid, after_key, count, min_key)

    # -- relations ------------------------------------------------------------------------------
    async def add_friends(self, uid: int, peer: int, remark: str, both: bool) -> None:
        async def op(c: Connection) -> None:
            now = _now_ms()
            await c.execute(_UPSERT_FRIEND, uid, peer, remark, now)
            await c.execute(_REMARK_ATTR, uid, peer, remark)
            if both:
                await c.execute(
                    "INSERT INTO friends(uid, peer, updated_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    peer,
                    uid,
                    now,
                )

        await self._writer.run(op)

    async def remove_friends(self, uid: int, peer: int, both: bool = True) -> bool:
        back = (peer, uid) if both else (uid, peer)

        async def op(c: Connection) -> bool:
            pairs = "((uid = $1 AND peer = $2) OR (uid = $3 AND peer = $4))"
            done = await c.execute(f"DELETE FROM friends WHERE {pairs}", uid, peer, *back)
            await c.execute(f"DELETE FROM friend_attrs WHERE {pairs} AND name <> 'REMARK'", uid, peer, *back)
            return _rowcount(done) > 0

        return await self._writer.run(op)

    async def set_buddy_group(self, uid: int, peer: int, group: str) -> bool:
        async def op(c: Connection) -> bool:
            sql = "UPDATE friends SET buddy_group = $1, updated_ms = $2 WHERE uid = $3 AND peer = $4"
            return _rowcount(await c.execute(sql, group, _now_ms(), uid, peer)) > 0

        return await self._writer.run(op)

    async def rename_buddy_group(self, uid: int, old: str, new: str) -> None:
        sql = "UPDATE friends SET buddy_group = $1, updated_ms = $2 WHERE uid = $3 AND buddy_group = $4"
        await self._execute(sql, new, _now_ms(), uid, old)

    async def friends(self, uid: int, since_ms: int = 0) -> list[Friend]:
        rows = await self._read_all(
            "SELECT uid, peer, remark, buddy_group, updated_ms FROM friends WHERE uid = $1 AND updated_ms >= $2"
            " ORDER BY peer",
            uid,
            since_ms,
        )
        return [Friend(*r) for r in rows]

    async def followers(self, uid: int) -> set[int]:
        return {int(r[0]) for r in await self._read_all("SELECT uid FROM friends WHERE peer = $1", uid)}

    async def is_friend(self, uid: int, peer: int) -> bool:
        return (
            await self._read_one("SELECT 1 FROM friends WHERE uid = $1 AND peer = $2", uid, peer) is not None
        )

    async def set_blocked(self, uid: int, peer: int, blocked: bool) -> None:
        await self._set_pair("blocks", uid, peer, blocked)

    async def blocked_by(self, uid: int) -> set[int]:
        return await self._peers("blocks", uid)

    async def set_muted(self, uid: int, peer: int, muted: bool) -> None:
        await self._set_pair("mutes", uid, peer, muted)

    async def muted_by(self, uid: int) -> set[int]:
        return await self._peers("mutes", uid)

    async def _set_pair(self, table: str, uid: int, peer: int, present: bool) -> None:
        """Add or drop the (uid, peer) row of a relation table (``blocks``, ``mutes``)."""
        sql = (
            f"INSERT INTO {table}(uid, peer) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            if present
            else f"DELETE FROM {table} WHERE uid = $1 AND peer = $2"
        )
        await self._execute(sql, uid, peer)

    async def _peers(self, table: str, uid: int) -> set[int]:
        return {int(r[0]) for r in await self._read_all(f"SELECT peer FROM {table} WHERE uid = $1", uid)}

    async def set_friend_attr(self, uid: int, peer: int, name: str, value: str) -> None:
        async def op(c: Connection) -> None:
            await c.execute(
                "INSERT INTO friend_attrs(uid, peer, name, value) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (uid, peer, name) DO UPDATE SET value = EXCLUDED.value",
                uid,
                peer,
                name,
                value,
            )
            if name == "REMARK":
                await c.execute(
                    "UPDATE friends SET remark = $1, updated_ms = $2 WHERE uid = $3 AND peer = $4",
                    value,
                    _now_ms(),
                    uid,
                    peer,
                )

        await self._writer.run(op)

    async def friend_attrs(self, uid: int, peer: int | None, name: str) -> list[tuple[int, str, str]]:
        sql = "SELECT peer, name, value FROM friend_attrs WHERE uid = $1"
        args: list[Any] = [uid]
        if peer is not None:
            args.append(peer)
            sql += f" AND peer = ${len(args)}"
        if name:
            args.append(name)
            sql += f" AND name = ${len(args)}"
        rows = await self._read_all(sql + ' ORDER BY peer, name COLLATE "C"', *args)
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    # -- friend requests --------------------------------------------------------------------------
    async def put_friend_request(self, request: FriendRequest, min_ms: int) -> None:
        async def op(c: Connection) -> None:
            await c.execute("DELETE FROM friend_requests WHERE created_ms < $1", min_ms)
            await c.execute(
                "INSERT INTO friend_requests(uid, peer, remark, created_ms) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (uid, peer) DO UPDATE SET remark = EXCLUDED.remark, created_ms = EXCLUDED.created_ms",
                request.uid,
                request.peer,
                request.remark,
                request.created_ms,
            )

        await self._writer.run(op)

    async def accept_friend_request(self, requester: int, accepter: int, remark: str, min_ms: int) -> bool:
        async def op(c: Connection) -> bool:
            row = await c.fetchrow(
                "SELECT remark FROM friend_requests WHERE uid = $1 AND peer = $2 AND created_ms >= $3",
                requester,
                accepter,
                min_ms,
            )
            if row is None:
                return False
            now = _now_ms()
            for uid, peer, mark in ((accepter, requester, remark), (requester, accepter, str(row[0]))):
                await c.execute(_UPSERT_FRIEND, uid, peer, mark, now)
                await c.execute(_REMARK_ATTR, uid, peer, mark)
            await _delete_requests(c, requester, accepter)
            return True

        return await self._writer.run(op)

    async def delete_friend_requests(self, uid: int, peer: int) -> bool:
        async def op(c: Connection) -> bool:
            return await _delete_requests(c, uid, peer)

        return await self._writer.run(op)

    async def friend_requests_to(self, peer: int, min_ms: int) -> list[FriendRequest]:
        rows = await self._read_all(
            "SELECT uid, peer, remark, created_ms FROM friend_requests WHERE peer = $1 AND created_ms >= $2"
            " ORDER BY created_ms, uid",
            peer,
            min_ms,
        )
        return [FriendRequest(int(r[0]), int(r[1]), str(r[2]), int(r[3])) for r in rows]

    # -- groups -----------------------------------------------------------------------------------
    async def create_group(self, group: Group, members: Sequence[int]) -> Group:
        async def op(c: Connection) -> Group:
            gid = await _next_seq(c, "gid")
            # An unnamed group is called GC_<gid>; if a user already named another group that way,
            # skip to the next gid rather than refusing every unnamed group from then on.
            taken = "SELECT 1 FROM groups WHERE name = $1"
            while not group.name and await c.fetchval(taken, f"GC_{gid}"):
                gid = await _next_seq(c, "gid")
            name = group.name or f"GC_{gid}"
            if await c.fetchval(taken, name):
                raise Conflict("group name taken")
            now = _now_ms()
            row = await _unique(
                c.fetchrow(
                    f"INSERT INTO groups({_GROUP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                    f" RETURNING {_GROUP_COLS}",
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
                "group name taken",
            )
            roles = [
                (gid, u, int(GroupRole.OWNER if u == group.owner else GroupRole.MEMBER), now) for u in members
            ]
            await c.executemany(
                "INSERT INTO group_members(gid, uid, role, joined_ms) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                roles,
            )
            return _group(row)

        return await self._writer.run(op)

    async def get_group(self, gid: int) -> Group | None:
        row = await self._read_one(f"SELECT {_GROUP_COLS} FROM groups WHERE gid = $1", gid)
        return _group(row) if row else None

    async def list_groups(self, limit: int = 10_000) -> list[Group]:
        rows = await self._read_all(f"SELECT {_GROUP_COLS} FROM groups ORDER BY gid LIMIT $1", limit)
        return [_group(r) for r in rows]

    async def get_group_by_name(self, name: str) -> Group | None:
        row = await self._read_one(f"SELECT {_GROUP_COLS} FROM groups WHERE name = $1", name)
        return _group(row) if row else None

    async def update_group(self, gid: int, change: GroupUpdate) -> Group:
        sets, values = _assignments(_GROUP_UPDATE_COLUMNS, changed_fields(change), 3)

        async def op(c: Connection) -> Group:
            taken = "SELECT 1 FROM groups WHERE name = $1 AND gid <> $2"
            if change.name is not None and await c.fetchval(taken, change.name, gid):
                raise Conflict("group name taken")
            if change.owner is not None:  # a transfer swaps the two roles in the same transaction
                await c.execute(
                    "UPDATE group_members SET role = 0 WHERE gid = $1 AND role = $2",
                    gid,
                    int(GroupRole.OWNER),
                )
                await c.execute(
                    "UPDATE group_members SET role = $1 WHERE gid = $2 AND uid = $3",
                    int(GroupRole.OWNER),
                    gid,
                    change.owner,
                )
            assignments = ", ".join([*sets, "updated_ms = $2"])
            row = await _unique(
                c.fetchrow(
                    f"UPDATE groups SET {assignments} WHERE gid = $1 RETURNING {_GROUP_COLS}",
                    gid,
                    _now_ms(),
                    *values,
                ),
                "group name taken",
            )
            return _group(row)

        return await self._writer.run(op)

    async def delete_group(self, gid: int) -> list[int]:
        async def op(c: Connection) -> list[int]:
            rows = await c.fetch("DELETE FROM group_members WHERE gid = $1 RETURNING uid", gid)
            await c.execute("DELETE FROM group_blacklist WHERE gid = $1", gid)
            await c.execute("DELETE FROM groups WHERE gid = $1", gid)
            return [int(r[0]) for r in rows]

        return await self._writer.run(op)

    async def group_members(self, gid: int) -> list[GroupMember]:
        rows = await self._read_all(
            "SELECT uid, role, muted FROM group_members WHERE gid = $1 ORDER BY role DESC, uid", gid
        )
        return [GroupMember(int(r[0]), GroupRole(r[1]), bool(r[2])) for r in rows]

    async def add_group_members(self, gid: int, uids: Sequence[int]) -> None:
        now = _now_ms()

        async def op(c: Connection) -> None:
            await c.executemany(
                "INSERT INTO group_members(gid, uid, joined_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                [(gid, u, now) for u in uids],
            )
            await c.execute("UPDATE groups SET updated_ms = $1 WHERE gid = $2", now, gid)

        await self._writer.run(op)

    async def remove_group_members(self, gid: int, uids: Sequence[int]) -> None:
        async def op(c: Connection) -> None:
            await c.execute(
                "DELETE FROM group_members WHERE gid = $1 AND uid = ANY($2::bigint[])", gid, list(uids)
            )
            await c.execute("UPDATE groups SET updated_ms = $1 WHERE gid = $2", _now_ms(), gid)

        await self._writer.run(op)

    async def set_member_role(self, gid: int, uid: int, role: GroupRole) -> None:
        await self._execute(
            "UPDATE group_members SET role = $1 WHERE gid = $2 AND uid = $3", int(role), gid, uid
        )

    async def set_member_muted(self, gid: int, uid: int, muted: bool) -> None:
        await self._execute(
            "UPDATE group_members SET muted = $1 WHERE gid = $2 AND uid = $3", int(muted), gid, uid
        )

    async def set_group_blacklisted(self, gid: int, uid: int, listed: bool) -> None:
        sql = (
            "INSERT INTO group_blacklist(gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            if listed
            else "DELETE FROM group_blacklist WHERE gid = $1 AND uid = $2"
        )
        await self._execute(sql, gid, uid)

    async def group_blacklist(self, gid: int) -> set[int]:
        return {
            int(r[0]) for r in await self._read_all("SELECT uid FROM group_blacklist WHERE gid = $1", gid)
        }

    async def groups_of(self, uid: int) -> list[Group]:
        rows = await self._read_all(
            f"SELECT {', '.join('g.' + c.strip() for c in _GROUP_COLS.split(','))} FROM groups g"
            " JOIN group_members m ON m.gid = g.gid WHERE m.uid = $1 ORDER BY g.gid",
            uid,
        )
        return [_group(r) for r in rows]

    # -- numbered devices ---------------------------------------------------------------------------
    async def new_device(self, uid: int, nation: int, city: int, town: int, now_ms: int) -> int:
        async def op(c: Connection) -> int:
            device = await _next_seq(c, "device")
            while await c.fetchval("SELECT 1 FROM devices WHERE device = $1", _i64(device)):
                device = await _next_seq(c, "device")
            await c.execute(
                "INSERT INTO devices(device, uid, nation, city, town, registered, created_ms)"
                " VALUES ($1, $2, $3, $4, $5, 1, $6)",
                _i64(device),
                uid,
                nation,
                city,
                town,
                now_ms,
            )
            return device

        return await self._writer.run(op)

    async def bind_device(self, device: int, uid: int, now_ms: int) -> int:
        async def op(c: Connection) -> int:
            await c.execute(
                "INSERT INTO devices(device, uid, created_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                _i64(device),
                uid,
                now_ms,
            )
            return int(await c.fetchval("SELECT uid FROM devices WHERE device = $1", _i64(device)))

        return await self._writer.run(op)

    async def device_owner(self, device: int) -> int | None:
        row = await self._read_one("SELECT uid FROM devices WHERE device = $1", _i64(device))
        return int(row[0]) if row else None

    async def devices_since(self, uid: int, since_ms: int) -> int:
        row = await self._read_one(
            "SELECT COUNT(*) FROM devices WHERE uid = $1 AND created_ms >= $2 AND registered = 1",
            uid,
            since_ms,
        )
        return int(row[0]) if row else 0

    # -- rooms ------------------------------------------------------------------------------------
    async def next_rid(self) -> int:
        async def op(c: Connection) -> int:
            return await _next_seq(c, "rid")

        return await self._writer.run(op)

    def save_room(self, room: RoomRecord) -> asyncio.Future[None]:
        async def op(c: Connection) -> None:
            await c.execute(
                f"INSERT INTO rooms({_ROOM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (rid) DO UPDATE"
                " SET owner = EXCLUDED.owner, name = EXCLUDED.name, descr = EXCLUDED.descr, closed = EXCLUDED.closed,"
                " capacity = EXCLUDED.capacity, member_limit = EXCLUDED.member_limit, dismissed = EXCLUDED.dismissed",
                room.rid,
                room.owner,
                room.name,
                room.desc,
                int(room.closed),
                room.capacity,
                room.limit,
                int(room.dismissed),
            )
            if room.dismissed:
                await c.execute("DELETE FROM room_users WHERE rid = $1", room.rid)

        return self._writer.run(op)

    def set_room_user(self, rid: int, uid: int, kind: RoomList, listed: bool) -> asyncio.Future[None]:
        sql = (
            "INSERT INTO room_users(rid, kind, uid) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
            if listed
            else "DELETE FROM room_users WHERE rid = $1 AND kind = $2 AND uid = $3"
        )

        async def op(c: Connection) -> None:
            await c.execute(sql, rid, int(kind), uid)

        return self._writer.run(op)

    async def rooms(self) -> list[RoomRecord]:
        rows = await self._read_all(f"SELECT {_ROOM_COLS} FROM rooms ORDER BY rid")
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
        rows = await self._read_all("SELECT rid, uid, kind FROM room_users ORDER BY rid, kind, uid")
        return [RoomUser(int(r[0]), int(r[1]), RoomList(r[2])) for r in rows]

    # -- idempotency ------------------------------------------------------------------------------
    async def remember(self, key: str, result: str) -> str:
        async def op(c: Connection) -> str:
            await c.execute(
                "INSERT INTO idempotency(key, result) VALUES ($1, $2) ON CONFLICT DO NOTHING", key, result
            )
            return str(await c.fetchval("SELECT result FROM idempotency WHERE key = $1", key))

        return await self._writer.run(op)

    async def recall(self, key: str) -> str | None:
        row = await self._read_one("SELECT result FROM idempotency WHERE key = $1", key)
        return str(row[0]) if row else None

    # -- offline files ----------------------------------------------------------------------------
    async def keep_offline_file(self, record: OfflineFile) -> None:
        r = record
        await self._execute(
            "INSERT INTO offline_files(task_id, sender, recipient, name, size, file_id, created_ms)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (task_id) DO UPDATE SET sender = EXCLUDED.sender,"
            " recipient = EXCLUDED.recipient, name = EXCLUDED.name, size = EXCLUDED.size,"
            " file_id = EXCLUDED.file_id, created_ms = EXCLUDED.created_ms",
            r.task_id,
            r.sender,
            r.recipient,
            r.name,
            r.size,
            r.file_id,
            r.created_ms,
        )

    async def forget_offline_file(self, task_id: str) -> None:
        await self._execute("DELETE FROM offline_files WHERE task_id = $1", task_id)

    async def offline_files(self, *, recipient: int = 0, task_id: str = "") -> list[OfflineFile]:
        rows = await self._read_all(
            "SELECT task_id, sender, recipient, name, size, file_id, created_ms FROM offline_files"
            " WHERE ($1::bigint = 0 OR recipient = $1) AND ($2::text = '' OR task_id = $2)"
            ' ORDER BY created_ms, task_id COLLATE "C"',
            recipient,
            task_id,
        )
        return [OfflineFile(*r) for r in rows]


K = TypeVar("K", int, str)


class _PointReads(Generic[K]):
    """Lookups of one row by key asked for in one loop turn travel as one ``= ANY($1)`` query, run in a
    task (so a caller outside one, an eager handler start, needs none). A reconnect storm asks for
    thousands of accounts at once: a few statements instead of thousands, each still fresh."""

    def __init__(self, store: PostgresStore, select_any: str, key_column: int) -> None:
        self._store = store
        self._select_any = select_any
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
        column = self._key_column

        def settle(done: asyncio.Future[list[Any]]) -> None:
            exc = done.exception()
            rows = {} if exc is not None else {row[column]: row for row in done.result()}
            for key, futs in waiting.items():
                for fut in futs:
                    if fut.done():
                        continue
                    if exc is not None:
                        fut.set_exception(exc)
                    else:
                        fut.set_result(rows.get(key))

        fetch = asyncio.ensure_future(self._store._read_all(self._select_any, list(waiting)))
        fetch.add_done_callback(settle)


async def _unique(statement: Any, what: str) -> Any:
    """Await ``statement``; a unique violation (another node took the name first) is a :class:`Conflict`."""
    try:
        return await statement
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(what) from exc


def _rowcount(status: str) -> int:
    """The row count of a command status (``DELETE 2``, ``UPDATE 0``)."""
    return int(status.rsplit(" ", 1)[-1])


async def _delete_requests(c: Connection, uid: int, peer: int) -> bool:
    done = await c.execute(
        "DELETE FROM friend_requests WHERE (uid = $1 AND peer = $2) OR (uid = $2 AND peer = $1)", uid, peer
    )
    return _rowcount(done) > 0


async def _append_many(c: Connection, news: list[NewMessage]) -> list[SendResult]:
    """A loop turn's appends: seqs allocated for every conversation at once, every row inserted at once.
    If any row was a resend (skipped by the dedup index) all of it is rolled back to a savepoint (its seqs
    too) and done row by row, so a duplicate never leaves a gap in a conversation's seqs."""
    counts: dict[str, list[int]] = {}  # key → [count, activity]
    for new in news:
        entry = counts.setdefault(new.conv.key, [0, 0])
        entry[0] += 1
        entry[1] = max(entry[1], new.activity_us)
    keys = sorted(counts)  # one lock order for every node's writer
    await c.execute("SAVEPOINT appends")
    allocated = await c.fetch(_ALLOCATE, keys, [counts[k][0] for k in keys], [counts[k][1] for k in keys])
    next_seq = {key: last - counts[key][0] + 1 for key, last in allocated}
    rows = []
    for new in news:
        key = new.conv.key
        rows.append(_row(new, key, next_seq[key]))
        next_seq[key] += 1
    inserted = await c.fetch(_INSERT_MSGS, *(list(column) for column in zip(*rows, strict=True)))
    if len(inserted) != len(rows):
        await c.execute("ROLLBACK TO SAVEPOINT appends")
        await c.execute("RELEASE SAVEPOINT appends")
        return [await _append_one(c, new) for new in news]
    await c.execute("RELEASE SAVEPOINT appends")
    await _bookkeeping(c, list(zip(news, rows, strict=True)))
    return [_stored(new, row) for new, row in zip(news, rows, strict=True)]


async def _append_one(c: Connection, new: NewMessage) -> SendResult:
    key = new.conv.key
    existing: Any = await c.fetchrow(
        f"SELECT {_MSG_COLS} FROM messages WHERE sender = $1 AND device = $2 AND client_id = $3 AND client_id <> ''",
        new.sender,
        new.device,
        new.client_id,
    )
    if existing is not None:
        return SendResult(_message(existing), True)
    await c.execute("SAVEPOINT one")
    (_, last), *_ = await c.fetch(_ALLOCATE, [key], [1], [new.activity_us])
    row = _row(new, key, last)
    if not await c.fetch(_INSERT_MSGS, *([value] for value in row)):
        # another node stored the same client id between the lookup and the insert
        await c.execute("ROLLBACK TO SAVEPOINT one")
        await c.execute("RELEASE SAVEPOINT one")
        return await _append_one(c, new)
    await c.execute("RELEASE SAVEPOINT one")
    await _bookkeeping(c, [(new, row)])
    return _stored(new, row)


def _stored(new: NewMessage, row: _Row) -> SendResult:
    return SendResult(stored(new, row[1]), False)  # row[1]: the seq allocated for it


async def _bookkeeping(c: Connection, stored: list[tuple[NewMessage, _Row]]) -> None:
    """After inserting: state rows of new 1:1 conversations and topics, the senders' read cursors, and the
    priority queues, each one statement for the whole batch."""
    states: set[tuple[int, str]] = set()
    reads: dict[tuple[int, str], int] = {}
    for new, row in stored:
        key, seq = row[0], row[1]
        if new.conv.kind is ConvKind.PEER and seq == 1:
            states.update(((new.conv.a, key), (new.conv.b, key)))
        elif new.conv.kind is ConvKind.NOTIFY:
            states.add((new.conv.a, _state_key(new.conv, new.topic)))
        if new.conv.kind is not ConvKind.NOTIFY:
            reads[(new.sender, key)] = seq
    if states:
        uids, convs = zip(*sorted(states), strict=True)
        await c.execute(_ENSURE_STATE, list(uids), list(convs))
    if reads:
        ordered = sorted(reads.items())
        await c.execute(
            _ADVANCE_READS,
            [uid for (uid, _), _ in ordered],
            [k for (_, k), _ in ordered],
            [s for _, s in ordered],
        )
    queued = [(uid, row[0], row[1], 0, new.activity_us) for new, row in stored for uid in new.priority_uids]
    if queued:
        await c.executemany(_ENQUEUE, queued)


async def _apply_control(
    c: Connection,
    control: Control,
    device: str,
    new_status: MsgStatus,
    new_content: str | None,
    queue_uids: Sequence[int],
    activity_us: int,
) -> tuple[Control, bool]:
    if control.client_id:
        row: Any = await c.fetchrow(
            f"SELECT {_CTRL_COLS} FROM controls WHERE actor = $1 AND device = $2 AND client_id = $3"
            " AND client_id <> ''",
            control.actor,
            device,
            control.client_id,
        )
        if row:
            return _control(row), True
    key = control.conv.key
    if new_content is None:
        await c.execute(
            "UPDATE messages SET status = $1 WHERE conv = $2 AND seq = $3", int(new_status), key, control.seq
        )
    else:
        await c.execute(
            "UPDATE messages SET status = $1, content = $2 WHERE conv = $3 AND seq = $4",
            int(new_status),
            new_content,
            key,
            control.seq,
        )
    control_id = await c.fetchval(
        "INSERT INTO controls(conv, seq, cmd, actor, device, client_id, target_client_id, content, ts_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        key,
        control.seq,
        int(control.cmd),
        control.actor,
        device,
        control.client_id,
        control.target_client_id,
        control.content,
        control.ts_ms,
    )
    if control.cmd is ControlCmd.DELETE:
        await c.execute(
            "DELETE FROM priority_queue WHERE conv = $1 AND seq = $2 AND control_id = 0", key, control.seq
        )
    await c.execute("UPDATE conversations SET activity_us = $1 WHERE conv = $2", activity_us, key)
    await c.executemany(_ENQUEUE, [(uid, key, control.seq, control_id, activity_us) for uid in queue_uids])
    return control, False


async def _conv_state(c: _Reader, uid: int, conv: ConvId, topic: str) -> ConvState:
    crow = await c.fetchrow("SELECT last_seq, activity_us FROM conversations WHERE conv = $1", conv.key)
    urow = await c.fetchrow(
        "SELECT read_seq, delivered_seq, activity_us, attrs FROM user_convs WHERE uid = $1 AND conv = $2",
        uid,
        _state_key(conv, topic),
    )
    last, act = (int(crow[0]), int(crow[1])) if crow else (0, 0)
    read, delivered, uact, attrs = tuple(urow) if urow else (0, 0, 0, "{}")
    return ConvState(conv, last, read, delivered, max(act, uact), json.loads(attrs), topic)


async def _user_conversations(c: _Reader, uid: int) -> list[ConvState]:
    # Groups come from current membership only (see the SQLite store).
    rows = await c.fetch(
        "SELECT x.conv, COALESCE(cv.last_seq, 0), COALESCE(cv.activity_us, 0), COALESCE(u.read_seq, 0),"
        " COALESCE(u.delivered_seq, 0), COALESCE(u.activity_us, 0), COALESCE(u.attrs, '{}')"
        " FROM (SELECT conv FROM user_convs WHERE uid = $1 AND conv NOT LIKE 'n:%' AND conv NOT LIKE 'g:%'"
        "       UNION SELECT 'g:' || gid FROM group_members WHERE uid = $1) x"
        " LEFT JOIN conversations cv ON cv.conv = x.conv LEFT JOIN user_convs u ON u.uid = $1 AND u.conv = x.conv",
        uid,
    )
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
    return states + await _notify_topics(c, uid)


async def _notify_topics(c: _Reader, uid: int) -> list[ConvState]:
    conv = ConvId.notify(uid)
    prefix = conv.key + "#"
    # Through the partial index messages_topic (conv, topic, seq), which the ``topic <> ''`` terms let the
    # planner use: each topic's newest item and a count of its unread ones, not a read of the user's
    # whole notification stream (docs/performance.md, "How cost grows").
    rows = await c.fetch(
        "SELECT u.conv, u.read_seq, u.delivered_seq, u.activity_us, u.attrs, n.seq, n.ts_ms,"
        " (SELECT COUNT(*) FROM messages m WHERE m.conv = $2 AND m.topic = substr(u.conv, $3)"
        "  AND m.topic <> '' AND m.seq > u.read_seq)"
        " FROM user_convs u LEFT JOIN LATERAL (SELECT seq, ts_ms FROM messages m WHERE m.conv = $2"
        "  AND m.topic = substr(u.conv, $3) AND m.topic <> '' ORDER BY seq DESC LIMIT 1) n ON true"
        " WHERE u.uid = $1 AND u.conv LIKE $4",
        uid,
        conv.key,
        len(prefix) + 1,
        prefix + "%",
    )
    out = []
    for key, _read, delivered, uact, attrs, last_seq, last_ts, unread in rows:
        last = int(last_seq or 0)
        act = max(int(last_ts or 0) * 1000, int(uact))
        # read_seq is reported as last - unread so that ConvState.unread counts this topic's items only
        out.append(
            ConvState(
                conv, last, last - int(unread), int(delivered), act, json.loads(attrs), key[len(prefix) :]
            )
        )
    return out


async def _priority_entries(
    c: _Reader, uid: int, after_key: int, count: int, min_key: int
) -> list[PriorityEntry]:
    rows = await c.fetch(
        "SELECT key, conv, seq, control_id FROM priority_queue WHERE uid = $1 AND key > $2 AND key >= $3"
        " ORDER BY key LIMIT $4",
        uid,
        after_key,
        min_key,
        count,
    )
    out = []
    for key, conv, seq, control_id in rows:
        mrow: Any = await c.fetchrow(
            f"SELECT {_MSG_COLS} FROM messages WHERE conv = $1 AND seq = $2", conv, seq
        )
        message = _message(mrow) if mrow else None
        control = None
        if control_id:
            crow: Any = await c.fetchrow(f"SELECT {_CTRL_COLS} FROM controls WHERE id = $1", control_id)
            control = _control(crow) if crow else None
        elif message is None or message.status is MsgStatus.DELETED:
            continue
        out.append(PriorityEntry(int(key), message, control))
    return out
