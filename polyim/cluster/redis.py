"""The cluster seams over Redis (design.md §6): many nodes, one Redis, nothing else shared but PostgreSQL.

What lives in Redis (every key under ``polyim:``):

* ``sessions:<node>``: a hash sid → session record, one per node, and ``alive:<node>``, the node's
  heartbeat. Both carry a TTL of :data:`SESSION_TTL` seconds that the node refreshes every
  :data:`HEARTBEAT` seconds, so a node killed with ``kill -9`` leaves the directory within the TTL.
* ``dir``: a channel on which each node announces its sessions coming and going; every node keeps a
  mirror of the directory from it (loaded from the hashes when it joins or Redis comes back), so the hot
  path reads memory, as with one node.
* ``inbox:<node>``: one channel per node carrying the envelopes of :mod:`polyim.cluster.codec`.
* ``cache``: cache invalidations; ``records:<kind>`` and the ``records`` channel: the node registry
  (a mirror kept from the channel and read again every few seconds); ``fail:<key>``, ``lock:<key>``
  and the ``throttle`` channel: the login throttle, shared so that N nodes do not allow N times the
  attempts (locks mirrored, so a login checks memory).

Writes (a session came, an envelope, an invalidation) are queued and sent by one task in pipelines, in
order, one round trip per loop turn at most and none on a send whose recipients are all local. Redis
going away is survived: the queued writes are dropped (a lost envelope is repaired by seq sync when the
client reconnects), the node keeps serving its own sessions, and when Redis is back it writes its
sessions again and reloads the others'. The throttle falls back to this node's own count meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from polyim.cluster.base import (
    GONE_KEPT,
    CacheBus,
    CacheKind,
    Cluster,
    Directory,
    Drop,
    Inbox,
    Membership,
    NodeRecord,
    NodeRegistry,
    Router,
    SessionId,
    SessionRecord,
    Throttle,
)
from polyim.cluster.local import LocalThrottle, _add, _remove
from polyim.config import AccountSettings, ConfigError
from polyim.model import DeviceClass

log = logging.getLogger(__name__)

PREFIX = "polyim:"
HEARTBEAT = 3.0  # seconds between a node's refreshes of its keys (and its look at the others')
SESSION_TTL = 10.0  # a node that stops refreshing leaves the directory this long after its last refresh
RECORDS_POLL = 2.0  # seconds between reads of the node registry
_RETRY = 1.0  # seconds between attempts to reach Redis again
_ERRORS = (RedisError, OSError)


def _key(*parts: object) -> str:
    return PREFIX + ":".join(str(p) for p in parts)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _record_json(r: SessionRecord) -> dict[str, Any]:
    return {
        "sid": r.sid,
        "node": r.node,
        "uid": r.uid,
        "protocol": r.protocol,
        "class": r.device_class.value,
        "device": r.device_id,
        "type": r.device_type,
    }


def _record(d: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        SessionId(int(d["sid"])),
        int(d["node"]),
        int(d["uid"]),
        str(d["protocol"]),
        DeviceClass(d["class"]),
        str(d["device"]),
        int(d["type"]),
    )


class Link:
    """The node's connection to Redis: writes queued in order and sent in pipelines by one task."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._queue: list[tuple[Any, ...]] = []
        self._task: asyncio.Task[None] | None = None
        self.up = False  # the last exchange with Redis succeeded
        self.on_error: Callable[[], None] = lambda: None

    def send(self, *command: Any) -> None:
        """Queue a command; it leaves with the others of this loop turn, never waited for."""
        self._queue.append(command)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            if not self.up:
                continue  # down: dropped; what matters is written again when Redis is back
            try:
                pipe = self.client.pipeline(transaction=False)
                for command in batch:
                    pipe.execute_command(*command)
                await pipe.execute(raise_on_error=False)
            except _ERRORS as exc:
                self.failed(exc)

    async def drain(self) -> None:
        if self._task is not None:
            await self._task

    def failed(self, exc: BaseException) -> None:
        if self.up:
            log.warning("Redis unreachable (%r): serving local sessions only until it is back", exc)
        self.up = False
        self.on_error()


