"""beehive's operator room endpoints (beehive.md §6.6): ``/room/push``, ``/room/config``, ``/room/query``,
served the same under ``/im/room/*``.

Conventions of §6: admin token required (else ``{"code":20008,…}``), HTTP 200 with compact JSON whose
keys come in the documented order, errors as ``{"code":N,"errmsg":"…"}`` only, HTTP 405 for a wrong
method. GET endpoints also take their parameters as a form-encoded POST body. The rules are the core's
(:mod:`polyim.core.rooms`); this module parses parameters and words the answers.

polyim extension: ``/room/config?option=limit&action=set&rid=R&num=N`` sets a room's total session limit
(0 = none; ``action=get`` reads it). The page names that limit ("Room is full!") but only sets it with
``polyim room …``, a separate process that cannot reach a running node's rooms.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.ids import storable
from polyim.http.common import CORE_KEY, is_admin, read_at_most

MAX_PUSH = 60_000
MAX_EXPIRE = 0xFFFFFFFF  # mesg_room_bc.expire is a uint32

Params = Mapping[str, str]
Answer = dict[str, Any]
Action = Callable[[Core, Params], Answer]

OK: Answer = {"code": 0, "errmsg": "Ok"}

# Core refusals on the operator endpoints (§5, §6.7); the rest are "System error!".
_CORE_ERRORS: dict[Code, tuple[int, str]] = {
    Code.ROOM_NOT_FOUND: (20007, "Room isn't exist!"),
    Code.GROUP_NOT_FOUND: (20007, "Group isn't exist!"),
    Code.BAD_REQUEST: (20007, "Param is invalid!"),
    Code.EMPTY: (20007, "Param is invalid!"),
    Code.NOT_MEMBER: (20007, "Not group member!"),
    Code.USER_NOT_FOUND: (10013, "User isn't exist!"),
    Code.DISABLED: (10013, "User is disabled!"),
    Code.FORBIDDEN: (10005, "Permission denied!"),
    Code.NO_PRIVILEGE: (10005, "Permission denied!"),
    Code.TOO_LARGE: (10018, "Body over limit!"),
}


class ParamError(Exception):
    def __init__(self, code: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg


def answer(body: Answer, status: int = 200) -> web.Response:
    """Compact JSON, keys in insertion order (§6: clients of the original compare texts)."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return web.Response(text=text, status=status, content_type="application/json")


