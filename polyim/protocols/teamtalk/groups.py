"""TeamTalk module 5 (teamtalk.md §3.5, §4.6, §4.11): group lists, members, unread group messages,
temporary groups and member changes, and the core's group events as 5/13, 5/15, 5/18 and 5/19."""

from __future__ import annotations

import logging
import secrets

from polyim.core.errors import Code, CoreError
from polyim.core.events import GroupChange, GroupEvent
from polyim.core.groups import GroupPolicy
from polyim.model import ConvId, ConvKind, Group, GroupKind
from polyim.protocols.teamtalk import codec as c
from polyim.protocols.teamtalk.adapter import (
    PROTOCOL,
    TeamTalkChannel,
    hidden,
    mark_all_read,
    on,
    status_of,
    to_wire,
    unread,
    wire_id,
)

log = logging.getLogger(__name__)

ADD, DELETE = 0, 1  # 5/14 change_type
#: 5/14 (§3.5): a normal group's members are changed by its owner and managers only; a temporary
#: group's members may all add; nobody adds himself to a group he is not in.
GROUP_POLICY = GroupPolicy(members_invite=False, self_join=False)


def group_type(group: Group) -> int:
    return c.GROUP_TEMPORARY if group.kind is GroupKind.TEMPORARY else c.GROUP_NORMAL


async def info(ch: TeamTalkChannel, group: Group, updated: int = 0) -> c.GroupInfo:
    members = [str(u) for u in await ch.core.groups.roles(group.gid)]
    return c.GroupInfo(
        str(group.gid), group.name, group.avatar, str(group.owner), group_type(group), members, updated
    )


async def online_members(ch: TeamTalkChannel, groups: list[c.GroupInfo]) -> None:
    """2/4 after a group list, to a PC requester: the online members, each once, the requester
    excluded (§3.2)."""
    if not ch.pc:
        return
    seen: dict[str, int] = {}
    for group in groups:
        for member in group.members:
            uid = wire_id(member)
            if uid is not None and uid != ch.me and member not in seen and ch.core.sessions.online(uid):
                seen[member] = status_of(ch, uid)
    pairs = [c.IdValue(uid, status) for uid, status in seen.items()]
    ch.push(c.ONLINE_FRIEND_LIST, c.OnlineFriendList(2, pairs))


async def _member_group(ch: TeamTalkChannel, text: str) -> Group | None:
    """The group ``text`` names if the user is a member of it (§3.5: non-members are refused)."""
    gid = wire_id(text)
    group = await ch.core.groups.find(gid) if gid is not None else None
    if group is None or ch.me not in await ch.core.groups.roles(group.gid):
        return None
    return group