class RedisDirectory(Directory):
    """This node's mirror of the directory, kept from the ``dir`` channel; its own changes are written to
    the hashes and announced in the background, those of one loop turn together (a login storm is a
    few commands, not a few per login)."""

    def __init__(self, link: Link, node_id: int) -> None:
        self.node_id = node_id
        self._link = link
        self._sessions: dict[SessionId, SessionRecord] = {}
        self._by_uid: dict[int, list[SessionRecord]] = {}
        self._remote: dict[int, list[SessionRecord]] = {}
        self._changes: list[tuple[SessionRecord, bool]] = []  # (record, added) not yet written
        self.instance = secrets.token_hex(8)  # this process, in its alive:<node> key

    # -- the interface: memory only, writes in the background ------------------------------------
    def add(self, record: SessionRecord) -> None:
        self._mirror_add(record)
        self._queue(record, True)

    def remove(self, sid: SessionId) -> SessionRecord | None:
        record = self._mirror_remove(sid)
        if record is not None:
            self._queue(record, False)
        return record

    def _queue(self, record: SessionRecord, added: bool) -> None:
        if not self._changes:
            asyncio.get_running_loop().call_soon(self._write_changes)
        self._changes.append((record, added))

    def _write_changes(self) -> None:
        """The turn's changes, in order: one HSET or HDEL per run of one kind on one hash, one PUBLISH."""
        changes, self._changes = self._changes, []
        for (node, added), run in itertools.groupby(changes, key=lambda c: (c[0].node, c[1])):
            records = [r for r, _ in run]
            if added:
                fields = [x for r in records for x in (r.sid, json.dumps(_record_json(r)))]
                self._link.send("HSET", _key("sessions", node), *fields)
            else:
                self._link.send("HDEL", _key("sessions", node), *(r.sid for r in records))
        announced = [{"add": _record_json(r)} if added else {"remove": r.sid} for r, added in changes]
        self._link.send("PUBLISH", _key("dir"), json.dumps({"origin": self.node_id, "changes": announced}))

    def get(self, sid: SessionId) -> SessionRecord | None:
        return self._sessions.get(sid)

    def of(self, uid: int) -> Sequence[SessionRecord]:
        return list(self._by_uid.get(uid, ()))

    def online(self, uid: int) -> bool:
        return uid in self._by_uid

    def remote(self) -> Mapping[int, Sequence[SessionRecord]]:
        return self._remote

    def connected(self) -> bool:
        return self._link.up

    # -- the mirror ---------------------------------------------------------------------------------
    def _mirror_add(self, record: SessionRecord) -> None:
        if record.sid in self._sessions:
            return
        self._sessions[record.sid] = record
        _add(self._by_uid, record)
        if record.node != self.node_id:
            _add(self._remote, record)

    def _mirror_remove(self, sid: SessionId) -> SessionRecord | None:
        record = self._sessions.pop(sid, None)
        if record is not None:
            _remove(self._by_uid, record)
            _remove(self._remote, record)
        return record

    def heard(self, message: dict[str, Any]) -> None:
        """Changes another node announced."""
        if message.get("origin") == self.node_id:
            return
        if "gone" in message:
            self.forget_node(int(message["gone"]))
        for change in message.get("changes", ()):
            if "add" in change:
                self._mirror_add(_record(change["add"]))
            else:
                self._mirror_remove(SessionId(int(change["remove"])))

    def forget_node(self, node: int) -> None:
        for record in [r for r in self._sessions.values() if r.node == node]:
            self._mirror_remove(record.sid)

    def others(self) -> set[int]:
        return {r.node for r in self._sessions.values() if r.node != self.node_id}

    def own(self) -> list[SessionRecord]:
        return [r for r in self._sessions.values() if r.node == self.node_id]

    async def claim(self, client: aioredis.Redis) -> None:
        """Make sure no other running process is this node: its heartbeat must lapse first (a node
        restarted after ``kill -9`` waits at most the TTL). :class:`ConfigError` if it goes on."""
        deadline = time.monotonic() + SESSION_TTL + 2 * HEARTBEAT
        while (holder := await client.get(_key("alive", self.node_id))) is not None:
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"[server] node_id {self.node_id} is in use by another running node (each node needs its own)"
                )
            log.warning(
                "node %d: another process has this node id (%s); waiting for it to lapse",
                self.node_id,
                _text(holder),
            )
            await asyncio.sleep(HEARTBEAT / 2)

    async def resync(self, client: aioredis.Redis) -> None:
        """Write this node's sessions again, announce them (a node that came back before this one
        learns them so), and reload every live node's (at join, and when Redis is back)."""
        mine = _key("sessions", self.node_id)
        own = self.own()
        pipe = client.pipeline(transaction=True)
        pipe.delete(mine)
        if own:
            pipe.hset(mine, mapping={str(r.sid): json.dumps(_record_json(r)) for r in own})
        pipe.set(_key("alive", self.node_id), self.instance, ex=int(SESSION_TTL))
        pipe.expire(mine, int(SESSION_TTL))
        if own:
            announced = [{"add": _record_json(r)} for r in own]
            pipe.publish(_key("dir"), json.dumps({"origin": self.node_id, "changes": announced}))
        await pipe.execute()
        live = await self._live(client)
        for node in live:
            await self._load(client, node)

    async def heartbeat(self, client: aioredis.Redis) -> None:
        """Refresh this node's keys; forget the sessions of nodes whose heartbeat has lapsed, and load
        those of a live node not heard of (an announcement lost while this node was away)."""
        pipe = client.pipeline(transaction=False)
        pipe.set(_key("alive", self.node_id), self.instance, ex=int(SESSION_TTL))
        pipe.expire(_key("sessions", self.node_id), int(SESSION_TTL))
        await pipe.execute()
        known = self.others()
        for node in await self._live(client) - known:
            await self._load(client, node)

    async def _live(self, client: aioredis.Redis) -> set[int]:
        """The other nodes whose heartbeat is current; the sessions of every other node are forgotten."""
        live = set()
        async for key in client.scan_iter(match=_key("alive", "*")):
            node = int(_text(key).rsplit(":", 1)[1])
            if node != self.node_id:
                live.add(node)
        for node in self.others() - live:
            log.warning("node %d stopped refreshing its sessions: forgotten", node)
            self.forget_node(node)
        return live

    async def _load(self, client: aioredis.Redis, node: int) -> None:
        """Replace what this node knows of ``node``'s sessions by its hash."""
        entries = await client.hgetall(_key("sessions", node))
        self.forget_node(node)
        for data in entries.values():
            self._mirror_add(_record(json.loads(data)))


