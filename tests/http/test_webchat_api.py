"""The web chat page's files and JSON API over real HTTP (polyim/http/webchat, docs/webchat.md), without a
browser: what is served and with which policy, the login that turns a username into a uid, and the
token-guarded reads — who may read what, and what a bad request gets."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.conftest import Server
from tests.e2e.beehive_pool import http
from tests.e2e.conftest import Omtp, omtp

__all__ = ["omtp"]


def token_for(server: Server, uid: int, password: str = "pw") -> tuple[int, str]:
    """What the page does after its login: a sid from /im/register, a token from /im/iplist."""
    status, reg = http(server, "/im/register", {"uid": uid})
    assert status == 200 and reg["code"] == 0, reg
    status, got = http(
        server, "/im/iplist", form={"type": 2, "uid": uid, "sid": reg["sid"], "password": password}
    )
    assert status == 200 and got["code"] == 0, got
    assert got["list"] == [f"127.0.0.1:{server.beehive_ws}"]  # where the page opens its socket
    return int(reg["sid"]), str(got["token"])


def chat_api(server: Server, path: str, token: str | None, body: Any = None) -> tuple[int, Any]:
    if body is None:
        return http(server, f"/chat/api/{path}", token=token)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http(
        server, f"/chat/api/{path}", method="POST", data=data, token=token, content_type="application/json"
    )


def test_the_page_and_its_files(server: Server) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http}/chat", timeout=10) as resp:
        assert resp.url.endswith("/chat/")  # redirected
        page = resp.read().decode()
        policy = resp.headers["Content-Security-Policy"]
    assert '<script type="module" src="/chat/chat.js"></script>' in page
    assert "script-src 'self'" in policy and "connect-src 'self' ws: wss:" in policy
    for name, kind in (
        ("chat.js", "text/javascript"),
        ("beehive.js", "text/javascript"),
        ("chat.css", "text/css"),
    ):
        with urllib.request.urlopen(f"http://127.0.0.1:{server.http}/chat/{name}", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith(kind) and resp.read()
    for path in ("/chat/nothing.js", "/chat/%2e%2e%2fpolyim.toml", "/chat/__init__.py"):
        assert http(server, path)[0] == 404


def test_login_names_the_user(server: Server) -> None:
    uid, name = server.add_user("wl")
    assert chat_api(server, "login", None, {"username": name, "password": "pw"}) == (
        200,
        {"uid": str(uid), "username": name, "nickname": ""},
    )
    wrong = (401, {"message": "wrong username or password"})
    assert chat_api(server, "login", None, {"username": name, "password": "nope"}) == wrong
    assert chat_api(server, "login", None, {"username": "nobody-at-all", "password": "pw"}) == wrong
    assert chat_api(server, "login", None, {"username": name})[0] == 400
    assert chat_api(server, "login", None, b"username=x&password=y")[0] == 400
    form = http(server, "/chat/api/login", form={"username": name, "password": "pw"})
    assert form[0] == 400  # JSON only: a cross-site form cannot post it
    status, _ = server.api("POST", f"/api/v1/users/{uid}/disable", {})
    assert status == 200
    assert chat_api(server, "login", None, {"username": name, "password": "pw"})[0] == 403


async def test_conversations_history_and_read_marks(server: Server, omtp: Omtp) -> None:
    uid, name = server.add_user("wr")
    other, _ = server.add_user("wx")
    _, token = token_for(server, uid)
    olga = await omtp.user("olga")
    for text in ("first", "second"):
        assert (await olga.send_single(str(uid), text)).ok
    status, group = server.api("POST", "/api/v1/groups", {"name": "quiet", "owner": other, "members": [uid]})
    assert status == 201, group
    gid = group["gid"]

    status, got = chat_api(server, "conversations", token)
    assert status == 200
    by_conv = {c["conv"]: c for c in got["conversations"]}
    assert by_conv[f"p:{olga.uid}"]["name"] == omtp.name_of(olga)
    assert (by_conv[f"p:{olga.uid}"]["last_seq"], by_conv[f"p:{olga.uid}"]["unread"]) == (2, 2)
    assert (by_conv[f"g:{gid}"]["name"], by_conv[f"g:{gid}"]["last_seq"]) == ("quiet", 0)

    status, page = chat_api(server, f"history?conv=p:{olga.uid}", token)
    assert status == 200
    assert [(m["seq"], m["sender"], m["text"]) for m in page["messages"]] == [
        (1, olga.uid, "first"),
        (2, olga.uid, "second"),
    ]
    assert (page["first"], page["upto"]) == (1, 2)
    assert chat_api(server, f"history?conv=p:{olga.uid}&after=1", token)[1]["messages"][0]["text"] == "second"
    assert chat_api(server, f"history?conv=p:{olga.uid}&before=2", token)[1]["messages"][0]["text"] == "first"
    assert chat_api(server, "read", token, {"conv": f"p:{olga.uid}", "seq": 2}) == (
        200,
        {"conv": f"p:{olga.uid}", "read_seq": 2},
    )
    status, got = chat_api(server, "conversations", token)
    assert {c["conv"]: c["unread"] for c in got["conversations"]}[f"p:{olga.uid}"] == 0

    status, found = chat_api(server, f"users?name={omtp.name_of(olga)}&uid={uid}&name=nobody-at-all", token)
    assert status == 200
    assert [u["username"] for u in found["users"]] == [omtp.name_of(olga), name]


async def test_who_may_read_what(server: Server) -> None:
    uid, _ = server.add_user("wa")
    stranger, _ = server.add_user("wb")
    sid, token = token_for(server, uid)
    status, group = server.api("POST", "/api/v1/groups", {"name": "closed", "owner": stranger})
    assert status == 201
    for path in ("conversations", "users?uid=1", f"history?conv=p:{stranger}"):
        assert chat_api(server, path, None)[0] == 401
        assert chat_api(server, path, "not-a-token")[0] == 401
        assert chat_api(server, path, server.admin_token)[0] == 401  # the admin token is no user's
    assert chat_api(server, f"history?conv=g:{group['gid']}", token)[0] == 403
    assert chat_api(server, "read", token, {"conv": f"g:{group['gid']}", "seq": 1})[0] == 403
    for bad in (
        "history?conv=r:5",
        "history?conv=p:0",
        "history?conv=p:x",
        "history?conv=p:1&count=x",
        "users?uid=-1",
    ):
        assert chat_api(server, bad, token)[0] == 400, bad
    assert chat_api(server, "read", token, {"conv": "p:1"})[0] == 400
    # the page's reconnect: /im/iplist takes the token as the password and hands out a fresh one
    status, again = http(server, "/im/iplist", form={"type": 2, "uid": uid, "sid": sid, "password": token})
    assert (status, again["code"], again["list"]) == (200, 0, [f"127.0.0.1:{server.beehive_ws}"])
