"""The web chat page (issue 23 item 2, docs/webchat.md): ``/chat/`` on the ``[http]`` listener.

The page is one more beehive client: it gets a sid from ``/im/register``, a token and the WebSocket
gateway's address from ``/im/iplist`` and speaks beehive's frames on that socket (``static/beehive.js``,
written from beehive.md). This module serves its files from the package (nothing fetched at run time)
and the few things beehive has no frame for, as JSON under ``/chat/api/``:

* ``POST /chat/api/login`` ``{"username","password"}`` → ``{"uid","username","nickname"}``: beehive names
  users by uid, people name themselves by username. The password is checked (and throttled) like every
  login, so the endpoint tells nobody whether a name exists.
* With ``Authorization: Bearer <token from /im/iplist>`` (no cookies, so no cross-site request can use
  it): ``GET conversations`` (the user's 1:1 conversations and groups with their unread counts),
  ``GET users?name=…|uid=…`` (names to uids and back), ``GET history?conv=…&before=…|after=…`` (a
  conversation's stored messages: beehive's SYNC replays only what was not yet delivered, and a
  reconnecting page fills gaps from here) and ``POST read`` ``{"conv","seq"}`` (the read cursor that
  the unread counts are made of).

Ids travel as decimal strings: JavaScript numbers hold integers up to 2^53 only. Rooms have no stored
history for their visitors (rooms.py: only operators read it), so the page shows a room from its join.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from polyim.core.accounts import Credentials
from polyim.core.app import Core
from polyim.core.errors import Code, CoreError
from polyim.core.events import Event, KickReason
from polyim.core.ids import MAX_ID, bad_name
from polyim.core.sessions import Session, Sink
from polyim.http.common import CORE_KEY, json_body
from polyim.model import Account, ConvId, ConvKind, DeviceClass, Message, MsgStatus

log = logging.getLogger(__name__)

PAGE_COUNT = 50  # messages per history page
MAX_COUNT = 200
MAX_LOOKUP = 100  # users per lookup

#: The page's files: name → content type. Only these are served (no path from a request reaches the disk).
FILES = {
    "index.html": "text/html",
    "chat.css": "text/css",
    "chat.js": "text/javascript",
    "beehive.js": "text/javascript",
}
#: Scripts from this origin only; the socket goes to the beehive WebSocket listener, often another port.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)

Api = Callable[[web.Request, Core, int], Awaitable[dict[str, Any]]]


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Reader(Sink):
    """The sink of the page's read-only view: a history read or a read mark never delivers to it."""

    def deliver(self, event: Event) -> None:
        """Never called: the view is not attached to the session registry."""

    def kick(self, reason: KickReason) -> None:
        """Never called, as :meth:`deliver`."""


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _encodable(text: str) -> bool:
    """Whether ``text`` is UTF-8 (JSON may carry a lone surrogate, which nothing downstream can encode)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise Refusal(400, "bad id")
    return int(text)


def conv_of(text: str, uid: int) -> ConvId:
    """``p:<peer uid>`` or ``g:<gid>``, the page's names of a 1:1 conversation and a group."""
    kind, _, ident = text.partition(":")
    if kind == "p":
        return ConvId.peer(uid, _id(ident))
    if kind == "g":
        return ConvId.group(_id(ident))
    raise Refusal(400, "conv must be p:<uid> or g:<gid>")


def conv_name(conv: ConvId, uid: int) -> str:
    return f"p:{conv.peer_of(uid)}" if conv.kind is ConvKind.PEER else f"g:{conv.a}"


def _user(account: Account) -> dict[str, Any]:
    return {"uid": str(account.uid), "username": account.username, "nickname": account.nickname}


def _message(m: Message) -> dict[str, Any]:
    """``device`` and ``client_id`` let the page recognise its own sends (beehive: the sid and the header
    seq) and merge them with what it showed when the ACK came."""
    return {
        "seq": m.seq,
        "sender": str(m.sender),
        "text": m.content,
        "ts_ms": m.ts_ms,
        "device": m.device,
        "client_id": m.client_id,
    }


def _count(request: web.Request) -> int:
    raw = request.query.get("count", str(PAGE_COUNT))
    if not raw.isdigit():
        raise Refusal(400, "bad count")
    return max(1, min(MAX_COUNT, int(raw)))


