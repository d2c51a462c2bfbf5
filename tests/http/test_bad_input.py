"""Every HTTP route answers bad input with a 4xx, never a 500 (issue 16): the walk takes the routes the
running server registered, so a route added later is walked too."""

from __future__ import annotations

import json
import random
import re
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from polyim.config import load
from polyim.protocols.registry import sections
from polyim.server import Node
from tests.conftest import Server, write_config
from tests.e2e.beehive_pool import http

TOKEN = "test-admin-token"
# Numbers no id can be, the wrong types, strings the store cannot hold or should not.
BAD_VALUES: list[Any] = [
    -1,
    2**63,
    2**64 - 1,
    2**65,
    -(2**64),
    1.5,
    True,
    "x",
    "\ud800",
    "a\x00b",
    "x" * 70_000,
    [],
    {"a": 1},
]
BAD_TEXTS = ["9223372036854775808", "18446744073709551616", "-1", "x", "a\x00b", "\udcff", "9" * 400]
# Every field an endpoint reads (admin API, pushes, beehive and OMTP endpoints), with a value that passes
# its own check, so that a request reaches the checks behind it; ids are filled in from the set-up.
VALID: dict[str, Any] = {
    "uid": 0,
    "uids": [],
    "gid": 0,
    "rid": 0,
    "sid": 1,
    "owner": 0,
    "username": "walker",
    "password": "pw",
    "nickname": "Walker",
    "email": "w@example.com",
    "name": "walkers",
    "desc": "a group",
    "text": "hello",
    "data": "aGVsbG8=",
    "expire": 60,
    "ttl": 60,
    "device": "d1",
    "type": 1,
    "nation": 1,
    "city": 1,
    "town": 1,
    "cap": 10,
    "prec": 5,
    "num": 3,
    "dim": "uid",
    "option": "capacity",
    "action": "get",
    "store": True,
    "capacity": 10,
    "operator": False,
    "disabled": False,
    "clientip": "127.0.0.1",
    "traceId": "t1",
    "appId": "app",
    "from": "",
    "to": "",
    "userId": "",
    "friendId": "",
    "users": [],
    "sessionId": "",
    "content": "hello",
    "contentType": 0,
    "command": 1,
    "pushTitle": "title",
}
COMBOS = 60  # random mixes of absent, valid and bad fields per route and form (seeded)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[Node, str]]:
    settings = load(str(write_config(tmp_path)), sections())
    node = Node(settings)
    await node.start()
    port = next(x.port for x in node.listeners if x.protocol == "http")
    try:
        yield node, f"http://127.0.0.1:{port}"
    finally:
        await node.stop()


def _routes(node: Node) -> list[tuple[str, str]]:
    assert node.http_app is not None
    out = []
    for route in node.http_app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path:
            out.append((route.method, path))
    return out


def _paths(template: str) -> Iterator[str]:
    """The template with each path parameter set to each bad text (and to a plausible id)."""
    params = re.findall(r"\{(\w+)\}", template)
    if not params:
        yield template
        return
    for text in [*BAD_TEXTS, "10000"]:
        path = template
        for p in params:
            path = path.replace("{" + p + "}", _quote(text))
        yield path


def _quote(text: str) -> str:
    """Percent-encoded as sent by a client that does not care: a lone surrogate as its 3 UTF-8-like
    bytes (not valid UTF-8), which no well-behaved client library would produce."""
    return urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe="")


async def _check(
    http: aiohttp.ClientSession, method: str, url: str, *, params: dict[str, str] | None = None, **kw: Any
) -> None:
    target = URL(url, encoded=True)
    if params is not None:
        query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params.items())
        target = URL(f"{url}?{query}", encoded=True)
    async with http.request(method, target, **kw) as resp:
        body = await resp.read()
        assert resp.status < 500, (method, str(target), kw, resp.status, body[:300])
        if resp.status >= 400 and resp.content_type == "application/json":
            json.loads(body)