@on(c.GROUP_LIST_REQ)
async def _group_list(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> None:
    """5/2: the normal groups of the user, then the 2/4 of their online members."""
    groups = [await info(ch, g) for g in await ch.core.groups.of_user(ch.me) if g.kind is GroupKind.NORMAL]
    ch.conn.write(ch.reply(c.GROUP_LIST_RES, frame, c.GroupListRes(groups)))
    await online_members(ch, groups)


@on(c.RECENT_GROUP_LIST_REQ)
async def _recent_groups(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> None:
    """5/17: every group of the user by last activity, newest first; hidden ones left out (§3.5)."""
    states = {s.conv.a: s for s in await ch.messages.conversations(ch.me) if s.conv.kind is ConvKind.GROUP}
    out: list[tuple[int, c.GroupInfo]] = []
    for group in await ch.core.groups.of_user(ch.me):
        state = states.get(group.gid)
        if state is not None and hidden(state.attrs, state.last_seq):
            continue
        activity = state.activity_us // 1_000_000 if state is not None else group.created_ms // 1000
        out.append((activity, await info(ch, group, activity)))
    out.sort(key=lambda entry: -entry[0])
    groups = [entry[1] for entry in out]
    ch.conn.write(ch.reply(c.RECENT_GROUP_LIST_RES, frame, c.GroupListRes(groups, True)))
    await online_members(ch, groups)


@on(c.GROUP_USER_LIST_REQ, c.IdBody.decode)
async def _group_users(ch: TeamTalkChannel, frame: c.Frame, req: c.IdBody) -> None:
    """5/4, result 1 for an unknown group or a non-member; then 2/4."""
    group = await _member_group(ch, req.id)
    if group is None:
        ch.conn.write(ch.reply(c.GROUP_USER_LIST_RES, frame, c.GroupUserListRes(req.id, 1)))
        return
    body = await info(ch, group)
    ch.conn.write(ch.reply(c.GROUP_USER_LIST_RES, frame, c.GroupUserListRes(req.id, 0, body)))
    await online_members(ch, [body])


@on(c.GROUP_UNREAD_CNT_REQ)
async def _group_unread_counts(ch: TeamTalkChannel, frame: c.Frame, _req: None) -> bytes:
    pairs = [
        c.IdValue(str(s.conv.a), s.unread)
        for s in await ch.messages.conversations(ch.me)
        if s.conv.kind is ConvKind.GROUP and s.unread > 0
    ]
    return ch.reply(c.GROUP_UNREAD_CNT_RES, frame, c.Pairs(pairs))


@on(c.GROUP_UNREAD_MSG_REQ, c.IdBody.decode)
async def _group_unread(ch: TeamTalkChannel, frame: c.Frame, req: c.IdBody) -> bytes:
    """5/8: the newest unread messages of a group, newest first, at most 150 (§4.5)."""
    group = await _member_group(ch, req.id)
    messages: list[c.UnreadMsg] = []
    if group is not None:
        for m in await unread(ch, ConvId.group(group.gid), ch.settings.group_unread_fetch_limit):
            wire = to_wire(m)
            messages.append(c.UnreadMsg(wire.from_id, wire.create_time, wire.msg_type, wire.msg_data))
    return ch.reply(c.GROUP_UNREAD_MSG_RES, frame, c.UnreadMsgRes(req.id, messages, True))


@on(c.GROUP_MSG_READ_ACK, c.IdBody.decode)
async def _group_read(ch: TeamTalkChannel, frame: c.Frame, req: c.IdBody) -> None:
    group = await _member_group(ch, req.id)
    if group is not None:
        await mark_all_read(ch, ConvId.group(group.gid))


@on(c.CREATE_TMP_GROUP_REQ, c.CreateTmpGroupReq.decode)
async def _create_temporary(ch: TeamTalkChannel, frame: c.Frame, req: c.CreateTmpGroupReq) -> bytes:
    """5/12 → 5/13; the other sessions of the creator and the members hear it as a 5/13 push."""
    uids = [u for u in (wire_id(i) for i in req.members) if u is not None]
    if len(uids) != len(req.members):
        return ch.reply(c.CREATE_TMP_GROUP_RES, frame, c.CreateTmpGroupRes(1, "", req.name, []))
    try:
        group = await _create(ch, req.name, req.avatar, uids)
    except CoreError as exc:
        log.info("teamtalk %s: 5/12 refused (%s)", ch.conn.peer, exc.text)
        return ch.reply(c.CREATE_TMP_GROUP_RES, frame, c.CreateTmpGroupRes(1, "", req.name, []))
    members = [str(u) for u in await ch.core.groups.roles(group.gid)]
    return ch.reply(
        c.CREATE_TMP_GROUP_RES, frame, c.CreateTmpGroupRes(0, str(group.gid), group.name, members)
    )


async def _create(ch: TeamTalkChannel, name: str, avatar: str, uids: list[int]) -> Group:
    """Group names are unique in polyim (XMMEP addresses groups by name); old clients name temporary
    groups after their members, so a taken name gets a short random suffix once."""
    groups = ch.core.groups
    try:
        return await groups.create(ch.me, name, uids, avatar=avatar, kind=GroupKind.TEMPORARY, skip=ch.sid)
    except CoreError as exc:
        if exc.code is not Code.NAME_TAKEN:
            raise
    unique = f"{name}-{secrets.token_hex(3)}"
    return await groups.create(ch.me, unique, uids, avatar=avatar, kind=GroupKind.TEMPORARY, skip=ch.sid)


@on(c.CHANGE_MEMBER_REQ, c.ChangeMemberReq.decode)
async def _change_members(ch: TeamTalkChannel, frame: c.Frame, req: c.ChangeMemberReq) -> bytes:
    """5/14 → 5/15 with the users actually changed; users already in (add) or not in (delete) are
    skipped. Who may do what is the core's rule, with this page's ``GROUP_POLICY`` (§3.5, §9 #11); a
    refusal is result 1."""
    failed = c.ChangeMemberRes(1, req.group_id, req.change_type, [])
    group = await _member_group(ch, req.group_id)
    uids = [u for u in (wire_id(i) for i in req.users) if u is not None]
    if group is None or req.change_type not in (ADD, DELETE) or len(uids) != len(req.users):
        return ch.reply(c.CHANGE_MEMBER_RES, frame, failed)
    try:
        changed = await _apply(ch, group.gid, req.change_type, uids)
    except CoreError as exc:
        log.info("teamtalk %s: 5/14 refused (%s)", ch.conn.peer, exc.text)
        return ch.reply(c.CHANGE_MEMBER_RES, frame, failed)
    body = c.ChangeMemberRes(0, req.group_id, req.change_type, [str(u) for u in changed])
    return ch.reply(c.CHANGE_MEMBER_RES, frame, body)


async def _apply(ch: TeamTalkChannel, gid: int, change: int, uids: list[int]) -> list[int]:
    groups = ch.core.groups
    if change == ADD:
        return await groups.add_members(ch.me, gid, uids, skip=ch.sid, policy=GROUP_POLICY, origin=PROTOCOL)
    members = await groups.roles(gid)
    gone = [u for u in dict.fromkeys(uids) if u in members]
    if not gone:
        return []
    return await groups.remove_members(ch.me, gid, gone, skip=ch.sid, origin=PROTOCOL)


# == events out ==========================================================================================
def on_group(ch: TeamTalkChannel, event: GroupEvent) -> None:
    """A group change made elsewhere (another protocol, the admin API, or this user's other session),
    in the frames of §4.11: temporary groups as 5/13 / 5/15 pushes, normal groups as 5/18 / 5/19; a
    5/14 of any TeamTalk user is told with the 5/15 push in either kind (§3.5)."""
    if ch.session is None:
        return
    group, change = event.group, event.change
    members = [str(u) for u in event.members]
    temporary = group.kind is GroupKind.TEMPORARY
    if change is GroupChange.CREATED:
        if temporary:
            ch.push(c.CREATE_TMP_GROUP_RES, c.CreateTmpGroupRes(0, str(group.gid), group.name, members))
        else:
            ch.push(c.NORMAL_GROUP_CREATED, c.GroupCreated(str(group.gid), group.name, group.avatar, members))
    elif change in (GroupChange.JOINED, GroupChange.LEFT, GroupChange.REMOVED):
        if temporary or event.origin == PROTOCOL:
            kind = ADD if change is GroupChange.JOINED else DELETE
            users = [str(u) for u in event.uids]
            ch.push(c.CHANGE_MEMBER_RES, c.ChangeMemberRes(0, str(group.gid), kind, users))
        else:
            ch.push(c.NORMAL_GROUP_MEMBERS, c.GroupMembers(str(group.gid), members))
    elif change is GroupChange.DISMISSED:
        ch.push(c.NORMAL_GROUP_MEMBERS, c.GroupMembers(str(group.gid), []))


TeamTalkChannel.events[GroupEvent] = on_group
