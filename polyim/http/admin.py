"""polyim's own admin API under ``/api/v1`` (admin token): accounts, tokens, groups and rooms for
operators and tools (``polyim group …`` and ``polyim room …`` are its command-line clients).

An operator changes a group or a room with its owner's authority: the core's rules and notifications
are the ones the owner's own request would get (members are told in their protocols), and the change
is logged with who it was done for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from polyim.cluster.base import SessionId, SessionRecord
from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.files import FileTask
from polyim.core.ids import bad_name, storable
from polyim.core.rooms import Room
from polyim.core.sessions import Session
from polyim.http.common import CORE_KEY, Handler, admin_only, api_error, json_body
from polyim.model import Group, GroupMember, Role

log = logging.getLogger(__name__)

_STATUS = {
    Code.NAME_TAKEN: 409,
    Code.USER_NOT_FOUND: 404,
    Code.GROUP_NOT_FOUND: 404,
    Code.ROOM_NOT_FOUND: 404,
    Code.NOT_MEMBER: 409,
    Code.GROUP_FULL: 409,
    Code.FORBIDDEN: 403,
    Code.NO_PRIVILEGE: 403,
    Code.BLOCKED: 403,
}


class _BadRequest(Exception):
    pass


class _NotFound(Exception):
    """A session or file the core does not know (users, groups and rooms are the core's refusals)."""


def _refusals(fn: Handler) -> Handler:
    """Admin only; a core refusal or a bad field becomes its JSON error."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except CoreError as exc:
            return api_error(_STATUS.get(exc.code, 400), exc.text)
        except _BadRequest as exc:
            return api_error(400, str(exc))
        except _NotFound as exc:
            return api_error(404, str(exc))

    return admin_only(handle)


_MAX_TTL = 10 * 365 * 86400  # a token for ten years is the longest anyone needs


def _int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not storable(value):
        raise _BadRequest(f"{name} must be an integer id")
    return value


def _uids(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _BadRequest("uids must be a non-empty list of integers")
    return [_int(u, "uids") for u in value]


def _id_text(text: str, name: str) -> int:
    return _int(int(text) if text.isascii() and text.isdigit() else None, name)


def _path_id(request: web.Request, name: str) -> int:
    return _id_text(request.match_info[name], name)


_MAX_PAGE = 1000


def _paging(request: web.Request) -> tuple[int, int]:
    """``?offset=`` (default 0) and ``?limit=`` (default 100, at most 1000) of a listing."""
    offset, limit = request.query.get("offset", "0"), request.query.get("limit", "100")
    if not (offset.isascii() and offset.isdigit() and limit.isascii() and limit.isdigit()):
        raise _BadRequest("offset and limit must be non-negative integers")
    if not 0 < int(limit) <= _MAX_PAGE:
        raise _BadRequest(f"limit must be 1 to {_MAX_PAGE}")
    return int(offset), int(limit)


def _page(total: int, offset: int, key: str, items: list[dict[str, Any]]) -> web.Response:
    """A listing's answer: the total matched, where this page starts, and its items."""
    return web.json_response({"total": total, "offset": offset, key: items})


async def _body(request: web.Request) -> dict[str, Any]:
    body = await json_body(request)
    if body is None:
        raise _BadRequest("a JSON object is required")
    return body


# -- accounts and tokens ------------------------------------------------------------------------------
def _account(acct: Any) -> dict[str, Any]:
    return {
        "uid": acct.uid,
        "username": acct.username,
        "nickname": acct.nickname,
        "email": acct.email,
        "operator": acct.role is Role.OPERATOR,
        "disabled": acct.disabled,
    }


async def create_user(request: web.Request) -> web.Response:
    """``POST /api/v1/users`` {username, password, uid?, nickname?, email?, operator?} → the account."""
    body = await json_body(request) or {}
    if not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        raise _BadRequest("username and password required")
    uid = body.get("uid")
    acct = await request.app[CORE_KEY].accounts.create(
        body["username"],
        body["password"],
        uid=None if uid is None else _int(uid, "uid"),
        nickname=str(body.get("nickname", "")),
        email=str(body.get("email", "")),
        role=Role.OPERATOR if body.get("operator") else Role.USER,
    )
    return web.json_response(_account(acct), status=201)


async def list_users(request: web.Request) -> web.Response:
    """``GET /api/v1/users?q=&offset=&limit=`` → the accounts whose username or nickname holds ``q``
    (or whose uid it is), disabled ones too, by uid, a page at a time."""
    offset, limit = _paging(request)
    total, found = await request.app[CORE_KEY].accounts.page(request.query.get("q", ""), offset, limit)
    return _page(total, offset, "users", [_account(a) for a in found])


async def show_user(request: web.Request) -> web.Response:
    """``GET /api/v1/users/{uid}`` → the account and its live sessions' count on every node."""
    core = request.app[CORE_KEY]
    acct = await core.ctx.require_account(_path_id(request, "uid"))
    return web.json_response({**_account(acct), "sessions": len(core.sessions.records(acct.uid))})


async def set_password(request: web.Request) -> web.Response:
    """``POST /api/v1/users/{uid}/password`` {password} → the account. Sessions stay; the new password
    counts from the next login."""
    uid, password = _path_id(request, "uid"), (await _body(request)).get("password")
    if not isinstance(password, str) or not password:
        raise _BadRequest("password required")
    core = request.app[CORE_KEY]
    await core.accounts.set_password(uid, password)
    log.info("admin API: uid %d password set", uid)
    return web.json_response(_account(await core.accounts.get(uid)))


async def disable_user(request: web.Request) -> web.Response:
    """``POST /api/v1/users/{uid}/disable`` {disabled?: bool, default true} → the account. Disabling
    kicks the user's live sessions at once, in every protocol (``polyim user disable`` calls this)."""
    uid = _path_id(request, "uid")
    body = await json_body(request) or {}
    disabled = body.get("disabled", True)
    if not isinstance(disabled, bool):
        raise _BadRequest("disabled must be true or false")
    core = request.app[CORE_KEY]
    await core.accounts.set_disabled(uid, disabled)
    log.info("admin API: uid %d %s", uid, "disabled" if disabled else "enabled")
    return web.json_response(_account(await core.accounts.get(uid)))


async def issue_token(request: web.Request) -> web.Response:
    """``POST /api/v1/tokens`` {uid, device, ttl?} → a signed login token for an app server's user."""
    body = await _body(request)
    uid = _int(body.get("uid"), "uid")
    core = request.app[CORE_KEY]
    await core.ctx.require_account(uid)
    ttl = body.get("ttl")
    # a negative ttl gives a token that has already expired: how a client's refusal path is tried
    if ttl is not None and not (isinstance(ttl, int) and not isinstance(ttl, bool) and abs(ttl) <= _MAX_TTL):
        raise _BadRequest(f"ttl must be at most {_MAX_TTL} seconds either way")
    device = body.get("device", "")
    if not isinstance(device, str) or bad_name(device):
        raise _BadRequest("device must be a string")
    token = core.accounts.issue_token(uid, device, ttl)
    return web.json_response({"uid": uid, "token": token})


# -- groups --------------------------------------------------------------------------------------------
def _group(group: Group, members: list[GroupMember] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "gid": group.gid,
        "name": group.name,
        "owner": group.owner,
        "desc": group.desc,
        "member_limit": group.member_limit,
        "mute_all": group.mute_all,
        "closed": group.closed,
    }
    if members is not None:
        out["members"] = [{"uid": m.uid, "role": m.role.name.lower(), "muted": m.muted} for m in members]
    return out


async def _group_out(core: Core, gid: int, status: int = 200) -> web.Response:
    group = await core.groups.get(gid)
    return web.json_response(_group(group, await core.groups.members(None, gid)), status=status)


async def list_groups(request: web.Request) -> web.Response:
    """``GET /api/v1/groups?uid=U`` → the groups U belongs to; without ``uid``, ``?q=&offset=&limit=``
    → the groups whose name holds ``q`` (or whose gid it is), by gid, a page at a time."""
    core = request.app[CORE_KEY]
    offset, limit = _paging(request)
    if "uid" in request.query:
        uid = _id_text(request.query["uid"], "uid")
        await core.ctx.require_account(uid)
        mine = sorted(await core.groups.of_user(uid), key=lambda g: g.gid)
        total, groups = len(mine), mine[offset : offset + limit]
    else:
        total, groups = await core.groups.page(request.query.get("q", ""), offset, limit)
    return _page(total, offset, "groups", [_group(g) for g in groups])


async def create_group(request: web.Request) -> web.Response:
    """``POST /api/v1/groups`` {name, owner, members?} → the group, its members told as by a client's create."""
    body = await _body(request)
    name, owner = body.get("name"), _int(body.get("owner"), "owner")
    if not isinstance(name, str) or not name:
        raise _BadRequest("name required")
    members = _uids(body["members"]) if body.get("members") else []
    core = request.app[CORE_KEY]
    group = await core.groups.create(owner, name, members)
    log.info("admin API: group %d %r created for uid %d", group.gid, name, owner)
    return await _group_out(core, group.gid, 201)


async def show_group(request: web.Request) -> web.Response:
    """``GET /api/v1/groups/{gid}`` → the group and its members (owner, managers, then by uid)."""
    return await _group_out(request.app[CORE_KEY], _path_id(request, "gid"))


async def dismiss_group(request: web.Request) -> web.Response:
    """``DELETE /api/v1/groups/{gid}``: dismissed as its owner would; the members are told."""
    gid = _path_id(request, "gid")
    core = request.app[CORE_KEY]
    group = await core.groups.get(gid)
    await core.groups.dismiss(group.owner, gid)
    log.info("admin API: group %d dismissed for its owner uid %d", gid, group.owner)
    return web.json_response({"gid": gid, "dismissed": True})


def _membership(adding: bool) -> Handler:
    """``POST /api/v1/groups/{gid}/members`` {uids} adds them, ``…/members/remove`` removes them, as the
    owner would; → the group after the change."""
    verb = "added" if adding else "removed"

    async def change(request: web.Request) -> web.Response:
        gid, uids = _path_id(request, "gid"), _uids((await _body(request)).get("uids"))
        core = request.app[CORE_KEY]
        owner = (await core.groups.get(gid)).owner
        act = core.groups.add_members if adding else core.groups.remove_members
        done = await act(owner, gid, uids)
        log.info("admin API: group %d: uids %s %s for its owner uid %d", gid, done, verb, owner)
        return await _group_out(core, gid)

    return change


# -- rooms ----------------------------------------------------------------------------------------------
def _room(core: Core, room: Room) -> dict[str, Any]:
    inside = sorted(core.rooms.sessions(room.rid), key=lambda s: s.sid)
    return {
        "rid": room.rid,
        "name": room.name,
        "owner": room.owner,
        "closed": room.closed,
        "sessions": core.rooms.count(room.rid),
        "subgroups": core.rooms.subgroups(room.rid),
        "banned": sorted(room.banned),
        "members": [{"uid": s.uid, "sid": str(s.sid), "protocol": s.protocol} for s in inside],
    }


async def list_rooms(request: web.Request) -> web.Response:
    """``GET /api/v1/rooms?top=N`` → the N rooms with the most sessions (default 100), largest first,
    each with the uids inside on this node."""
    top = _id_text(request.query.get("top", "100"), "top")
    core = request.app[CORE_KEY]
    rooms = [
        {"rid": r, "sessions": n, "members": sorted({s.uid for s in core.rooms.sessions(r)})}
        for r, n in core.rooms.top(top)
    ]
    return web.json_response({"rooms": rooms})


async def create_room(request: web.Request) -> web.Response:
    """``POST /api/v1/rooms`` {owner, name?, desc?, rid?} → the new, open, empty room."""
    body = await _body(request)
    owner = _int(body.get("owner"), "owner")
    rid = body.get("rid")
    core = request.app[CORE_KEY]
    await core.ctx.require_account(owner)
    room = await core.rooms.create(
        owner,
        str(body.get("name", "")),
        str(body.get("desc", "")),
        rid=None if rid is None else _int(rid, "rid"),
    )
    log.info("admin API: room %d created for uid %d", room.rid, owner)
    return web.json_response(_room(core, room), status=201)


async def show_room(request: web.Request) -> web.Response:
    """``GET /api/v1/rooms/{rid}`` → the room: owner, sessions (all nodes), sub-groups here, bans."""
    core = request.app[CORE_KEY]
    return web.json_response(_room(core, core.rooms.require(_path_id(request, "rid"))))


async def dismiss_room(request: web.Request) -> web.Response:
    """``DELETE /api/v1/rooms/{rid}``: everyone inside is told and removed; the rid stays dead."""
    rid = _path_id(request, "rid")
    core = request.app[CORE_KEY]
    room = core.rooms.require(rid)
    if not room.owner:
        raise CoreError(Code.FORBIDDEN, "an auto-created room has no owner to dismiss it")
    core.rooms.dismiss(room.owner, rid)
    await core.rooms.flush()  # answered once the dismissal is committed
    log.info("admin API: room %d dismissed for its owner uid %d", rid, room.owner)
    return web.json_response({"rid": rid, "dismissed": True})


async def kick_from_room(request: web.Request) -> web.Response:
    """``POST /api/v1/rooms/{rid}/kick`` {uid}: banned from the room, its sessions inside removed."""
    rid, uid = _path_id(request, "rid"), _int((await _body(request)).get("uid"), "uid")
    core = request.app[CORE_KEY]
    await core.ctx.require_account(uid)
    core.rooms.kick(None, rid, uid)
    await core.rooms.flush()  # answered once the ban is committed
    log.info("admin API: uid %d kicked from room %d", uid, rid)
    return web.json_response(_room(core, core.rooms.require(rid)))


# -- sessions ---------------------------------------------------------------------------------------------
def _session(record: SessionRecord, here: Session | None) -> dict[str, Any]:
    """A session id is a 64-bit clock value: a string, so that JavaScript reads it whole."""
    out: dict[str, Any] = {
        "sid": str(record.sid),
        "uid": record.uid,
        "node": record.node,
        "protocol": record.protocol,
        "device_class": record.device_class.value,
        "device_id": record.device_id,
    }
    if here is not None:
        out.update(peer=here.peer_addr, app=here.app, app_version=here.app_version)
    return out


def _wanted(record: SessionRecord, query: Mapping[str, str]) -> bool:
    protocol, node, uid = query.get("protocol"), query.get("node"), query.get("uid")
    return (
        (protocol is None or record.protocol == protocol)
        and (node is None or str(record.node) == node)
        and (uid is None or str(record.uid) == uid)
    )


async def list_sessions(request: web.Request) -> web.Response:
    """``GET /api/v1/sessions?protocol=&node=&uid=&offset=&limit=`` → the live sessions of every node,
    by id; those held by this node also show the peer address and the client application."""
    offset, limit = _paging(request)
    found = [pair for pair in request.app[CORE_KEY].sessions.listing() if _wanted(pair[0], request.query)]
    return _page(len(found), offset, "sessions", [_session(*p) for p in found[offset : offset + limit]])


async def kick_session(request: web.Request) -> web.Response:
    """``DELETE /api/v1/sessions/{sid}``: the session ends, on whatever node holds it, with its
    protocol's kick (reason: operator)."""
    sid = SessionId(_path_id(request, "sid"))
    if not await request.app[CORE_KEY].accounts.kick_session(sid):
        raise _NotFound("no such session")
    log.info("admin API: session %d kicked", sid)
    return web.json_response({"sid": str(sid), "kicked": True})


# -- offline files --------------------------------------------------------------------------------------
def _file(task: FileTask) -> dict[str, Any]:
    return {
        "task": task.task_id,
        "sender": task.sender,
        "recipient": task.recipient,
        "name": task.name,
        "size": task.size,
        "created_ms": task.created_ms,
    }


async def list_files(request: web.Request) -> web.Response:
    """``GET /api/v1/files?uid=&offset=&limit=`` → the offline files kept for ``uid`` (for everyone
    without it), oldest first."""
    offset, limit = _paging(request)
    uid = _id_text(request.query["uid"], "uid") if "uid" in request.query else None
    kept = request.app[CORE_KEY].transfers.offline(uid)
    return _page(len(kept), offset, "files", [_file(t) for t in kept[offset : offset + limit]])


async def delete_file(request: web.Request) -> web.Response:
    """``DELETE /api/v1/files/{task}``: the offline file and its bytes are deleted; its recipient can
    no longer fetch it."""
    task_id = request.match_info["task"]
    core = request.app[CORE_KEY]
    task = next((t for t in core.transfers.offline() if t.task_id == task_id), None)
    if task is None:
        raise _NotFound("no such offline file")
    await core.transfers.drop(task)
    log.info("admin API: offline file %s for uid %d deleted", task_id, task.recipient)
    return web.json_response({"task": task_id, "deleted": True})


def routes() -> list[web.RouteDef]:
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/api/v1/users", list_users),
        ("POST", "/api/v1/users", create_user),
        ("GET", "/api/v1/users/{uid}", show_user),
        ("POST", "/api/v1/users/{uid}/password", set_password),
        ("POST", "/api/v1/users/{uid}/disable", disable_user),
        ("POST", "/api/v1/tokens", issue_token),
        ("GET", "/api/v1/groups", list_groups),
        ("POST", "/api/v1/groups", create_group),
        ("GET", "/api/v1/groups/{gid}", show_group),
        ("DELETE", "/api/v1/groups/{gid}", dismiss_group),
        ("POST", "/api/v1/groups/{gid}/members", _membership(adding=True)),
        ("POST", "/api/v1/groups/{gid}/members/remove", _membership(adding=False)),
        ("GET", "/api/v1/rooms", list_rooms),
        ("POST", "/api/v1/rooms", create_room),
        ("GET", "/api/v1/rooms/{rid}", show_room),
        ("DELETE", "/api/v1/rooms/{rid}", dismiss_room),
        ("POST", "/api/v1/rooms/{rid}/kick", kick_from_room),
        ("GET", "/api/v1/sessions", list_sessions),
        ("DELETE", "/api/v1/sessions/{sid}", kick_session),
        ("GET", "/api/v1/files", list_files),
        ("DELETE", "/api/v1/files/{task}", delete_file),
    ]
    return [web.route(method, path, _refusals(fn)) for method, path, fn in table]
