"""OMTP's own HTTP endpoints (omtp.md §7), behind the admin token."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from polyim.core.app import Core
from polyim.core.errors import CoreError
from polyim.http.common import CORE_KEY, is_admin, json_body
from polyim.protocols.omtp import ids
from polyim.protocols.omtp.adapter import ERRORS
from polyim.protocols.omtp.codec import ErrorCode as E

log = logging.getLogger(__name__)

Body = dict[str, Any]
Endpoint = Callable[[Core, Body], Awaitable[tuple[int, str, Any]]]


class ParamError(Exception):
    pass


def _reply(code: int, message: str, data: Any = None, *, extra: bool = True) -> web.Response:
    body: Body = {"code": code, "success": code == 0, "message": message}
    if data is not None:
        body["data"] = data
    return web.json_response(body)


def _text(body: Body, key: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise ParamError("param is empty!")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParamError(f"{key} must be a string")
    text = str(value)
    try:
        text.encode()
    except UnicodeEncodeError as exc:  # JSON can spell half a surrogate pair; UTF-8 cannot
        raise ParamError(f"{key} must be valid text") from exc
    return text


def _uid(body: Body, key: str) -> int:
    uid = ids.parse_uid(_text(body, key))
    if uid is None:
        raise ParamError(f"{key} is not a user id")
    return uid


def endpoint(fn: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        if not is_admin(request):
            return web.json_response({"code": 23, "success": False, "message": "unauthorized"}, status=401)
        body = await json_body(request)
        if body is None:
            return _reply(E.EC_PARAM, "param is empty!")
        try:
            _text(body, "traceId")
            code, message, data = await fn(request.app[CORE_KEY], body)
        except ParamError as exc:
            return _reply(E.EC_PARAM, str(exc))
        except CoreError as exc:
            return _reply(ERRORS[exc.code][0], exc.text)
        log.info("omtp http %s traceId=%s code=%d", request.path, body.get("traceId"), code)
        return _reply(code, message, data)

    return handle


async def send_simple(core: Core, body: Body) -> tuple[int, str, Any]:
    trace, app_id = _text(body, "traceId"), _text(body, "appId")
    from_, content = _text(body, "from"), _text(body, "content")
    to = _uid(body, "to")
    topic = _text(body, "sessionId", required=False) or f"BM_{app_id}_{to}"
    if ids.is_chat_shaped(topic):
        raise ParamError("sessionId names a chat")
    ctype = body.get("contentType", 0)
    # Tars' int on the socket (§4.1); a wider number would reach the store and fail there, not here
    if not isinstance(ctype, int) or isinstance(ctype, bool) or not -(2**31) <= ctype < 2**31:
        raise ParamError("contentType must be a 32-bit integer")
    extra: Body = {"from": from_, "app": app_id, "pack_id": trace}
    for key, name in (("pushTitle", "push_title"), ("pushSummary", "push_summary")):
        if body.get(key):
            extra[name] = _text(body, key)
    res = await core.messages.notify(to, topic, ctype, content, f"http:{trace}", extra=extra)
    m = res.message
    return 0, "success", {"sessionId": m.topic, "seqId": m.seq, "timestamp": m.ts_ms}


async def send_sync(core: Core, body: Body) -> tuple[int, str, Any]:
    trace = _text(body, "traceId")
    _text(body, "appId")
    users = body.get("users")
    if not isinstance(users, list) or not users or len(users) > 1000:
        raise ParamError("users must be a list of 1 to 1000 user ids")
    command = body.get("command", 0)
    content = _text(body, "content", required=False)
    if not isinstance(command, int) or isinstance(command, bool) or len(content.encode()) > 4096:
        raise ParamError("bad command or content")
    # traceId is the dedup key (omtp.md §7): a repeated request gets the first answer, nothing is pushed
    key = f"omtp.sendsyncmsg:{trace}"
    uids = [u for u in (ids.parse_uid(str(x)) for x in users) if u is not None]

    def push() -> str:
        return json.dumps({"delivered": core.send_sync_command(uids, command, content, trace)})

    return 0, "success", json.loads(await core.once(key, push))


async def _user(core: Core, body: Body, key: str) -> int:
    """A uid field that must name an existing account (omtp.md §7.3: unknown → code 2). The core only
    checks the peer of a friend change, since a logged-in caller always exists."""
    uid = _uid(body, key)
    if await core.accounts.get(uid) is None:
        raise ParamError(f"unknown {key}")
    return uid


async def friend_add(core: Core, body: Body) -> tuple[int, str, Any]:
    await core.relations.add_friend(await _user(core, body, "userId"), await _user(core, body, "friendId"))
    return 0, "", None


async def friend_del(core: Core, body: Body) -> tuple[int, str, Any]:
    await core.relations.remove_friend(await _user(core, body, "userId"), await _user(core, body, "friendId"))
    return 0, "", None


async def friend_get(core: Core, body: Body) -> tuple[int, str, Any]:
    uid = await _user(core, body, "userId")
    friends = await core.relations.friends(uid)
    return 0, "", [{"userId": str(f.uid), "friendId": str(f.peer), "remark": f.remark} for f in friends]


def routes() -> list[web.RouteDef]:
    table = {
        "/msg/sendsimplemsg": send_simple,
        "/msg/sendsyncmsg": send_sync,
        "/friend/add": friend_add,
        "/friend/del": friend_del,
        "/friend/get": friend_get,
    }
    return [web.post(path, endpoint(fn)) for path, fn in table.items()]
