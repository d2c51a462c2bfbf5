"""polyim's own admin API under ``/api/v1`` (admin token): accounts and tokens for operators and tools."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from polyim.core.errors import Code, CoreError
from polyim.core.model import Role
from polyim.http.server import CORE_KEY, is_admin, json_body

_STATUS = {Code.NAME_TAKEN: 409, Code.USER_NOT_FOUND: 404}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)


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
    if not is_admin(request):
        return _error(401, "unauthorized")
    body = await json_body(request)
    if body is None or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        return _error(400, "username and password required")
    uid = body.get("uid")
    if uid is not None and (not isinstance(uid, int) or isinstance(uid, bool)):
        return _error(400, "uid must be an integer")
    try:
        acct = await request.app[CORE_KEY].accounts.create(
            body["username"],
            body["password"],
            uid=uid,
            nickname=str(body.get("nickname", "")),
            email=str(body.get("email", "")),
            role=Role.OPERATOR if body.get("operator") else Role.USER,
        )
    except CoreError as exc:
        return _error(_STATUS.get(exc.code, 400), exc.text)
    return web.json_response(_account(acct), status=201)


async def issue_token(request: web.Request) -> web.Response:
    """``POST /api/v1/tokens`` {uid, device, ttl?} → a signed login token for an app server's user."""
    if not is_admin(request):
        return _error(401, "unauthorized")
    body = await json_body(request)
    uid = body.get("uid") if body else None
    if body is None or not isinstance(uid, int) or isinstance(uid, bool):
        return _error(400, "uid required")
    core = request.app[CORE_KEY]
    if await core.accounts.get(uid) is None:
        return _error(404, "no such user")
    ttl = body.get("ttl")
    token = core.accounts.issue_token(uid, str(body.get("device", "")), ttl if isinstance(ttl, int) else None)
    return web.json_response({"uid": uid, "token": token})


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/users", create_user), web.post("/api/v1/tokens", issue_token)]
