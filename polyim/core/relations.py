"""Friends, remarks, per-friend attributes and blacklists, enforced here so every protocol obeys them."""

from __future__ import annotations

from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import FriendChange, FriendEvent
from polyim.core.model import Friend
from polyim.core.sessions import Session

REMARK = "REMARK"


class Relations:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def _peer(self, uid: int, peer: int) -> None:
        if peer == uid:
            raise CoreError(Code.BAD_REQUEST, "cannot befriend yourself")
        await self.ctx.require_account(uid)
        await self.ctx.require_account(peer)

    async def add_friend(self, uid: int, peer: int, remark: str = "", *, skip: Session | None = None) -> None:
        """Create both edges at once (OMTP's and the HTTP API's semantics), unless ``peer`` blocked ``uid``."""
        await self._peer(uid, peer)
        if uid in await self.ctx.blocked_by(peer):
            raise CoreError(Code.BLOCKED, "blocked")
        await self.ctx.store.add_friends(uid, peer, remark, both=True)
        self.ctx.sessions.deliver([uid, peer], FriendEvent(uid, peer, FriendChange.ADDED), skip=skip)

    async def remove_friend(self, uid: int, peer: int, *, skip: Session | None = None) -> None:
        await self._peer(uid, peer)
        if await self.ctx.store.remove_friends(uid, peer):
            self.ctx.sessions.deliver([uid, peer], FriendEvent(uid, peer, FriendChange.REMOVED), skip=skip)

    async def friends(self, uid: int, since_ms: int = 0) -> list[Friend]:
        return await self.ctx.store.friends(uid, since_ms)

    async def is_friend(self, uid: int, peer: int) -> bool:
        return await self.ctx.store.is_friend(uid, peer)

    async def set_blocked(self, uid: int, peer: int, blocked: bool) -> None:
        await self._peer(uid, peer)
        await self.ctx.store.set_blocked(uid, peer, blocked)
        self.ctx.cache.blocks.pop(uid, None)
        change = FriendChange.BLOCKED if blocked else FriendChange.UNBLOCKED
        self.ctx.sessions.deliver([uid], FriendEvent(uid, peer, change))

    async def blocked(self, uid: int) -> frozenset[int]:
        return await self.ctx.blocked_by(uid)

    async def set_attr(self, uid: int, peer: int, name: str, value: str) -> None:
        """A per-friend attribute; ``REMARK`` is the friend remark. Friendship is not required, so
        attributes survive a delete and re-add."""
        await self.ctx.require_account(peer)
        await self.ctx.store.set_friend_attr(uid, peer, name, value)

    async def attrs(self, uid: int, peer: int | None = None, name: str = "") -> list[tuple[int, str, str]]:
        return await self.ctx.store.friend_attrs(uid, peer, name)
