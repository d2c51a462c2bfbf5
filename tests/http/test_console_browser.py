"""The web console in a real headless Chromium against a real ``polyim serve``, with an OMTP test client
on its own socket: log in, watch a connection appear, kick it, push to a user, disable them; and the
refusals: no or a wrong admin token, and a page of another origin trying the logged-in console's
cookie. Each test is one browser launch (the CI budget), so each walks several steps."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.browser import screenshot
from tests.clients import beehive as b
from tests.clients.omtp import PT, OmtpClient
from tests.conftest import Server
from tests.e2e.beehive_pool import Beehive, beehive

__all__ = ["beehive"]  # a fixture
pytestmark = pytest.mark.browser


def console_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.http}/console/"


async def log_in(page: Page, server: Server, token: str) -> None:
    await page.goto(console_url(server))
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")


async def omtp_login(server: Server, name: str) -> OmtpClient:
    client = await OmtpClient.connect("127.0.0.1", server.omtp)
    code, _ = await client.login(user_name=name, password="pw")
    assert code == 0
    return client


async def confirm(page: Page, text: str = "") -> None:
    """Answer the console's confirmation: it must be asked before anything is done."""
    await expect(page.locator("#confirm")).to_be_visible()
    if text:
        await page.fill("#confirm-input", text)
    await page.click("#confirm-ok")


async def test_console_shows_kicks_and_pushes_live(server: Server, page: Page, beehive: Beehive) -> None:
    uid, name = server.add_user("ann")
    peer, _ = server.add_user("ben")
    await log_in(page, server, "not-the-token")
    await expect(page.locator("#login-error")).to_contain_text("wrong admin token")
    await log_in(page, server, server.admin_token)
    await expect(page.locator("#app")).to_be_visible()
    assert server.admin_token not in page.url

    # a connection appears in the live view by itself; messages make the rate chart move
    inside = await beehive.login(peer)  # the messages' recipient, online on beehive
    client = await omtp_login(server, name)
    omtp_cells = page.locator("#nodes-table tr", has_text="omtp").locator("td")
    await expect(omtp_cells.nth(2)).to_have_text("1")  # connections
    await expect(omtp_cells.nth(3)).to_have_text("1")  # sessions
    for i in range(40):
        await client.send_single(str(peer), f"message {i}")
    legend = page.locator("#chart-legend")
    await expect(legend).to_contain_text(re.compile(r"messages/s: [1-9].*deliveries/s: [1-9]"), timeout=8000)
    await screenshot(page, "console-overview")  # docs/console.png is a copy of one

    # the session is listed; kicking it (after a confirmation) ends it for the client too
    await page.click("nav button[data-tab=sessions]")
    await page.fill("#sessions-uid", str(uid))
    await page.click("#sessions-form button")
    session_row = page.locator("#sessions-table tbody tr", has_text="omtp")
    await expect(session_row).to_have_count(1)
    await session_row.get_by_role("button", name="Kick").click()
    await expect(page.locator("#confirm-text")).to_contain_text(f"of user {uid}")
    await screenshot(page, "console-kick")
    await confirm(page)
    await client.expect_push(PT.KICKOUT)
    assert await client.wait_closed()
    await expect(session_row).to_have_count(0)

    # a push typed in the console reaches the user's new session
    client = await omtp_login(server, name)
    await page.click("nav button[data-tab=users]")
    await page.fill("#users-query", name)
    await page.click("#users-form button")
    user_row = page.locator("#users-table tbody tr", has_text=name)
    await user_row.get_by_role("button", name="Push").click()
    await confirm(page, "hello from the console")
    _, note = await client.expect_msg(PT.MSG_BIZ_NOTIFY)
    assert note.content == "hello from the console"
    await expect(page.locator("#status")).to_contain_text("1 session(s) online got it")

    # disabling the user closes their session and shows them disabled
    await user_row.get_by_role("button", name="Disable").click()
    await confirm(page)
    assert await client.wait_closed()
    await expect(user_row).to_contain_text("disabled")
    await client.close()

    # a room with a beehive session inside: its members, a push to it, its dismissal
    status, room = server.api("POST", "/api/v1/rooms", {"owner": peer, "name": "hall"})
    assert status == 201
    rid = room["rid"]
    joined = await inside.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=peer, rid=rid))
    assert joined.msg.code == 0
    await page.click("nav button[data-tab=rooms]")
    room_row = page.locator("#rooms-table tbody tr", has_text=str(rid))
    await room_row.get_by_role("button", name="Members").click()
    await expect(page.locator("#members-table tbody tr")).to_contain_text(f"{peer}beehive")
    await room_row.get_by_role("button", name="Push").click()
    await confirm(page, "room news")
    assert (await inside.expect(b.ROOM_BC)).msg.data == b"room news"
    await room_row.get_by_role("button", name="Dismiss").click()
    await confirm(page)
    assert (await inside.expect(b.ROOM_QUIT_NTF)).msg.rid == rid
    await expect(room_row).to_have_count(0)

    # a group found by its name, its members shown, dismissed
    status, group = server.api(
        "POST", "/api/v1/groups", {"name": f"club{rid}", "owner": peer, "members": [uid]}
    )
    assert status == 201
    await page.click("nav button[data-tab=groups]")
    await page.fill("#groups-query", f"club{rid}")
    await page.click("#groups-form button")
    group_row = page.locator("#groups-table tbody tr", has_text=f"club{rid}")
    await group_row.get_by_role("button", name="Members").click()
    await expect(page.locator("#group-members tbody tr")).to_have_count(2)
    await group_row.get_by_role("button", name="Dismiss").click()
    await confirm(page)
    await expect(group_row).to_have_count(0)
    assert server.api("GET", f"/api/v1/groups/{group['gid']}")[0] == 404


