"""What every core service shares: the store, the clock, the live sessions and read-through caches.

The caches keep the hot path (a send) free of store round trips for facts that change rarely: who
exists, who is in a group, whom a user has blocked. Every write that changes such a fact goes through
the core, which drops the entry through the cluster's :class:`~polyim.cluster.base.CacheBus`: on this
node before the write returns, on the other nodes as soon as they hear.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from polyim.cluster.base import CacheKind, Cluster
from polyim.config import AccountSettings
from polyim.core.clock import Clock
from polyim.core.errors import Code, CoreError
from polyim.core.sessions import Session, SessionRegistry
from polyim.core.stats import NodeStats
from polyim.model import Account, ConvId, ConvKind, Group, GroupMember
from polyim.store.base import Store

audit = logging.getLogger("polyim.audit")

_ACCOUNT_CACHE_MAX: Final = 200_000


@dataclass
class Caches:
    accounts: dict[int, Account] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)  # username → uid; checked against ``accounts``
    groups: dict[int, Group] = field(default_factory=dict)
    members: dict[int, dict[int, GroupMember]] = field(default_factory=dict)
    blocks: dict[int, frozenset[int]] = field(default_factory=dict)
    mutes: dict[int, frozenset[int]] = field(default_factory=dict)
    followers: dict[int, frozenset[int]] = field(default_factory=dict)

    def tables(self, kind: CacheKind) -> tuple[dict[int, Any], ...]:
        """The tables whose entries ``kind`` names."""
        tables: dict[CacheKind, tuple[dict[int, Any], ...]] = {
            CacheKind.ACCOUNT: (self.accounts,),
            CacheKind.GROUP: (self.groups, self.members),
            CacheKind.FRIENDS: (self.followers,),
            CacheKind.BLOCKS: (self.blocks,),
            CacheKind.MUTES: (self.mutes,),
        }
        return tables[kind]


class RoomView(Protocol):
    """What the conversation rules need to know of rooms, whose membership belongs to sessions, not
    users: reading, recalling and being told of a recall in a room is for the sessions inside it."""

    def inside(self, session: Session, rid: int) -> bool: ...

    def moderates(self, uid: int, rid: int) -> bool: ...

    def sessions(self, rid: int) -> list[Session]: ...


class _NoRooms:
    """The view until :class:`~polyim.core.rooms.Rooms` registers itself: nobody is inside a room."""

    def inside(self, session: Session, rid: int) -> bool:
        return False

    def moderates(self, uid: int, rid: int) -> bool:
        return False

    def sessions(self, rid: int) -> list[Session]:
        return []


class Context:
    def __init__(self, store: Store, settings: AccountSettings, clock: Clock, cluster: Cluster) -> None:
        self.store = store
        self.rooms: RoomView = _NoRooms()
        self.settings = settings
        self.clock = clock
        #: What /metrics counts (logins, messages in and out, fan-out sizes, errors).
        self.stats = NodeStats()
        self.sessions = SessionRegistry(cluster.directory, cluster.router, clock.next_msg_id, self.stats)
        self.cache = Caches()
        self._bus = cluster.caches
        self._bus.subscribe(self._drop)

    def _drop(self, kind: CacheKind, keys: tuple[int, ...]) -> None:
        """An invalidation from this node or another."""
        for table in self.cache.tables(kind):
            for key in keys:
                table.pop(key, None)

    # -- accounts ---------------------------------------------------------------------------------
    async def account(self, uid: int) -> Account | None:
        acct = self.cache.accounts.get(uid)
        if acct is None:
            acct = await self.store.get_account(uid)
            if acct is not None:
                if len(self.cache.accounts) >= _ACCOUNT_CACHE_MAX:
                    self.cache.accounts.clear()
                self.cache.accounts[uid] = acct
        return acct

    def cached_account(self, uid: int) -> Account | None:
        """:meth:`account` from the cache alone: None when it would have to read the store."""
        return self.cache.accounts.get(uid)

    def cached_group(self, gid: int) -> Group | None:
        """:meth:`group` from the cache alone: None when it would have to read the store."""
        return self.cache.groups.get(gid)

    def cached_account_by_name(self, username: str) -> Account | None:
        """The account named ``username`` when both the name and the account are cached, else None
        (the caller goes on to :meth:`account_by_name`): a send's lookup without a coroutine."""
        uid = self.cache.names.get(username)
        acct = self.cache.accounts.get(uid) if uid is not None else None
        return acct if acct is not None and acct.username == username else None

    async def account_by_name(self, username: str) -> Account | None:
        """The account named ``username``, from the cache when its uid is known (XMMEP names users by
        name in every message): the entry by uid is the one every write drops, so a stale name costs
        one store read, never a wrong answer."""
        uid = self.cache.names.get(username)
        if uid is not None:
            acct = await self.account(uid)
            if acct is not None and acct.username == username:
                return acct
        acct = await self.store.get_account_by_name(username)
        if acct is not None:
            if len(self.cache.names) >= _ACCOUNT_CACHE_MAX:
                self.cache.names.clear()
            self.cache.names[username] = acct.uid
        return acct

    async def require_account(self, uid: int) -> Account:
        # the cached account without a second coroutine: every send asks for its recipient's
        acct = self.cache.accounts.get(uid) or await self.account(uid)
        if acct is None:
            raise CoreError(Code.USER_NOT_FOUND, "no such user")
        return acct

    def forget_account(self, uid: int) -> None:
        self._bus.drop(CacheKind.ACCOUNT, (uid,))

    # -- groups -----------------------------------------------------------------------------------
    async def group(self, gid: int) -> Group | None:
        group = self.cache.groups.get(gid)
        if group is None:
            group = await self.store.get_group(gid)
            if group is not None:
                self.cache.groups[gid] = group
        return group

    async def require_group(self, gid: int) -> Group:
        group = await self.group(gid)
        if group is None:
            raise CoreError(Code.GROUP_NOT_FOUND, "no such group")
        return group

    async def members(self, gid: int) -> dict[int, GroupMember]:
        members = self.cache.members.get(gid)
        if members is None:
            members = {m.uid: m for m in await self.store.group_members(gid)}
            self.cache.members[gid] = members
        return members

    def forget_group(self, gid: int) -> None:
        self._bus.drop(CacheKind.GROUP, (gid,))

    # -- relations --------------------------------------------------------------------------------
    async def follower_ids(self, uid: int) -> frozenset[int]:
        """Who has ``uid`` as a friend: the observers of its presence (read at every login and logout,
        so cached; an edge change drops both of its users' entries)."""
        followers = self.cache.followers.get(uid)
        if followers is None:
            followers = frozenset(await self.store.followers(uid))
            if len(self.cache.followers) >= _ACCOUNT_CACHE_MAX:
                self.cache.followers.clear()
            self.cache.followers[uid] = followers
        return followers

    def forget_friends(self, *uids: int) -> None:
        self._bus.drop(CacheKind.FRIENDS, uids)

    async def blocked_by(self, uid: int) -> frozenset[int]:
        # a hit without a second coroutine: every 1:1 send asks this and muted_by of its recipient
        found = self.cache.blocks.get(uid)
        return found if found is not None else await _cached(self.cache.blocks, uid, self.store.blocked_by)

    async def muted_by(self, uid: int) -> frozenset[int]:
        """The users whose 1:1 messages ``uid`` receives only by sync (stored, not pushed)."""
        found = self.cache.mutes.get(uid)
        return found if found is not None else await _cached(self.cache.mutes, uid, self.store.muted_by)

    def forget_blocks(self, uid: int) -> None:
        self._bus.drop(CacheKind.BLOCKS, (uid,))

    def forget_mutes(self, uid: int) -> None:
        self._bus.drop(CacheKind.MUTES, (uid,))

    # -- conversations ----------------------------------------------------------------------------
    async def participants(self, conv: ConvId) -> list[int]:
        if conv.kind is ConvKind.PEER:
            return [conv.a] if conv.a == conv.b else [conv.a, conv.b]
        if conv.kind is ConvKind.GROUP:
            return list(await self.members(conv.a))
        return [conv.a] if conv.kind is ConvKind.NOTIFY else []

    async def is_participant(self, uid: int, conv: ConvId) -> bool:
        if conv.kind is ConvKind.PEER:
            return uid in (conv.a, conv.b)
        if conv.kind is ConvKind.GROUP:
            return uid in await self.members(conv.a)
        return conv.kind is ConvKind.NOTIFY and conv.a == uid

    async def sees(self, session: Session, conv: ConvId) -> bool:
        """Whether the session's user takes part in ``conv`` (a room: whether this session is inside)."""
        if conv.kind is ConvKind.ROOM:
            return self.rooms.inside(session, conv.a)
        return await self.is_participant(session.uid, conv)

    async def check_access(self, session: Session, conv: ConvId, what: str) -> None:
        """Participants may read a conversation; operators may read any, and that access is logged."""
        if await self.sees(session, conv):
            return
        if session.is_operator:
            audit.info("operator %s %s %s", session.uid, what, conv.key)
            return
        raise CoreError(Code.NOT_PARTICIPANT, "not a participant")


async def _cached(
    cache: dict[int, frozenset[int]], uid: int, load: Callable[[int], Awaitable[set[int]]]
) -> frozenset[int]:
    found = cache.get(uid)
    if found is None:
        found = cache[uid] = frozenset(await load(uid))
    return found


def check_actor(session: Session, claimed_uid: int) -> None:
    """design.md §7: a field that names the acting user must be the session's own user."""
    if claimed_uid != session.uid:
        raise CoreError(Code.IDENTITY_MISMATCH, "acting user is not you")
