"""beehive's HTTP API (beehive.md §6.1–§6.5): ``/im/register``, ``/im/iplist``, ``/im/query``,
``/im/config``, ``/im/push`` and ``/im/group/config``. The room endpoints (§6.6) are in :mod:`http_rooms`,
whose conventions these share: HTTP 200 with compact JSON in the documented key order, errors as
``{"code":N,"errmsg":"…"}``, HTTP 405 for a wrong method, GET parameters also accepted as a form body.

``/im/register`` and ``/im/iplist`` are public; the others are operator endpoints (admin token).
``/im/iplist`` authenticates its caller, by the account password or the admin token of a trusted app
server, before it hands out a token (design.md §7); ``[beehive] iplist_without_auth`` relaxes that for
the unmodified original C SDK, at the risk its docstring and §6.2 describe.

Decisions where the page is silent:

* ``/im/register`` also refuses more than :data:`REGISTER_PER_ADDR` sids per address and hour (10022).
* ``/im/config?option=user-statis``: ``del`` or ``get`` of a ``prec`` never added → 20007; ``add`` of an
  existing ``prec`` changes its ``num`` and keeps its samples; the first sample is taken at ``add``.
* ``/im/push?dim=sid`` of a sid never bound → 20007; ``dim=uid`` and ``dim=group`` pushes are not stored
  (only ``/api/v1/push/user`` stores, when asked).
* ``/im/group/config?option=capacity&action=set`` may go below the member count: nobody is removed, joins
  are refused until the group is below the limit.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from polyim.config import Settings
from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.devices import DeviceInfo
from polyim.core.errors import Code, CoreError
from polyim.http.common import is_admin, read_at_most
from polyim.protocols.beehive import http_rooms
from polyim.protocols.beehive.http_rooms import (
    OK,
    Action,
    Answer,
    ParamError,
    Params,
    endpoint,
    int_param,
    params_of,
    pick,
    text_param,
)
from polyim.protocols.beehive.nodes import TYPE_TCP, TYPE_WS, WILDCARDS, frwd_records, ipv4_of, lsnd_records
from polyim.protocols.beehive.settings import BeehiveSettings

log = logging.getLogger(__name__)

PROTOCOL = "beehive"
OK_UPPER: Answer = {"code": 0, "errmsg": "OK"}  # register, iplist and push say "OK" (§6)
SIDS_PER_UID_HOUR = 20
REGISTER_PER_ADDR = 200
MAX_LOCATION = 1 << 32  # nation, city, town: stored numbers


class Window:
    """At most ``limit`` hits per key in the last ``span`` seconds."""

    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> bool:
        current = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= current - self.span:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(current)
        return True


# == online-user statistics (§6.4 user-statis) ==============================================================
@dataclass
class Sampler:
    prec: int
    num: int
    due: float = 0.0
    samples: deque[tuple[int, int]] = field(default_factory=deque)  # (unix time, users), oldest first


class UserStats:
    """Samples of the number of online users (any protocol), one series per ``prec`` (seconds)."""

    def __init__(self) -> None:
        self.samplers: dict[int, Sampler] = {}
        self._ticking = False

    def add(self, core: Core, prec: int, num: int) -> None:
        sampler = self.samplers.get(prec)
        if sampler is None:
            sampler = self.samplers[prec] = Sampler(prec, num)
            self._sample(core, sampler, time.monotonic())
        sampler.num = num
        while len(sampler.samples) > num:
            sampler.samples.popleft()
        if not self._ticking:
            self._ticking = True
            core.nodes.every(1.0, lambda: self.tick(core))

    def tick(self, core: Core) -> None:
        now = time.monotonic()
        for sampler in self.samplers.values():
            if now >= sampler.due:
                self._sample(core, sampler, now)

    @staticmethod
    def _sample(core: Core, sampler: Sampler, now: float) -> None:
        sampler.samples.append((int(time.time()), core.sessions.users()))
        while len(sampler.samples) > sampler.num:
            sampler.samples.popleft()
        sampler.due = now + sampler.prec

    def require(self, prec: int) -> Sampler:
        sampler = self.samplers.get(prec)
        if sampler is None:
            raise ParamError(20007, "Param is invalid!")
        return sampler


GroupAction = Callable[[Core, int, Params], Awaitable[Answer]]
PushTarget = Callable[[Core, Params, bytes], Awaitable[Answer]]


# == the endpoints ==========================================================================================
class ImApi:
    def __init__(self, cfg: BeehiveSettings) -> None:
        self.cfg = cfg
        self.stats = UserStats()
        self.registers = Window(REGISTER_PER_ADDR, 3600.0)

    # -- /im/register (§6.1) -----------------------------------------------------------------------------
    async def register(self, request: web.Request, core: Core) -> Answer:
        if not core.settings.allow_register:
            raise ParamError(10005, "Permission denied!")
        p = await params_of(request)
        uid = int_param(p, "uid", nonzero=True)
        where = [int_param(p, name, default=0) for name in ("nation", "city", "town")]
        if any(v >= MAX_LOCATION for v in where):
            raise ParamError(20007, "Param is invalid!")
        if await core.accounts.get(uid) is None:
            raise ParamError(10013, "User isn't exist!")
        since = core.clock.now_ms() - 3600_000
        if await core.devices.registered_since(uid, since) >= SIDS_PER_UID_HOUR or not self.registers.hit(
            request.remote or ""
        ):
            raise ParamError(10022, "Too many requests!")
        sid = await core.devices.register(uid, DeviceInfo(*where))
        nation, city, town = where
        return {"uid": uid, "sid": sid, "nation": nation, "city": city, "town": town, **OK_UPPER}

    # -- /im/iplist (§6.2) -------------------------------------------------------------------------------
    async def iplist(self, request: web.Request, core: Core) -> Answer:
        p = await params_of(request)
        kind = int_param(p, "type")
        if kind not in (TYPE_TCP, TYPE_WS):
            raise ParamError(20007, "Param is invalid!")
        uid = int_param(p, "uid", nonzero=True)
        sid = int_param(p, "sid", nonzero=True)
        addr = request.remote or ""
        if p.get("clientip"):
            log.info("beehive iplist uid %d sid %d from %s (clientip %s)", uid, sid, addr, p["clientip"])
        await self._authorize(request, core, p, uid, sid, addr)
        gateway = await self._gateway(request, core, kind)
        try:
            await core.devices.bind(sid, uid)
        except CoreError as exc:
            raise ParamError(20009, "Sid is collision!") from exc
        ttl = self.cfg.token_ttl
        token = core.accounts.issue_token(uid, str(sid), ttl)
        return {
            "uid": uid,
            "sid": sid,
            "type": kind,
            "token": token,
            "expire": ttl,
            "len": 1,
            "list": [gateway],
            **OK_UPPER,
        }

    async def _authorize(
        self, request: web.Request, core: Core, p: Params, uid: int, sid: int, addr: str
    ) -> None:
        """The admin token (a trusted app server), else the password, else — only with the compatibility
        switch on — nothing but an existing, enabled uid."""
        password = p.get("password", "")
        if password and not is_admin(request):
            try:
                await core.accounts.authenticate(Credentials("", uid, password, str(sid), addr))
            except CoreError as exc:
                if exc.code is Code.THROTTLED:
                    by_addr = await core.accounts.locked_out(uid, addr) == "address"
                    raise ParamError(10022 if by_addr else 10023, "Too many failures!") from exc
                if exc.code is Code.DISABLED:
                    raise ParamError(10013, "User is disabled!") from exc
                raise ParamError(20008, "Auth failed!") from exc
            return
        if not (is_admin(request) or self.cfg.iplist_without_auth):
            raise ParamError(20008, "Auth failed!")
        account = await core.accounts.get(uid)
        if account is None or account.disabled:
            raise ParamError(10013, "User is disabled!" if account else "User isn't exist!")

    @staticmethod
    async def _gateway(request: web.Request, core: Core, kind: int) -> str:
        """The least-loaded live listener of ``kind`` among the node records (design.md §6)."""
        live = [m for m, alive in lsnd_records(core) if alive and m.type == kind]
        if not live:
            raise ParamError(10002, "Get ip list failed!")
        best = min(live, key=lambda m: (m.connections, m.nid))
        host = str(best.ip)
        if host in WILDCARDS:
            host = request.url.host or "127.0.0.1"
        if kind == TYPE_TCP:
            resolved = await ipv4_of(host)
            if resolved is None:
                raise ParamError(10002, "Get ip list failed!")
            host = resolved
        elif ":" in host:
            host = f"[{host}]"
        return f"{host}:{best.port}"

    # -- /im/query (§6.3) --------------------------------------------------------------------------------
    async def query(self, request: web.Request, core: Core) -> Answer:
        p = await params_of(request)
        if text_param(p, "option") != "sid-list":
            raise ParamError(10020, "Unknown option!")
        uid = int_param(p, "uid", nonzero=True)
        sids = [int(s.device_id) for s in core.sessions.records(uid) if s.protocol == PROTOCOL]
        items = [{"idx": i, "sid": sid} for i, sid in enumerate(sids)]
        return {"uid": uid, "len": len(items), "list": items, **OK}

    # -- /im/config (§6.4) -------------------------------------------------------------------------------
    async def config(self, request: web.Request, core: Core) -> Answer:
        p = await params_of(request)
        table: dict[str, dict[str, Action]] = {
            "user-statis": {
                "add": self._stat_add,
                "del": self._stat_del,
                "list": self._stat_list,
                "get": self._stat_get,
            },
            "listend": {"list": _listend},
            "frwder": {"list": _frwder},
        }
        actions: dict[str, Action] = pick(table, p, "option")
        act: Action = pick(actions, p, "action")
        return act(core, p)

    def _stat_add(self, core: Core, p: Params) -> Answer:
        self.stats.add(core, int_param(p, "prec", nonzero=True), int_param(p, "num", nonzero=True))
        return OK

    def _stat_del(self, core: Core, p: Params) -> Answer:
        sampler = self.stats.require(int_param(p, "prec", nonzero=True))
        del self.stats.samplers[sampler.prec]
        return OK

    def _stat_list(self, core: Core, p: Params) -> Answer:
        items = [{"idx": i, "prec": s.prec, "num": s.num} for i, s in enumerate(self.stats.samplers.values())]
        return {"len": len(items), "list": items, **OK}

    def _stat_get(self, core: Core, p: Params) -> Answer:
        sampler = self.stats.require(int_param(p, "prec", nonzero=True))
        newest = list(reversed(sampler.samples))[: int_param(p, "num", default=sampler.num, nonzero=True)]
        items = [
            {
                "idx": i,
                "time": at,
                "time-str": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)),
                "num": users,
            }
            for i, (at, users) in enumerate(newest)
        ]
        return {"prec": sampler.prec, "num": len(items), "list": items, **OK}

    # -- /im/push (§6.4) ---------------------------------------------------------------------------------
    async def push(self, request: web.Request, core: Core) -> Answer:
        q = request.query
        dim = text_param(q, "dim")
        if dim == "room":
            return await http_rooms.push(request, core)
        target = _PUSH_TARGETS.get(dim)
        if target is None:
            raise ParamError(20007, "Param is invalid!")
        data = await read_at_most(request, http_rooms.MAX_PUSH)
        if len(data) > http_rooms.MAX_PUSH:
            raise ParamError(10018, "Body over limit!")
        return await target(core, q, data)

    # -- /im/group/config (§6.5) -------------------------------------------------------------------------
    async def group_config(self, request: web.Request, core: Core) -> Answer:
        p = await params_of(request)
        table: dict[str, dict[str, GroupAction]] = {
            "blacklist": {"get": _bl_get, "add": _bl_set(True), "del": _bl_set(False)},
            "gag": {"get": _gag_get, "add": _gag_set(True), "del": _gag_set(False)},
            "switch": {"on": _switch(False), "off": _switch(True)},
            "capacity": {"set": _cap_set, "get": _cap_get},
            "cap": {"set": _cap_set, "get": _cap_get},
        }
        actions: dict[str, GroupAction] = pick(table, p, "option")
        act: GroupAction = pick(actions, p, "action")
        gid = int_param(p, "gid", nonzero=True)
        await core.groups.get(gid)  # unknown or dismissed → 20007 "Group isn't exist!"
        return await act(core, gid, p)


# == /im/config listend and frwder ==========================================================================
def _listend(core: Core, p: Params) -> Answer:
    items = [
        {
            "idx": i,
            "nid": m.nid,
            "type": m.type,
            "ipaddr": f"{m.ip}:{m.port}",
            "status": int(alive),
            "total": m.connections,
        }
        for i, (m, alive) in enumerate(lsnd_records(core))
    ]
    return {"len": len(items), "list": items, **OK}


def _frwder(core: Core, p: Params) -> Answer:
    items = [
        {
            "idx": i,
            "nid": m.nid,
            "ipaddr": m.ip,
            "fwd-port": m.forward_port,
            "bc-port": m.backend_port,
            "status": int(alive),
        }
        for i, (m, alive) in enumerate(frwd_records(core))
    ]
    return {"len": len(items), "list": items, **OK}


# == /im/push targets =======================================================================================
async def _push_broadcast(core: Core, q: Params, data: bytes) -> Answer:
    return {"msgid": core.push.broadcast(data).msgid, **OK_UPPER}


async def _push_app(core: Core, q: Params, data: bytes) -> Answer:
    result = core.push.broadcast(data, app=text_param(q, "appid"), version=q.get("version", ""))
    return {"msgid": result.msgid, **OK_UPPER}


async def _push_uid(core: Core, q: Params, data: bytes) -> Answer:
    uid = int_param(q, "uid", nonzero=True)
    return {"uid": uid, "msgid": (await core.push.to_user(uid, data)).msgid, **OK_UPPER}


async def _push_sid(core: Core, q: Params, data: bytes) -> Answer:
    sid = int_param(q, "sid", nonzero=True)
    owner = await core.devices.owner(sid)
    if owner is None:
        raise ParamError(20007, "Param is invalid!")
    return {"msgid": core.push.to_device(owner, str(sid), data, PROTOCOL).msgid, **OK_UPPER}


async def _push_group(core: Core, q: Params, data: bytes) -> Answer:
    gid = int_param(q, "gid", nonzero=True)
    return {"gid": gid, "msgid": (await core.push.to_group(gid, data)).msgid, **OK_UPPER}


_PUSH_TARGETS: dict[str, PushTarget] = {
    "broadcast": _push_broadcast,
    "appid": _push_app,
    "uid": _push_uid,
    "sid": _push_sid,
    "group": _push_group,
}


# == /im/group/config actions ===============================================================================
def _uid_list(uids: list[int]) -> Answer:
    items = [{"idx": i, "uid": uid} for i, uid in enumerate(uids)]
    return {"len": len(items), "list": items, **OK}


async def _bl_get(core: Core, gid: int, p: Params) -> Answer:
    return _uid_list(sorted(await core.groups.blacklist(gid)))


def _bl_set(listed: bool) -> GroupAction:
    async def act(core: Core, gid: int, p: Params) -> Answer:
        """As GROUP-BL-ADD / -DEL, by an operator: removal and NTFs included."""
        await core.groups.set_blacklisted(None, gid, int_param(p, "uid", nonzero=True), listed)
        return OK

    return act


async def _gag_get(core: Core, gid: int, p: Params) -> Answer:
    mute_all, muted = await core.groups.muted(gid)
    return _uid_list(([0] if mute_all else []) + muted)


def _gag_set(muted: bool) -> GroupAction:
    async def act(core: Core, gid: int, p: Params) -> Answer:
        """As GROUP-GAG-ADD / -DEL, by an operator; uid 0 = mute-all (§10 #8)."""
        uid = int_param(p, "uid")
        await core.groups.set_muted(None, gid, uid or None, muted)
        return OK

    return act


def _switch(closed: bool) -> GroupAction:
    async def act(core: Core, gid: int, p: Params) -> Answer:
        await core.groups.configure(gid, closed=closed)
        return OK

    return act


async def _cap_set(core: Core, gid: int, p: Params) -> Answer:
    await core.groups.configure(gid, member_limit=int_param(p, "cap", nonzero=True))
    return OK


async def _cap_get(core: Core, gid: int, p: Params) -> Answer:
    return {"gid": gid, "cap": (await core.groups.get(gid)).member_limit, **OK}


# == routes =================================================================================================
_GET = frozenset({"GET", "POST"})
_POST = frozenset({"POST"})


def routes(settings: Settings) -> list[web.RouteDef]:
    api = ImApi(settings.protocol("beehive", BeehiveSettings))
    return [
        web.route("*", "/im/register", endpoint(_GET, api.register, admin=False)),
        web.route("*", "/im/iplist", endpoint(_GET, api.iplist, admin=False)),
        web.route("*", "/im/query", endpoint(_GET, api.query)),
        web.route("*", "/im/config", endpoint(_GET, api.config)),
        web.route("*", "/im/push", endpoint(_POST, api.push)),
        web.route("*", "/im/group/config", endpoint(_GET, api.group_config)),
    ]