@pytest.fixture
async def other_origin() -> AsyncIterator[tuple[str, list[str]]]:
    """Another site on another port of the same host: the page a CSRF attempt comes from. Its pages are
    set per test through the list it yields (the HTML of ``/``)."""
    html: list[str] = [""]

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=html[0], content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/", html
    finally:
        await runner.cleanup()


async def test_console_refuses_no_token_wrong_token_and_other_origins(
    server: Server, page: Page, other_origin: tuple[str, list[str]]
) -> None:
    uid, name = server.add_user("csrf")
    api = f"http://127.0.0.1:{server.http}/api/v1"
    client = await omtp_login(server, name)

    # not logged in: the page asks for the token and the API answers nothing
    await page.goto(console_url(server))
    await expect(page.locator("#login-form")).to_be_visible()
    status = await page.evaluate("fetch('/api/v1/stats').then(r => r.status)")
    assert status == 401
    status = await page.evaluate(
        "fetch('/api/v1/stats', {headers: {Authorization: 'Bearer wrong'}}).then(r => r.status)"
    )
    assert status == 401

    # logged in, the console's cookie is in the browser; another origin's form post and script fail
    await log_in(page, server, server.admin_token)
    await expect(page.locator("#app")).to_be_visible()
    url, html = other_origin
    html[0] = f"""<!doctype html><body>
<form id="f" method="post" action="{api}/users/{uid}/disable"><input name="disabled" value="true"></form>
<script>
fetch("{api}/push/user", {{method: "POST", credentials: "include", mode: "no-cors",
  body: JSON.stringify({{uid: {uid}, text: "forged"}})}}).finally(() => document.getElementById("f").submit());
</script></body>"""
    async with page.expect_navigation(url=f"{api}/users/{uid}/disable"):
        await page.goto(url)
    assert '"code": 401' in await page.content()
    assert await client.poll_push(0.5) is None  # the forged push reached nobody
    status, account = server.api("GET", f"/api/v1/users/{uid}")
    assert status == 200 and account["disabled"] is False
    assert not client.closed
    await client.close()

    # back on the console, the login still works: the attempt changed nothing
    await page.goto(console_url(server))
    await expect(page.locator("#app")).to_be_visible()
