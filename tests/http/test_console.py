"""The web console's page and login over real HTTP (the browser's own view is tests/http/test_console_browser.py):
the token is asked for once and refused when wrong, the session cookie is HttpOnly and SameSite=Strict,
the admin API admits the cookie only with the session's CSRF token and from the console's own origin,
and the page is the package's own files under a policy that forbids anything else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from polyim.config import load
from polyim.http.console.api import SAMPLE_S, Rates
from polyim.protocols.registry import sections
from polyim.server import Node
from tests.clients.omtp import OmtpClient
from tests.conftest import write_config

TOKEN = "test-admin-token"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """A fresh node in this process (its own login throttle) serving every protocol on real ports."""
    node = Node(load(str(write_config(tmp_path)), sections()))
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


def port_of(node: Node, protocol: str) -> int:
    return next(x.port for x in node.listeners if x.protocol == protocol)


@pytest.fixture
def base(node: Node) -> str:
    return f"http://127.0.0.1:{port_of(node, 'http')}"


async def login(http: aiohttp.ClientSession, base: str) -> tuple[str, str]:
    """Log in from the console's own origin; returns (the CSRF token, the Set-Cookie header)."""
    async with http.post("/console/login", json={"token": TOKEN}, headers={"Origin": base}) as resp:
        assert resp.status == 200
        return (await resp.json())["csrf"], resp.headers["Set-Cookie"]


async def test_the_page_is_the_packages_own_under_a_strict_policy(base: str) -> None:
    async with aiohttp.ClientSession(base) as http:
        async with http.get("/console", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/console/"
        async with http.get("/console/") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            page = await resp.text()
            policy = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
        for asset, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
            assert f'"/console/{asset}"' in page
            async with http.get(f"/console/{asset}") as resp:
                assert resp.status == 200 and resp.content_type == kind


async def test_a_wrong_or_missing_token_is_refused_and_throttled(base: str) -> None:
    origin = {"Origin": base}
    async with aiohttp.ClientSession(base) as http:
        async with http.post("/console/login", json={}, headers=origin) as resp:
            assert resp.status == 400
        async with http.post(
            "/console/login", json={"token": TOKEN}, headers={"Origin": "http://evil.test"}
        ) as resp:
            assert resp.status == 403  # even the right token, from another page
        async with http.post("/console/login", json={"token": TOKEN}) as resp:
            assert resp.status == 403  # a login names its page
        for _ in range(5):
            async with http.post("/console/login", json={"token": "wrong"}, headers=origin) as resp:
                assert resp.status == 401 and "Set-Cookie" not in resp.headers
        async with http.post("/console/login", json={"token": TOKEN}, headers=origin) as resp:
            assert resp.status == 429  # locked out for a while, right token or not
        async with http.get("/console/session") as resp:
            assert resp.status == 401
        async with http.get("/api/v1/stats") as resp:
            assert resp.status == 401


async def test_the_cookie_admits_api_calls_only_with_its_csrf_token_from_its_origin(base: str) -> None:
    async with aiohttp.ClientSession(base, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf, cookie = await login(http, base)
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "samesite", "max-age", "path"} <= attributes and "SameSite=Strict" in cookie
        assert TOKEN not in cookie
        async with http.get("/console/session") as resp:
            assert resp.status == 200 and (await resp.json())["csrf"] == csrf  # a reloaded page's

        header = {"X-CSRF-Token": csrf}
        async with http.get("/api/v1/stats") as resp:
            assert resp.status == 401  # the cookie alone is not enough
        async with http.get("/api/v1/stats", headers={"X-CSRF-Token": "forged"}) as resp:
            assert resp.status == 401
        async with http.get("/api/v1/stats", headers=header) as resp:
            assert resp.status == 200

        user = {"username": "via_console", "password": "pw"}
        for origin in ({}, {"Origin": "http://127.0.0.1:1"}, {"Referer": "http://evil.test/console/"}):
            async with http.post("/api/v1/users", json=user, headers={**header, **origin}) as resp:
                assert resp.status == 401, origin  # a change must name the console's own origin
        async with http.post("/api/v1/users", json=user, headers={**header, "Origin": base}) as resp:
            assert resp.status == 201
        async with http.post("/api/v1/push/user", json={"uid": 1, "text": "x"}, headers=header) as resp:
            assert resp.status == 401  # the push API shares the one check

        async with http.post("/console/logout", headers={**header, "Origin": base}) as resp:
            assert resp.status == 200
        async with http.get("/api/v1/stats", headers=header) as resp:
            assert resp.status == 401  # the login is gone on the server, whatever the browser kept


async def test_stats_count_sessions_per_node_and_protocol(node: Node, base: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(base, headers=headers) as http:
        async with http.post("/api/v1/users", json={"username": "statsy", "password": "pw"}) as resp:
            assert resp.status == 201
        client = await OmtpClient.connect("127.0.0.1", port_of(node, "omtp"))
        assert (await client.login(user_name="statsy", password="pw"))[0] == 0
        async with http.get("/api/v1/stats") as resp:
            stats = await resp.json()
        await client.close()
    omtp = next(x for x in stats["nodes"] if x["protocol"] == "omtp")
    assert omtp == {"node": stats["node"], "protocol": "omtp", "connections": 1, "sessions": 1}
    assert stats["sessions"] == 1 and stats["users_online"] == 1
    assert stats["rates"]["interval"] == SAMPLE_S and {"messages", "deliveries"} <= stats["rates"].keys()


def test_rates_are_per_second_between_samples() -> None:
    now, total = [100.0], {"messages": 0}
    rates = Rates(lambda: dict(total), clock=lambda: now[0])
    rates.sample()
    for step in (10, 30, 0):
        now[0] += 2
        total["messages"] += step
        rates.sample()
    series = rates.series()
    assert series["messages"] == [5.0, 15.0, 0.0]
    assert series["t_ms"] == [102_000, 104_000, 106_000]
