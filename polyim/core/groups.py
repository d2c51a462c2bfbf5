"""Groups: owner, managers, members, limit, unique name, mute, blacklist, open/closed, dismiss, transfer.

Every change is committed first and then announced as one :class:`GroupEvent` to the members (and to
the users it concerns), which each adapter renders in its protocol's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from polyim.cluster.base import SessionId
from polyim.core.context import Context
from polyim.core.errors import Code, CoreError
from polyim.core.events import GroupChange, GroupEvent
from polyim.core.ids import check_name
from polyim.core.sessions import Session
from polyim.model import Group, GroupKind, GroupMember, GroupRole, GroupUpdate, changed_fields
from polyim.store.base import Conflict


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """Who may add members to a group, as the protocol's own page says, handed in with each call like
    a ``SendPolicy``: OMTP 42, beehive GROUP-INVITE and XMMEP 150 let any member invite and anyone join
    an open group by itself; TeamTalk 5/14 lets only the owner and managers of a normal group add
    anyone, and nobody add himself. A temporary group (a discussion) lets every member invite."""

    members_invite: bool = True
    self_join: bool = True


DEFAULT_GROUP_POLICY = GroupPolicy()


class Groups:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def _existing_users(self, uids: Sequence[int]) -> list[int]:
        unique = list(dict.fromkeys(uids))
        found = {a.uid for a in await self.ctx.store.get_accounts(unique)}
        missing = [u for u in unique if u not in found]
        if missing:
            raise CoreError(Code.USER_NOT_FOUND, f"no such user {missing[0]}")
        return unique

    async def _role(self, gid: int, uid: int) -> GroupRole | None:
        member = (await self.ctx.members(gid)).get(uid)
        return member.role if member else None

    async def _emit(
        self,
        group: Group,
        change: GroupChange,
        actor: int,
        uids: Sequence[int],
        notify: Sequence[int],
        skip: SessionId | None,
        *,
        on: bool = True,
        origin: str = "",
    ) -> None:
        # the current members, reloaded if a change just dropped them from the cache
        members = tuple(await self.ctx.members(group.gid))
        event = GroupEvent(group, change, actor, tuple(uids), members, on, origin)
        self.ctx.sessions.deliver(dict.fromkeys(notify), event, skip=skip)

    async def create(
        self,
        actor: int,
        name: str,
        members: Sequence[int],
        *,
        avatar: str = "",
        desc: str = "",
        member_limit: int = 0,
        kind: GroupKind = GroupKind.NORMAL,
        skip: SessionId | None = None,
    ) -> Group:
        check_name(name, "group name")
        uids = await self._existing_users([actor, *members])
        limit = member_limit if member_limit > 0 else self.ctx.settings.group_member_limit
        if len(uids) > limit:
            raise CoreError(Code.GROUP_FULL, "member limit reached")
        draft = Group(gid=0, name=name, owner=actor, avatar=avatar, desc=desc, kind=kind, member_limit=limit)
        try:
            group = await self.ctx.store.create_group(draft, uids)
        except Conflict as exc:
            raise CoreError(Code.NAME_TAKEN, "group name taken") from exc
        self.ctx.forget_group(group.gid)
        await self.ctx.members(group.gid)
        await self._emit(group, GroupChange.CREATED, actor, uids, uids, skip)
        return group

    async def get(self, gid: int) -> Group:
        return await self.ctx.require_group(gid)

    async def find(self, gid: int) -> Group | None:
        return await self.ctx.group(gid)

    def cached(self, gid: int) -> Group | None:
        """:meth:`find` from the caches alone: None when it would have to read the store."""
        return self.ctx.cached_group(gid)

    async def roles(self, gid: int) -> dict[int, GroupMember]:
        """The members of ``gid`` by uid, from the cache the send path reads too."""
        return await self.ctx.members(gid)

    async def by_name(self, name: str) -> Group | None:
        return await self.ctx.store.get_group_by_name(name)

    async def members(self, viewer: Session | None, gid: int) -> list[GroupMember]:
        """Members (owner first, then managers, then by uid); members and operators may look."""
        await self.ctx.require_group(gid)
        members = await self.ctx.members(gid)
        if viewer is not None and viewer.uid not in members and not viewer.is_operator:
            raise CoreError(Code.NOT_MEMBER, "not a member")
        return sorted(members.values(), key=lambda m: (-int(m.role), m.uid))

    async def of_user(self, uid: int) -> list[Group]:
        return await self.ctx.store.groups_of(uid)

    async def page(self, query: str, offset: int, limit: int) -> tuple[int, list[Group]]:
        """An operator's listing: the groups whose name holds ``query`` (case-insensitive; empty: all)
        or whose gid it spells, by gid; the total found and the ``limit`` from ``offset``."""
        wanted = query.casefold()
        found = [
            g
            for g in await self.ctx.store.list_groups(100_000)
            if not wanted or wanted in g.name.casefold() or wanted == str(g.gid)
        ]
        return len(found), found[offset : offset + limit]

    async def add_members(
        self,
        actor: int,
        gid: int,
        uids: Sequence[int],
        *,
        skip: SessionId | None = None,
        policy: GroupPolicy = DEFAULT_GROUP_POLICY,
        origin: str = "",
    ) -> list[int]:
        """Who may invite is ``policy``'s rule; the invitees must not be on the group's blacklist nor
        have blocked the inviter. Nobody joins a closed group. Returns the users actually added (those
        already in are left out); ``origin`` (the asking protocol) goes into the event."""
        group = await self.ctx.require_group(gid)
        if not uids:
            raise CoreError(Code.BAD_REQUEST, "no users")
        wanted = await self._existing_users(uids)
        members = await self.ctx.members(gid)
        blacklist = await self.ctx.store.group_blacklist(gid)
        if group.closed:
            raise CoreError(Code.NO_PRIVILEGE, "group closed")
        self._check_adder(group, members, actor, wanted, policy)
        if any(u in blacklist and u not in members for u in wanted):
            raise CoreError(Code.NO_PRIVILEGE, "blacklisted by the group")
        for uid in wanted:
            if uid != actor and uid not in members and actor in await self.ctx.blocked_by(uid):
                raise CoreError(Code.BLOCKED, "blocked by the invitee")
        new = [u for u in wanted if u not in members]
        if len(members) + len(new) > group.member_limit:
            raise CoreError(Code.GROUP_FULL, "member limit reached")
        if new:
            await self.ctx.store.add_group_members(gid, new)
            self.ctx.forget_group(gid)
            await self.ctx.members(gid)
            group = await self.ctx.require_group(gid)
            notify = [*members, *new]
            await self._emit(group, GroupChange.JOINED, actor, new, notify, skip, origin=origin)
        return new

    @staticmethod
    def _check_adder(
        group: Group, members: dict[int, GroupMember], actor: int, wanted: list[int], policy: GroupPolicy
    ) -> None:
        me = members.get(actor)
        if me is None:
            if wanted != [actor] or not policy.self_join:
                raise CoreError(Code.NO_PRIVILEGE, "cannot join")
            return
        everyone = policy.members_invite or group.kind is GroupKind.TEMPORARY
        if me.role is GroupRole.MEMBER and not everyone:
            raise CoreError(Code.NO_PRIVILEGE, "owner or manager only")

    async def remove_members(
        self,
        actor: int,
        gid: int,
        uids: Sequence[int],
        *,
        skip: SessionId | None = None,
        origin: str = "",
    ) -> list[int]:
        """Anyone but the owner may leave; owner and managers remove others (a manager not the owner or
        another manager). ``origin`` (the asking protocol) goes into the event."""
        group = await self.ctx.require_group(gid)
        if not uids:
            raise CoreError(Code.BAD_REQUEST, "no users")
        members = await self.ctx.members(gid)
        targets = list(dict.fromkeys(uids))
        for uid in targets:
            self._check_removal(group, members, actor, uid)
        await self.ctx.store.remove_group_members(gid, targets)
        self.ctx.forget_group(gid)
        await self.ctx.members(gid)
        change = GroupChange.LEFT if targets == [actor] else GroupChange.REMOVED
        group = await self.ctx.require_group(gid)
        await self._emit(group, change, actor, targets, list(members), skip, origin=origin)
        return targets

    @staticmethod
    def _check_removal(group: Group, members: dict[int, GroupMember], actor: int, uid: int) -> None:
        target = members.get(uid)
        if target is None:
            raise CoreError(Code.NOT_MEMBER, "not a member")
        if uid == group.owner:
            raise CoreError(Code.OWNER_CANNOT_QUIT, "the owner must transfer or dismiss first")
        if uid == actor:
            return
        me = members.get(actor)
        if me is None or me.role is GroupRole.MEMBER:
            raise CoreError(Code.NO_PRIVILEGE, "not owner or manager")
        if me.role is GroupRole.MANAGER and target.role is not GroupRole.MEMBER:
            raise CoreError(Code.NO_PRIVILEGE, "a manager cannot remove a manager")

    async def dismiss(self, actor: int, gid: int, *, skip: SessionId | None = None) -> None:
        group = await self.ctx.require_group(gid)
        if group.owner != actor:
            raise CoreError(Code.NOT_OWNER, "only the owner may dismiss")
        former = await self.ctx.store.delete_group(gid)
        self.ctx.forget_group(gid)
        event = GroupEvent(group, GroupChange.DISMISSED, actor, tuple(former), ())
        self.ctx.sessions.deliver(former, event, skip=skip)

    async def transfer(self, actor: int, gid: int, new_owner: int, *, skip: SessionId | None = None) -> Group:
        group = await self.ctx.require_group(gid)
        if group.owner != actor:
            raise CoreError(Code.NOT_OWNER, "only the owner may transfer")
        if new_owner not in await self.ctx.members(gid):
            raise CoreError(Code.NOT_MEMBER, "new owner is not a member")
        updated = await self.ctx.store.update_group(gid, GroupUpdate(owner=new_owner))
        self.ctx.forget_group(gid)
        members = await self.ctx.members(gid)
        await self._emit(updated, GroupChange.OWNER, actor, [new_owner], list(members), skip)
        return updated

    async def update_info(
        self,
        actor: int,
        gid: int,
        *,
        name: str = "",
        avatar: str = "",
        desc: str = "",
        member_limit: int = 0,
        skip: SessionId | None = None,
    ) -> Group:
        """Owner or manager; empty values keep the stored ones."""
        check_name(name, "group name")
        await self.ctx.require_group(gid)
        role = await self._role(gid, actor)
        if role is None or role is GroupRole.MEMBER:
            raise CoreError(Code.NOT_OWNER, "owner or manager only")
        members = await self.ctx.members(gid)
        if member_limit and member_limit < len(members):
            raise CoreError(Code.GROUP_FULL, "limit below member count")
        change = GroupUpdate(
            name=name or None, avatar=avatar or None, desc=desc or None, member_limit=member_limit or None
        )
        try:
            updated = await self.ctx.store.update_group(gid, change)
        except Conflict as exc:
            raise CoreError(Code.NAME_TAKEN, "group name taken") from exc
        self.ctx.forget_group(gid)
        await self._emit(updated, GroupChange.INFO, actor, [], list(members), skip)
        return updated

    async def set_manager(
        self, actor: int, gid: int, uid: int, manager: bool, *, skip: SessionId | None = None
    ) -> None:
        group = await self.ctx.require_group(gid)
        if group.owner != actor:
            raise CoreError(Code.NOT_OWNER, "only the owner may appoint managers")
        members = await self.ctx.members(gid)
        if uid not in members or uid == group.owner:
            raise CoreError(Code.NOT_MEMBER, "not a member")
        await self.ctx.store.set_member_role(gid, uid, GroupRole.MANAGER if manager else GroupRole.MEMBER)
        self.ctx.forget_group(gid)
        await self._emit(group, GroupChange.MANAGER, actor, [uid], list(members), skip, on=manager)

    @staticmethod
    def _privileged(actor: int | None, members: dict[int, GroupMember]) -> GroupRole:
        """The acting role: an owner or manager's own, or OWNER for an operator (``actor`` None)."""
        if actor is None:
            return GroupRole.OWNER
        me = members.get(actor)
        if me is None or me.role is GroupRole.MEMBER:
            raise CoreError(Code.NO_PRIVILEGE, "owner or manager only")
        return me.role

    async def set_muted(
        self, actor: int | None, gid: int, uid: int | None, muted: bool, *, skip: SessionId | None = None
    ) -> None:
        """Mute one member (``uid``) or, with ``uid`` None, everyone but owner and managers. Owner or
        manager (a manager cannot mute the owner or another manager); ``actor`` None is an operator."""
        group = await self.ctx.require_group(gid)
        members = await self.ctx.members(gid)
        role = self._privileged(actor, members)
        if uid is None:
            group = await self.ctx.store.update_group(gid, GroupUpdate(mute_all=muted))
        elif uid not in members:
            raise CoreError(Code.NOT_MEMBER, "not a member")
        elif role is GroupRole.MANAGER and members[uid].role is not GroupRole.MEMBER:
            raise CoreError(Code.NO_PRIVILEGE, "a manager cannot mute the owner or a manager")
        else:
            await self.ctx.store.set_member_muted(gid, uid, muted)
        self.ctx.forget_group(gid)
        await self._emit(
            group, GroupChange.MUTE, actor or 0, [uid] if uid else [], list(members), skip, on=muted
        )

    async def muted(self, gid: int) -> tuple[bool, list[int]]:
        """(mute-all switched on, the members muted one by one)."""
        group = await self.ctx.require_group(gid)
        members = await self.ctx.members(gid)
        return group.mute_all, sorted(u for u, m in members.items() if m.muted)

    async def set_blacklisted(
        self, actor: int | None, gid: int, uid: int, listed: bool, *, skip: SessionId | None = None
    ) -> None:
        """Owner or manager (``actor`` None: an operator) bans ``uid`` from the group, removing it if it is
        a member, or lifts the ban. The owner cannot be banned, nor a manager by a manager. One
        BLACKLIST event goes to the members and to ``uid`` (a banned member gets no separate removal)."""
        group = await self.ctx.require_group(gid)
        members = await self.ctx.members(gid)
        role = self._privileged(actor, members)
        target = members.get(uid)
        outranks = (
            target is None
            or target.role is GroupRole.MEMBER
            or (target.role is GroupRole.MANAGER and role is GroupRole.OWNER)
        )
        if listed and not outranks:
            raise CoreError(Code.NO_PRIVILEGE, "cannot blacklist the owner or a fellow manager")
        await self.ctx.require_account(uid)
        await self.ctx.store.set_group_blacklisted(gid, uid, listed)
        if listed and target is not None:
            await self.ctx.store.remove_group_members(gid, [uid])
            self.ctx.forget_group(gid)
        notify = [*members, uid]
        await self._emit(group, GroupChange.BLACKLIST, actor or 0, [uid], notify, skip, on=listed)

    async def blacklist(self, gid: int) -> set[int]:
        return await self.ctx.store.group_blacklist(gid)

    async def configure(
        self, gid: int, *, closed: bool | None = None, member_limit: int | None = None
    ) -> Group:
        """Operator settings: ``closed`` (no join, invite or chat while set) and the member limit (members
        beyond a lowered limit stay; joins are refused until they fall below it)."""
        group = await self.ctx.require_group(gid)
        if member_limit is not None and member_limit <= 0:
            raise CoreError(Code.BAD_REQUEST, "member limit must be positive")
        change = GroupUpdate(closed=closed, member_limit=member_limit)
        if not changed_fields(change):
            return group
        updated = await self.ctx.store.update_group(gid, change)
        self.ctx.forget_group(gid)
        await self._emit(updated, GroupChange.INFO, 0, [], list(await self.ctx.members(gid)), None)
        return updated