class RedisRouter(Router):
    def __init__(self, link: Link) -> None:
        self._link = link
        self.inbox: Inbox = lambda _: None

    def publish(self, node: int, envelope: bytes) -> None:
        self._link.send("PUBLISH", _key("inbox", node), envelope)

    def subscribe(self, inbox: Inbox) -> None:
        self.inbox = inbox


class RedisThrottle(Throttle):
    """Failed logins counted in Redis for every node (``fail:<key>``, a fixed window from the first
    failure); a key past its limit is locked with ``lock:<key>`` (TTL = the lockout) and announced on
    the ``throttle`` channel. Each node mirrors the locks, so checking a login costs no round trip;
    only a failure does. While Redis is unreachable the node counts in its own memory."""

    def __init__(self, link: Link, settings: AccountSettings) -> None:
        self._link = link
        self._settings = settings
        self._local = LocalThrottle(
            settings.max_failed_logins, settings.failed_login_window, settings.lockout
        )
        self._locks: dict[str, float] = {}  # key → monotonic time its lock ends

    def _limit(self, key: str) -> int:
        return self._settings.max_failed_logins * (4 if key.startswith("addr:") else 1)

    async def locked(self, key: str) -> bool:
        until = self._locks.get(key)
        if until is not None and until <= time.monotonic():
            del self._locks[key]
            until = None
        return until is not None or await self._local.locked(key)

    async def fail(self, key: str) -> None:
        s = self._settings
        if not self._link.up:
            await self._local.fail(key)
            return
        try:
            pipe = self._link.client.pipeline(transaction=True)
            pipe.incr(_key("fail", key))
            pipe.expire(_key("fail", key), int(s.failed_login_window), nx=True)
            count, _ = await pipe.execute()
        except _ERRORS:
            await self._local.fail(key)
            return
        if int(count) >= self._limit(key):
            lockout = max(1, int(s.lockout))
            self.heard({"key": key, "ttl": lockout})
            self._link.send("SET", _key("lock", key), 1, "EX", lockout)
            self._link.send("DEL", _key("fail", key))
            self._link.send("PUBLISH", _key("throttle"), json.dumps({"key": key, "ttl": lockout}))

    async def succeed(self, key: str) -> None:
        await self._local.succeed(key)
        self._link.send("DEL", _key("fail", key))  # not waited for

    def heard(self, lock: dict[str, Any]) -> None:
        """A key locked (by any node) for ``ttl`` seconds."""
        self._locks[str(lock["key"])] = time.monotonic() + float(lock["ttl"])

    async def reload(self, client: aioredis.Redis) -> None:
        """Every lock in force (at join and when Redis is back)."""
        now = time.monotonic()
        locks: dict[str, float] = {}
        prefix = _key("lock", "")
        async for name in client.scan_iter(match=prefix + "*"):
            ttl = await client.pttl(name)
            if ttl > 0:
                locks[_text(name)[len(prefix) :]] = now + ttl / 1000
        self._locks = locks