def _seq(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise Refusal(400, f"bad {name}")
    return int(raw)


# == the endpoints ==========================================================================================
async def login(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    body = await json_body(request) if request.content_type == "application/json" else None
    if body is None:
        return _answer({"message": "a JSON object with username and password"}, 400)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return _answer({"message": "username and password are required"}, 400)
    if bad_name(username) or not _encodable(password):  # a name nobody has; text no hash can take
        return _answer({"message": "wrong username or password"}, 401)
    cred = Credentials(username, None, password, "webchat", request.remote or "")
    try:
        account = await core.accounts.authenticate(cred)
    except CoreError as exc:
        status, message = {
            Code.THROTTLED: (429, "too many failed logins, try again later"),
            Code.DISABLED: (403, "this account is disabled"),
        }.get(exc.code, (401, "wrong username or password"))
        log.info("webchat login refused from %s: %s", request.remote, exc.code.name)
        return _answer({"message": message}, status)
    return _answer(_user(account))


async def conversations(request: web.Request, core: Core, uid: int) -> dict[str, Any]:
    """Newest activity first: the 1:1 conversations that have messages and every group of the user
    (a group without messages yet too)."""
    states = await core.messages.conversations(uid)
    groups = {g.gid: g for g in await core.groups.of_user(uid)}
    peers = {s.conv.key: s.conv.peer_of(uid) for s in states if s.conv.kind is ConvKind.PEER and s.last_seq}
    names = {a.uid: a.username for a in await core.accounts.get_many(list(peers.values()))} if peers else {}
    out = []
    for state in sorted(states, key=lambda s: s.activity_us, reverse=True):
        conv = state.conv
        if conv.kind is ConvKind.GROUP and conv.a in groups:
            name = groups.pop(conv.a).name
        elif peers.get(conv.key) in names:
            name = names[peers[conv.key]]
        else:
            continue
        out.append(_conversation(conv_name(conv, uid), name, state.last_seq, state.unread, state.activity_us))
    out.extend(_conversation(f"g:{g.gid}", g.name, 0, 0, g.created_ms * 1000) for g in groups.values())
    return {"conversations": out}


def _conversation(conv: str, name: str, last_seq: int, unread: int, activity_us: int) -> dict[str, Any]:
    return {
        "conv": conv,
        "name": name,
        "last_seq": last_seq,
        "unread": unread,
        "activity_ms": activity_us // 1000,
    }


async def users(request: web.Request, core: Core, uid: int) -> dict[str, Any]:
    found: list[Account] = []
    for name in request.query.getall("name", [])[:MAX_LOOKUP]:
        if bad_name(name):
            raise Refusal(400, "bad name")
        account = await core.accounts.by_name(name)
        if account is not None and not account.disabled:
            found.append(account)
    uids = [_id(u) for u in request.query.getall("uid", [])[:MAX_LOOKUP]]
    if uids:
        found.extend(await core.accounts.get_many(uids))
    return {"users": [_user(a) for a in found]}


async def history(request: web.Request, core: Core, uid: int) -> dict[str, Any]:
    """Oldest first. ``after``: the messages after a seq (a gap after a reconnect); else the page before
    ``before`` (0 or absent: the newest). Recalled and deleted messages are left out, and ``first`` /
    ``upto`` say which seqs the answer covered, so the page never asks for them again."""
    conv = conv_of(request.query.get("conv", ""), uid)
    count = _count(request)
    view = _view(request, uid)
    after = _seq(request, "after")
    if after is not None:
        found = await core.messages.since(view, conv, after, count)
    else:
        found = list(reversed(await core.messages.history(view, conv, _seq(request, "before") or 0, count)))
    shown = [m for m in found if m.status not in (MsgStatus.RECALLED, MsgStatus.DELETED)]
    return {
        "conv": conv_name(conv, uid),
        "messages": [_message(m) for m in shown],
        # the seqs the answer covers, hidden messages included: the page pages and fills gaps by them
        "first": found[0].seq if found else 0,
        "upto": found[-1].seq if found else (after or 0),
    }


async def read(request: web.Request, core: Core, uid: int) -> dict[str, Any]:
    body = await json_body(request)
    if body is None or not isinstance(body.get("conv"), str) or not isinstance(body.get("seq"), int):
        raise Refusal(400, "a JSON object with conv and seq")
    conv = conv_of(body["conv"], uid)
    seq = await core.messages.mark_read(_view(request, uid), conv, max(0, body["seq"]))
    return {"conv": conv_name(conv, uid), "read_seq": seq}


def _view(request: web.Request, uid: int) -> Session:
    """The requester as the core's access checks see a user: never an operator here, so the page reads
    only conversations its user takes part in."""
    return Session(uid, "webchat", DeviceClass.WEB, "beehive", _Reader(), peer_addr=request.remote or "")


def _with_token(api: Api) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The endpoint behind the beehive token the page got from ``/im/iplist`` (401 without a valid one)."""

    async def guarded(request: web.Request) -> web.Response:
        core = request.app[CORE_KEY]
        header = request.headers.get("Authorization", "")
        uid = core.accounts.token_uid(header[7:]) if header.startswith("Bearer ") else None
        account = await core.accounts.get(uid) if uid is not None else None
        if account is None or account.disabled:
            return _answer({"message": "log in again"}, 401)
        try:
            return _answer(await api(request, core, account.uid))
        except Refusal as exc:
            return _answer({"message": exc.message}, exc.status)
        except CoreError as exc:
            status = 403 if exc.code in (Code.NOT_PARTICIPANT, Code.FORBIDDEN) else 400
            return _answer({"message": str(exc)}, status)

    return guarded


# == the files ==============================================================================================
def _load() -> dict[str, bytes]:
    folder = resources.files(__name__) / "static"
    return {name: (folder / name).read_bytes() for name in FILES}


def routes() -> list[web.RouteDef]:
    files = _load()

    async def page(request: web.Request) -> web.Response:
        name = request.match_info.get("name") or "index.html"
        if name not in files:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if name == "index.html":
            headers["Content-Security-Policy"] = POLICY
        return web.Response(body=files[name], content_type=FILES[name], charset="utf-8", headers=headers)

    async def slash(request: web.Request) -> web.Response:
        raise web.HTTPFound("/chat/")

    return [
        web.get("/chat", slash),
        web.get("/chat/", page),
        web.get("/chat/{name}", page),
        web.post("/chat/api/login", login),
        web.get("/chat/api/conversations", _with_token(conversations)),
        web.get("/chat/api/users", _with_token(users)),
        web.get("/chat/api/history", _with_token(history)),
        web.post("/chat/api/read", _with_token(read)),
    ]