def text_param(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise ParamError(20006, "Param is missing!")
    return value


def int_param(params: Params, name: str, *, default: int | None = None, nonzero: bool = False) -> int:
    """§6.7: missing → 20006, not a number (or past u64) → 20005, zero where ≠ 0 is required or a number
    no id can be (2^63 and above) → 20007."""
    raw = params.get(name, "")
    if not raw:
        if default is None:
            raise ParamError(20006, "Param is missing!")
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20 or int(raw) >= 1 << 64:
        raise ParamError(20005, "Param is not a number!")
    value = int(raw)
    if (nonzero and value == 0) or not storable(value):
        raise ParamError(20007, "Param is invalid!")
    return value


Handler = Callable[[web.Request], Awaitable[web.Response]]


def endpoint(
    methods: frozenset[str], fn: Callable[[web.Request, Core], Awaitable[Answer]], *, admin: bool = True
) -> Handler:
    """Method, then admin token (operator endpoints), then the endpoint; parameter and core refusals
    become §6 errors."""

    async def handle(request: web.Request) -> web.Response:
        if request.method not in methods:
            return answer({"code": 10021, "errmsg": "Method not supported!"}, status=405)
        if admin and not is_admin(request):
            return answer({"code": 20008, "errmsg": "Auth failed!"})
        try:
            return answer(await fn(request, request.app[CORE_KEY]))
        except ParamError as exc:
            return answer({"code": exc.code, "errmsg": exc.errmsg})
        except CoreError as exc:
            code, errmsg = _CORE_ERRORS.get(exc.code, (10001, "System error!"))
            return answer({"code": code, "errmsg": errmsg})

    return handle


async def params_of(request: web.Request) -> Params:
    """Query parameters, plus a form body's when the GET endpoint is called with POST (§6)."""
    params = dict(request.query)
    if request.method == "POST":
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


# == /room/push ==========================================================================================
async def push(request: web.Request, core: Core) -> Answer:
    """``POST /room/push?dim=room&rid=R&expire=E``: the raw body becomes a ROOM-BC (§4.4)."""
    q = request.query
    if text_param(q, "dim") != "room":
        raise ParamError(20007, "Param is invalid!")
    rid = int_param(q, "rid", nonzero=True)
    expire = int_param(q, "expire", default=0)
    if expire > MAX_EXPIRE:
        raise ParamError(20007, "Param is invalid!")
    data = await read_at_most(request, MAX_PUSH)
    if len(data) > MAX_PUSH:
        raise ParamError(10018, "Body over limit!")
    bc = core.rooms.broadcast(rid, data, expire)
    return {"rid": rid, "msgid": bc.msgid, "code": 0, "errmsg": "OK"}


# == /room/config ========================================================================================
def _ban(core: Core, p: Params) -> Answer:
    """Ban, removing the user's sessions from the room as ROOM-KICK does."""
    core.rooms.kick(None, int_param(p, "rid", nonzero=True), int_param(p, "uid", nonzero=True))
    return OK


def _unban(core: Core, p: Params) -> Answer:
    core.rooms.unban(int_param(p, "rid", nonzero=True), int_param(p, "uid", nonzero=True))
    return OK


def _gag(on: bool) -> Action:
    def act(core: Core, p: Params) -> Answer:
        core.rooms.set_gagged(int_param(p, "rid", nonzero=True), int_param(p, "uid", nonzero=True), on)
        return OK

    return act


def _switch(closed: bool) -> Action:
    def act(core: Core, p: Params) -> Answer:
        core.rooms.set_closed(int_param(p, "rid", nonzero=True), closed)
        return OK

    return act


def _capacity_set(core: Core, p: Params) -> Answer:
    rid = int_param(p, "rid", default=0)
    core.rooms.set_capacity(rid or None, int_param(p, "cap", nonzero=True))
    return OK


def _capacity_get(core: Core, p: Params) -> Answer:
    rid = int_param(p, "rid", default=0)
    return {"rid": rid, "cap": core.rooms.capacity(rid or None), **OK}


def _limit_set(core: Core, p: Params) -> Answer:
    core.rooms.set_limit(int_param(p, "rid", nonzero=True), int_param(p, "num"))
    return OK


def _limit_get(core: Core, p: Params) -> Answer:
    rid = int_param(p, "rid", nonzero=True)
    room = core.rooms.require(rid)
    return {"rid": rid, "num": room.limit, **OK}


CONFIG: dict[str, dict[str, Action]] = {
    "blacklist": {"add": _ban, "del": _unban},
    "gag": {"add": _gag(True), "del": _gag(False)},
    "room": {"open": _switch(False), "close": _switch(True)},
    "capacity": {"set": _capacity_set, "get": _capacity_get},
    "limit": {"set": _limit_set, "get": _limit_get},
}


def pick(table: dict[str, Any], params: Params, name: str) -> Any:
    choice = table.get(text_param(params, name))
    if choice is None:
        raise ParamError(10020, "Unknown option!")
    return choice


async def config(request: web.Request, core: Core) -> Answer:
    params = await params_of(request)
    actions: dict[str, Action] = pick(CONFIG, params, "option")
    act: Action = pick(actions, params, "action")
    answer = act(core, params)
    await core.rooms.flush()  # a kept setting (a ban, a gag, a closure) is answered once committed
    return answer


# == /room/query =========================================================================================
def _top_list(core: Core, p: Params) -> Answer:
    """Rooms by session count (all nodes), largest first."""
    top = core.rooms.top(int_param(p, "num", default=10, nonzero=True))
    items = [{"idx": i, "rid": rid, "total": total} for i, (rid, total) in enumerate(top)]
    return {"len": len(items), "list": items, **OK}


def _group_list(core: Core, p: Params) -> Answer:
    """The room's sub-groups on this node and their session counts."""
    rid = int_param(p, "rid", nonzero=True)
    counts = core.rooms.subgroups(rid)
    items = [{"idx": i, "gid": i, "total": n} for i, n in enumerate(counts)]
    return {"rid": rid, "len": len(items), "list": items, **OK}


QUERY: dict[str, Action] = {"top-list": _top_list, "group-list": _group_list}


async def query(request: web.Request, core: Core) -> Answer:
    params = await params_of(request)
    act: Action = pick(QUERY, params, "option")
    return act(core, params)


# == routes ==============================================================================================
_GET = frozenset({"GET", "POST"})
_POST = frozenset({"POST"})


def routes() -> list[web.RouteDef]:
    table = {"push": endpoint(_POST, push), "config": endpoint(_GET, config), "query": endpoint(_GET, query)}
    return [
        web.route("*", f"{prefix}/{name}", handler)
        for prefix in ("/room", "/im/room")
        for name, handler in table.items()
    ]
