"""polyim's push API (design.md §4 "Push", beehive.md §6.8): ``POST /api/v1/push/user``,
``POST /api/v1/push/broadcast`` and ``POST /api/v1/push/room``, admin token required, JSON bodies.

Every protocol's sessions receive a push in their own push form (beehive P2P / BC, OMTP BIZ_NOTIFY 16);
that rendering is the adapters' business. A user push with ``"store": true`` is kept in the user's
notification stream until acknowledged or expired, for sessions that sync later; broadcasts are never
stored.

Answers are ``{"code":0,"errmsg":"OK","msgid":N,"online":n}``; refusals carry beehive's codes (the
page that defines this API) with an HTTP status: 401 for the admin token (20008), 415 for a body that
is not JSON (10007), 400 for a bad field (20005 wrong type, 20006 missing, 20007 invalid), 404 for an
unknown user (10013) or room (20007), 413 for a payload over 60000 bytes (10018).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from polyim.core.errors import Code, CoreError
from polyim.core.ids import MAX_ID
from polyim.core.push import DEFAULT_EXPIRE_S, MAX_PAYLOAD
from polyim.http.common import CORE_KEY, is_admin, read_at_most

MAX_JSON = 2 * MAX_PAYLOAD  # a base64 payload of MAX_PAYLOAD bytes plus the other fields

_CORE_ERRORS: dict[Code, tuple[int, int, str]] = {
    Code.USER_NOT_FOUND: (404, 10013, "User isn't exist!"),
    Code.TOO_LARGE: (413, 10018, "Body over limit!"),
    Code.EMPTY: (400, 20007, "Param is invalid!"),
    Code.ROOM_NOT_FOUND: (404, 20007, "Room isn't exist!"),
}


class Refusal(Exception):
    def __init__(self, status: int, code: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.status = status
        self.code = code
        self.errmsg = errmsg


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")), status=status, content_type="application/json"
    )


async def _body(request: web.Request) -> dict[str, Any]:
    if not is_admin(request):
        raise Refusal(401, 20008, "Auth failed!")
    if request.content_type != "application/json":
        raise Refusal(415, 10007, "Unsupported media type!")
    raw = await read_at_most(request, MAX_JSON)
    if len(raw) > MAX_JSON:
        raise Refusal(413, 10018, "Body over limit!")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal(400, 20005, "Body is not JSON!") from exc
    if not isinstance(data, dict):
        raise Refusal(400, 20005, "Body is not a JSON object!")
    return data


def _payload(body: dict[str, Any]) -> bytes:
    """``data`` (base64) if present, else ``text`` (UTF-8); one of them is required."""
    data, text = body.get("data"), body.get("text")
    if data is not None:
        if not isinstance(data, str):
            raise Refusal(400, 20005, "data must be base64 text!")
        try:
            payload = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refusal(400, 20005, "data must be base64 text!") from exc
    elif isinstance(text, str):
        try:
            payload = text.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate, which JSON can spell
            raise Refusal(400, 20005, "text must be text!") from exc
    else:
        raise Refusal(400, 20006, "text or data is missing!")
    if len(payload) > MAX_PAYLOAD:
        raise Refusal(413, 10018, "Body over limit!")
    return payload


def _field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        raise Refusal(400, 20006, f"{name} is missing!")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Refusal(400, 20005, f"{name} has the wrong type!")
    return value


Act = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _serve(request: web.Request, act: Act) -> web.Response:
    try:
        return _answer(await act(request, await _body(request)))
    except Refusal as exc:
        return _answer({"code": exc.code, "errmsg": exc.errmsg}, exc.status)
    except CoreError as exc:
        status, code, errmsg = _CORE_ERRORS.get(exc.code, (500, 10001, "System error!"))
        return _answer({"code": code, "errmsg": errmsg}, status)


async def _user(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    uid = _field(body, "uid", int)
    if not 0 < uid <= MAX_ID:
        raise Refusal(400, 20007, "uid is invalid!")
    payload = _payload(body)
    store = _field(body, "store", bool, False)
    expire = _field(body, "expire", int, DEFAULT_EXPIRE_S)
    if expire < 0:
        raise Refusal(400, 20007, "expire is invalid!")
    core = request.app[CORE_KEY]
    result = await core.push.to_user(uid, payload, store=store, expire_s=expire)
    return {"code": 0, "errmsg": "OK", "msgid": result.msgid, "online": result.online}


async def _broadcast(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    payload = _payload(body)
    app = _field(body, "app", str, "")
    version = _field(body, "version", str, "")
    result = request.app[CORE_KEY].push.broadcast(payload, app=app, version=version)
    return {"code": 0, "errmsg": "OK", "msgid": result.msgid, "online": result.online}


async def _room(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    rid = _field(body, "rid", int)
    if not 0 < rid <= MAX_ID:
        raise Refusal(400, 20007, "rid is invalid!")
    payload = _payload(body)
    expire = _field(body, "expire", int, 0)
    if expire < 0:
        raise Refusal(400, 20007, "expire is invalid!")
    rooms = request.app[CORE_KEY].rooms
    bc = rooms.broadcast(rid, payload, expire)
    return {"code": 0, "errmsg": "OK", "msgid": bc.msgid, "online": len(rooms.sessions(rid))}


async def push_user(request: web.Request) -> web.Response:
    """``POST /api/v1/push/user`` {uid, text | data (base64), store?, expire?}."""
    return await _serve(request, _user)


async def push_broadcast(request: web.Request) -> web.Response:
    """``POST /api/v1/push/broadcast`` {text | data (base64), app?, version?}."""
    return await _serve(request, _broadcast)


async def push_room(request: web.Request) -> web.Response:
    """``POST /api/v1/push/room`` {rid, text | data (base64), expire?}: a ROOM-BC-like broadcast to the
    sessions in the room, and to later joiners until ``expire`` seconds have passed (0: now only)."""
    return await _serve(request, _room)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/push/user", push_user),
        web.post("/api/v1/push/broadcast", push_broadcast),
        web.post("/api/v1/push/room", push_room),
    ]
