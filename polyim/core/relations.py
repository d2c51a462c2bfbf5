"""Friends, friend requests, remarks, per-friend attributes, blacklists and mutes, enforced here so every
protocol obeys them.

Two ways to become friends: :meth:`Relations.add_friend` creates both edges at once (OMTP, the HTTP
API), :meth:`Relations.request_friend` is a stored request that the other user accepts by requesting
back (beehive FRIEND-ADD). A pending request lasts :data:`REQUEST_TTL_MS`; befriending or unfriending
the two users by either way clears the requests between them.
"""

from __future__ import annotations

import enum

from polyim.cluster.base import SessionId
from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import FriendChange, FriendEvent, Presence, PresenceEvent
from polyim.core.ids import bad_name
from polyim.model import Friend, FriendRequest

REMARK = "REMARK"
BUDDY_GROUP = "BUDDY_GROUP:"  # a user's own buddy groups: attributes of the user on itself, by name
REQUEST_TTL_MS = 30 * 24 * 3600 * 1000


class RequestOutcome(enum.Enum):
    REQUESTED = "requested"  # stored, the peer was told
    ACCEPTED = "accepted"  # the peer had asked first: now friends both ways
    UPDATED = "updated"  # already friends both ways: only the remark changed


class Relations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def _peer(self, uid: int, peer: int) -> None:
        if peer == uid:
            raise CoreError(Code.BAD_REQUEST, "cannot befriend yourself")
        await self.ctx.require_account(uid)
        await self.ctx.require_account(peer)

    async def add_friend(
        self, uid: int, peer: int, remark: str = "", *, skip: SessionId | None = None
    ) -> None:
        """Create both edges at once (OMTP's and the HTTP API's semantics), unless ``peer`` blocked ``uid``."""
        await self._peer(uid, peer)
        if uid in await self.ctx.blocked_by(peer):
            raise CoreError(Code.BLOCKED, "blocked")
        await self.ctx.store.add_friends(uid, peer, remark, both=True)
        self.ctx.forget_friends(uid, peer)
        await self.ctx.store.delete_friend_requests(uid, peer)
        self.ctx.sessions.deliver([uid, peer], FriendEvent(uid, peer, FriendChange.ADDED, remark), skip=skip)

    async def remove_friend(self, uid: int, peer: int, *, skip: SessionId | None = None) -> None:
        """Unfriend both ways; this also withdraws or declines any pending request between the two."""
        await self._peer(uid, peer)
        removed = await self.ctx.store.remove_friends(uid, peer)
        self.ctx.forget_friends(uid, peer)
        declined = await self.ctx.store.delete_friend_requests(uid, peer)
        if removed or declined:
            change = FriendChange.REMOVED if removed else FriendChange.DECLINED
            self.ctx.sessions.deliver([uid, peer], FriendEvent(uid, peer, change), skip=skip)

    async def request_friend(
        self, uid: int, peer: int, remark: str = "", *, skip: SessionId | None = None
    ) -> RequestOutcome:
        """``uid`` asks ``peer`` to be friends, or accepts ``peer``'s pending request (a mutual request).

        Refused when ``peer`` blocked ``uid``. A repeated request replaces the remark; between friends it
        only updates ``uid``'s remark. On acceptance both edges are made (each with the remark its owner
        gave) and each user, if online, gets the other's presence.
        """
        await self._peer(uid, peer)
        if uid in await self.ctx.blocked_by(peer):
            raise CoreError(Code.BLOCKED, "blocked")
        store = self.ctx.store
        if await store.is_friend(uid, peer) and await store.is_friend(peer, uid):
            await store.set_friend_attr(uid, peer, REMARK, remark)
            return RequestOutcome.UPDATED
        now = self.ctx.clock.now_ms()
        accepted = await store.accept_friend_request(peer, uid, remark, now - REQUEST_TTL_MS)
        self.ctx.forget_friends(uid, peer)
        if accepted:
            event = FriendEvent(uid, peer, FriendChange.ADDED, remark)
            self.ctx.sessions.deliver([uid, peer], event, skip=skip)
            await self._exchange_presence(uid, peer)
            return RequestOutcome.ACCEPTED
        await store.put_friend_request(FriendRequest(uid, peer, remark, now), now - REQUEST_TTL_MS)
        self.ctx.sessions.deliver([peer], FriendEvent(uid, peer, FriendChange.REQUESTED, remark))
        return RequestOutcome.REQUESTED

    async def requests_to(self, uid: int) -> list[FriendRequest]:
        """Pending requests addressed to ``uid``, oldest first."""
        return await self.ctx.store.friend_requests_to(uid, self.ctx.clock.now_ms() - REQUEST_TTL_MS)

    async def _exchange_presence(self, a: int, b: int) -> None:
        """New friends learn each other's presence at once (the blacklist still hides it)."""
        sessions = self.ctx.sessions
        for who, watcher in ((a, b), (b, a)):
            if sessions.online(who) and watcher not in await self.ctx.blocked_by(who):
                sessions.deliver([watcher], PresenceEvent(who, Presence.ONLINE))

    async def friends(self, uid: int, since_ms: int = 0) -> list[Friend]:
        return await self.ctx.store.friends(uid, since_ms)

    async def is_friend(self, uid: int, peer: int) -> bool:
        return await self.ctx.store.is_friend(uid, peer)

    async def set_blocked(self, uid: int, peer: int, blocked: bool) -> None:
        await self._peer(uid, peer)
        await self.ctx.store.set_blocked(uid, peer, blocked)
        self.ctx.forget_blocks(uid)
        change = FriendChange.BLOCKED if blocked else FriendChange.UNBLOCKED
        self.ctx.sessions.deliver([uid], FriendEvent(uid, peer, change))

    async def blocked(self, uid: int) -> frozenset[int]:
        return await self.ctx.blocked_by(uid)

    async def set_muted(self, uid: int, peer: int, muted: bool) -> None:
        """``uid`` mutes ``peer``: ``peer``'s 1:1 messages are still accepted and stored, but not pushed to
        ``uid``'s sessions; ``uid`` gets them when it syncs. Nobody is told."""
        await self._peer(uid, peer)
        await self.ctx.store.set_muted(uid, peer, muted)
        self.ctx.forget_mutes(uid)

    async def muted(self, uid: int) -> frozenset[int]:
        return await self.ctx.muted_by(uid)

    async def set_attr(self, uid: int, peer: int, name: str, value: str) -> None:
        """A per-friend attribute; ``REMARK`` is the friend remark. Friendship is not required, so
        attributes survive a delete and re-add."""
        await self.ctx.require_account(peer)
        await self.ctx.store.set_friend_attr(uid, peer, name, value)

    async def attrs(self, uid: int, peer: int | None = None, name: str = "") -> list[tuple[int, str, str]]:
        return await self.ctx.store.friend_attrs(uid, peer, name)

    # -- one-way edges and buddy groups (XMMEP: the seed adds buddies without approval) ------------
    async def follow(
        self, uid: int, peer: int, remark: str = "", group: str = "", *, skip: SessionId | None = None
    ) -> None:
        """Create (or update) the one edge ``uid``→``peer`` at once, in ``uid``'s buddy group ``group``,
        unless ``peer`` blocked ``uid``; both users' sessions hear it (``peer``: someone added you)."""
        await self._peer(uid, peer)
        if uid in await self.ctx.blocked_by(peer):
            raise CoreError(Code.BLOCKED, "blocked")
        await self.ctx.store.add_friends(uid, peer, remark, both=False)
        if group:
            await self.add_buddy_group(uid, group)
            await self.ctx.store.set_buddy_group(uid, peer, group)
        self.ctx.forget_friends(uid, peer)
        self.ctx.sessions.deliver([uid, peer], FriendEvent(uid, peer, FriendChange.ADDED, remark), skip=skip)

    async def unfollow(self, uid: int, peer: int, *, skip: SessionId | None = None) -> bool:
        """Delete the one edge ``uid``→``peer``; False when there was none."""
        await self._peer(uid, peer)
        removed = await self.ctx.store.remove_friends(uid, peer, both=False)
        self.ctx.forget_friends(uid, peer)
        if removed:
            self.ctx.sessions.deliver([uid], FriendEvent(uid, peer, FriendChange.REMOVED), skip=skip)
        return removed

    async def buddy_groups(self, uid: int) -> list[str]:
        """``uid``'s buddy groups in creation order: the ones made explicitly, then any that only edges
        name (an edge's group made by another path)."""
        made = await self.ctx.store.friend_attrs(uid, uid, "")
        named = sorted(
            (value, name[len(BUDDY_GROUP) :])
            for _, name, value in made
            if name.startswith(BUDDY_GROUP) and value
        )
        groups = [name for _, name in named]
        for friend in await self.friends(uid):
            if friend.buddy_group and friend.buddy_group not in groups:
                groups.append(friend.buddy_group)
        return groups

    async def add_buddy_group(self, uid: int, name: str) -> None:
        """Create the buddy group ``name`` (nothing when it exists). Kept as an attribute of the user on
        itself, so that an empty group survives."""
        check_buddy_group(name)
        if name not in await self.buddy_groups(uid):
            await self.ctx.store.set_friend_attr(
                uid, uid, BUDDY_GROUP + name, f"{self.ctx.clock.now_us():020d}"
            )

    async def remove_buddy_group(self, uid: int, name: str) -> None:
        """Delete an empty buddy group (a group with buddies in it is refused)."""
        if name not in await self.buddy_groups(uid):
            raise CoreError(Code.BAD_REQUEST, "no such buddy group")
        if any(f.buddy_group == name for f in await self.friends(uid)):
            raise CoreError(Code.BAD_REQUEST, "buddy group not empty")
        await self.ctx.store.set_friend_attr(uid, uid, BUDDY_GROUP + name, "")

    async def rename_buddy_group(self, uid: int, old: str, new: str) -> None:
        check_buddy_group(new)
        groups = await self.buddy_groups(uid)
        if old not in groups or new in groups:
            raise CoreError(Code.BAD_REQUEST, "unknown buddy group or new name taken")
        made = await self.ctx.store.friend_attrs(uid, uid, BUDDY_GROUP + old)
        order = made[0][2] if made and made[0][2] else f"{self.ctx.clock.now_us():020d}"
        await self.ctx.store.set_friend_attr(uid, uid, BUDDY_GROUP + old, "")
        await self.ctx.store.set_friend_attr(uid, uid, BUDDY_GROUP + new, order)
        await self.ctx.store.rename_buddy_group(uid, old, new)

    async def move_buddy(self, uid: int, peer: int, group: str) -> None:
        """Put the edge ``uid``→``peer`` into buddy group ``group`` (created if missing)."""
        if group:
            await self.add_buddy_group(uid, group)
        if not await self.ctx.store.set_buddy_group(uid, peer, group):
            raise CoreError(Code.NOT_FRIEND, "not a buddy")


def check_buddy_group(name: str) -> None:
    """1–32 characters, no control characters (xmmep.md §3.5)."""
    if not 1 <= len(name) <= 32 or bad_name(name):
        raise CoreError(Code.BAD_REQUEST, "bad buddy group name")