def _mix(rng: random.Random, valid: dict[str, Any], bad: list[Any]) -> dict[str, Any]:
    """Each field absent, valid or bad, at random; at least one bad."""
    out: dict[str, Any] = {}
    for name, good in valid.items():
        roll = rng.random()
        if roll < 0.4:
            out[name] = good
        elif roll < 0.6:
            out[name] = rng.choice(bad)
    name = rng.choice(list(valid))
    out[name] = rng.choice(bad)
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def _setup(base: str, http: aiohttp.ClientSession) -> dict[str, Any]:
    """A user, a group and a room for the valid values, so that requests get past "no such id"."""
    async with http.post(f"{base}/api/v1/users", json={"username": "owner1", "password": "pw"}) as resp:
        uid = (await resp.json())["uid"]
    async with http.post(f"{base}/api/v1/groups", json={"name": "g1", "owner": uid}) as resp:
        gid = (await resp.json()).get("gid", 0)
    async with http.post(f"{base}/api/v1/rooms", json={"owner": uid}) as resp:
        rid = (await resp.json()).get("rid", 0)
    ids = {"uid": uid, "uids": [uid], "gid": gid, "rid": rid, "owner": uid, "users": [str(uid)]}
    text = {name: str(uid) for name in ("from", "to", "userId", "friendId")}
    return {**VALID, **ids, **text}


async def test_every_route_answers_bad_input_with_a_4xx(node: tuple[Node, str]) -> None:
    server, base = node
    routes = _routes(server)
    assert len(routes) >= 20, routes
    rng = random.Random(16)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        valid = await _setup(base, http)
        texts = {k: _text(v) for k, v in valid.items()}
        for method, template in routes:
            verb = "POST" if method in ("*", "HEAD") else method
            for path in _paths(template):
                await _check(http, verb, base + path, json={})
            url = base + template.replace("{", "").replace("}", "")
            url = re.sub(r"/(uid|gid|rid)\b", lambda m: f"/{valid[m.group(1)]}", url)
            for _ in range(COMBOS):
                await _check(http, verb, url, json=_mix(rng, valid, BAD_VALUES))
                await _check(http, verb, url, params=_mix(rng, texts, BAD_TEXTS))


# -- the findings of issue 16, one by one ---------------------------------------------------------------
def test_ids_past_2_63_are_answered_not_a_500(server: Server) -> None:
    """/im/register, /im/iplist and /api/v1/push/user with ids no account can have (they were a 500)."""
    for uid in (2**63, 2**64 - 1):
        status, body = http(server, "/im/register", {"uid": uid})
        assert (status, body["code"]) == (200, 20007), body
        status, body = http(server, "/im/iplist", {"type": 1, "uid": uid, "sid": 1, "password": "x"})
        assert (status, body["code"]) == (200, 20007), body
        status, body = http(server, "/im/iplist", {"type": 1, "uid": 10000, "sid": uid, "password": "x"})
        assert (status, body["code"]) == (200, 20007), body
        status, body = server.api("POST", "/api/v1/push/user", {"uid": uid, "text": "hi"})
        assert status == 400 and body["code"] == 20007, body


def test_names_with_control_characters_or_lone_surrogates_are_refused(server: Server) -> None:
    """One rule for usernames, nicknames, group and room names: no control character (NUL included),
    no unpaired surrogate; a lone surrogate was a 500 and a NUL byte was accepted."""
    uid, _ = server.add_user("namer")
    for bad in ("\ud800", "a\x00b", "tab\there", "new\nline", "del\x7f"):
        status, _ = server.api("POST", "/api/v1/users", {"username": bad, "password": "pw"})
        assert status == 400, bad
        status, _ = server.api(
            "POST", "/api/v1/users", {"username": "nick_ok", "password": "pw", "nickname": bad}
        )
        assert status == 400, bad
        status, _ = server.api("POST", "/api/v1/groups", {"name": bad, "owner": uid})
        assert status == 400, bad
        status, _ = server.api("POST", "/api/v1/rooms", {"name": bad, "owner": uid})
        assert status == 400, bad
    assert server.api("POST", "/api/v1/groups", {"name": "good group", "owner": uid})[0] == 201
    assert server.api("POST", "/api/v1/rooms", {"name": "good room", "owner": uid})[0] == 201
    status, body = server.api("POST", "/api/v1/users", {"username": "O'Brien", "password": "pw"})
    assert status == 201 and body["username"] == "O'Brien"
    status, body = server.api(
        "POST", "/api/v1/users", {"username": "名前", "password": "pw", "nickname": "🙂"}
    )
    assert status == 201 and body["nickname"] == "🙂"