class RedisNodeRegistry(NodeRegistry):
    """Records written to ``records:<kind>`` hashes (value and wall time) and read back every
    :data:`RECORDS_POLL` seconds into a mirror, which :meth:`records` answers from."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self._mirror: dict[tuple[str, str], NodeRecord] = {}

    def put(self, kind: str, key: str, value: bytes) -> None:
        """Kept in ``records:<kind>`` and announced on ``records``, so the others know at once."""
        self._mirror[(kind, key)] = NodeRecord(kind, key, value, time.monotonic())
        data = json.dumps({"t": time.time(), "v": base64.b64encode(value).decode()})
        self._link.send("HSET", _key("records", kind), key, data)
        self._link.send("PUBLISH", _key("records"), json.dumps({"kind": kind, "key": key, "data": data}))

    def heard(self, message: dict[str, Any]) -> None:
        """A record another node (or this one) put."""
        d = json.loads(message["data"])
        refreshed = time.monotonic() - max(0.0, time.time() - float(d["t"]))
        kind, key = str(message["kind"]), str(message["key"])
        self._mirror[(kind, key)] = NodeRecord(kind, key, base64.b64decode(d["v"]), refreshed)

    def records(self, kind: str) -> list[NodeRecord]:
        return sorted((r for r in self._mirror.values() if r.kind == kind), key=lambda r: r.key)

    async def reload(self, client: aioredis.Redis) -> None:
        now_wall, now = time.time(), time.monotonic()
        mirror: dict[tuple[str, str], NodeRecord] = {}
        async for name in client.scan_iter(match=_key("records", "*")):
            kind = _text(name)[len(_key("records", "")) :]
            for key, data in (await client.hgetall(name)).items():
                d = json.loads(data)
                age = now_wall - float(d["t"])
                if age >= GONE_KEPT:
                    await client.hdel(name, key)
                    continue
                name_of = _text(key)
                mirror[(kind, name_of)] = NodeRecord(kind, name_of, base64.b64decode(d["v"]), now - age)
        for k, record in self._mirror.items():  # this node's puts not yet written keep their place
            if (
                k not in mirror or mirror[k].refreshed < record.refreshed
            ) and now - record.refreshed < GONE_KEPT:
                mirror[k] = record
        self._mirror = mirror


class RedisCacheBus(CacheBus):
    def __init__(self, link: Link, node_id: int) -> None:
        self._link = link
        self._node_id = node_id
        self._drops: list[Drop] = []

    def subscribe(self, drop: Drop) -> None:
        self._drops.append(drop)

    def drop(self, kind: CacheKind, keys: tuple[int, ...]) -> None:
        self._apply(kind, keys)
        message = json.dumps({"origin": self._node_id, "kind": kind.value, "keys": list(keys)})
        self._link.send("PUBLISH", _key("cache"), message)

    def heard(self, message: dict[str, Any]) -> None:
        if message.get("origin") != self._node_id:
            self._apply(CacheKind(message["kind"]), tuple(int(k) for k in message["keys"]))

    def _apply(self, kind: CacheKind, keys: tuple[int, ...]) -> None:
        for drop in self._drops:
            drop(kind, keys)


class RedisMembership(Membership):
    """Joins: subscribes to this node's channels, writes its sessions and loads the others'; then keeps a
    heartbeat, and does all of it again whenever the connection to Redis comes back."""

    def __init__(
        self,
        url: str,
        link: Link,
        directory: RedisDirectory,
        router: RedisRouter,
        caches: RedisCacheBus,
        nodes: RedisNodeRegistry,
        throttle: RedisThrottle,
    ) -> None:
        self._url = url
        self._throttle = throttle
        self._link = link
        self._directory = directory
        self._router = router
        self._caches = caches
        self._nodes = nodes
        self._tasks: list[asyncio.Task[None]] = []
        self._joined = asyncio.Event()
        self._lost = asyncio.Event()
        link.on_error = self._lost.set

    async def join(self) -> None:
        with contextlib.suppress(*_ERRORS):  # unreachable now: nothing to check, the listener retries
            await self._directory.claim(self._link.client)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen(), name="polyim-redis-listen"),
            loop.create_task(self._every(HEARTBEAT, self._directory.heartbeat), name="polyim-redis-beat"),
            loop.create_task(self._every(RECORDS_POLL, self._nodes.reload), name="polyim-redis-records"),
        ]
        # Serve even if Redis is down now: local sessions work, and the listener keeps trying.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._joined.wait(), 10)

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._link.up:
            await self._link.drain()
            node = self._directory.node_id
            with contextlib.suppress(*_ERRORS):
                pipe = self._link.client.pipeline(transaction=False)
                pipe.delete(_key("sessions", node), _key("alive", node))
                pipe.publish(_key("dir"), json.dumps({"origin": node, "gone": node}))
                await pipe.execute()
        await self._link.client.aclose()

    async def _listen(self) -> None:
        """Subscribe, resync, then dispatch what arrives; on any failure start again after a pause."""
        node = self._directory.node_id
        while True:
            client = aioredis.Redis.from_url(self._url, socket_connect_timeout=5, health_check_interval=5)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(
                    _key("inbox", node), _key("dir"), _key("cache"), _key("records"), _key("throttle")
                )
                self._lost.clear()
                self._link.up = True
                await self._directory.resync(self._link.client)
                await self._nodes.reload(self._link.client)
                await self._throttle.reload(self._link.client)
                log.info("node %d joined the cluster through Redis", node)
                self._joined.set()
                await self._dispatch(pubsub)
            except asyncio.CancelledError:
                raise
            except _ERRORS as exc:
                self._link.failed(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(_RETRY)

    async def _dispatch(self, pubsub: Any) -> None:
        inbox = _key("inbox", self._directory.node_id).encode()
        dir_channel, cache_channel = _key("dir").encode(), _key("cache").encode()
        records_channel, throttle_channel = _key("records").encode(), _key("throttle").encode()
        while not self._lost.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            channel, data = message["channel"], message["data"]
            try:
                if channel == inbox:
                    self._router.inbox(data)
                elif channel == dir_channel:
                    self._directory.heard(json.loads(data))
                elif channel == cache_channel:
                    self._caches.heard(json.loads(data))
                elif channel == records_channel:
                    self._nodes.heard(json.loads(data))
                elif channel == throttle_channel:
                    self._throttle.heard(json.loads(data))
            except Exception:  # a bad message from a peer must not stop the listener
                log.exception("Redis message on %r dropped", channel)
        raise ConnectionError("a write to Redis failed")

    async def _every(self, interval: float, job: Any) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self._link.up:
                continue
            try:
                await job(self._link.client)
            except _ERRORS as exc:
                self._link.failed(exc)


def redis_cluster(node_id: int, url: str, settings: AccountSettings) -> Cluster:
    """Node ``node_id``'s seams over the Redis at ``url`` (``[cluster] redis_url``)."""
    link = Link(url)
    directory = RedisDirectory(link, node_id)
    router = RedisRouter(link)
    caches = RedisCacheBus(link, node_id)
    nodes = RedisNodeRegistry(link)
    throttle = RedisThrottle(link, settings)
    return Cluster(
        directory=directory,
        router=router,
        throttle=throttle,
        nodes=nodes,
        caches=caches,
        membership=RedisMembership(url, link, directory, router, caches, nodes, throttle),
    )
