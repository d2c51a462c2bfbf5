"""The web chat page (``/chat/``, docs/webchat.md) in a real headless Chromium, through real sockets.

The page is a beehive WebSocket client; its peers here are an OMTP test client and an imlc one. Each
test is one browser launch with many steps (a launch costs seconds): the JS codec against beehive.md
§7's golden vectors, a refused and an accepted login, 1:1 both ways, a group of three protocols, a
room, unread counts and history after messages arrived while the page was elsewhere, and reconnects
(a dropped socket; a restarted server on the same data directory) that lose and repeat nothing.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.browser import browser, page, screenshot
from tests.clients.imlc import Command, ImlcClient, Status
from tests.clients.omtp import PT, OmtpClient
from tests.conftest import Server, start_server, write_config
from tests.e2e.conftest import Imlc, Omtp

if TYPE_CHECKING:
    from playwright.async_api import Page

__all__ = ["browser", "page"]

pytestmark = pytest.mark.browser

# beehive.md §7: (values the page's codec encodes or decodes, the bytes in hex)
V1 = (
    "0000010100000023000000000000753100000000000000000000000000000000000000010000000000000000000000000000"
    "000008914e10b1ea011a03746f6b220c6265656869766520636861742a05312e302e303001"
)
V2 = (
    "0000010200000026000000000000753100000000000000010000000100000000000000010000000000000000000000000000"
    "000008914e10b1ea011864220c6265656869766520636861742a05312e302e303001380042024f6b"
)
V3 = (
    "0000020100000015000000000000753100000000000000000000000000000000000000650000000000000000000000000000"
    "000008914e10924e18002080e2cfaa062a0568656c6c6f"
)
V6 = (
    "000002020000000c000000000000753200000000000000000000000000000000000000010000000000000000000000000000"
    "000008914e10924e180022024f6b"
)
V7 = (
    "00000105000000000000000000007531000000000000000000000000000000000000006600000000000000000000000000000000"
)
V9 = (
    "000003010000000d000000000000753100000000000000000000000000000000000000670000000000000000000000000000"
    "000008914e10001a047465616d2200"
)
V11 = (
    "0000035000000007000000000000753100000000000000010000000100000000000000670000000000000000000000000000"
    "000008914e10a19c01"
)

CODEC_CHECK = """([v2, v11]) => {
  const B = window.polyimChat.beehive;
  const C = B.CMD;
  const hex = (type, sid, seq, values) => B.toHex(B.frame(type, sid, seq, values));
  const read = (text) => {
    const { header, body } = B.decodeFrame(B.fromHex(text));
    const values = B.bodyOf(header.type, body);
    return JSON.stringify({ header, values }, (k, v) => (typeof v === "bigint" ? v.toString() : v));
  };
  let refused = "";
  try { B.bodyOf(C.CHAT_ACK, B.fromHex("08914e")); } catch (e) { refused = e.name + ": " + e.message; }
  // garbage and cut or flipped golden frames: a BeehiveDecodeError or a value, never anything else
  let x = 12345;
  const rand = (n) => { x = (x * 1103515245 + 12345) % 2147483648; return x % n; };
  const golden = B.fromHex(v2);
  const odd = [];
  for (let i = 0; i < 3000; i++) {
    const bytes = i % 2 ? Uint8Array.from({ length: rand(40) }, () => rand(256)) : golden.slice(0, rand(golden.length + 1));
    if (i % 3 === 0 && bytes.length) bytes[rand(bytes.length)] ^= 1 << rand(8);
    for (const name of Object.keys(B.SCHEMAS)) {
      try { B.decodeBody(name, bytes.subarray(Math.min(bytes.length, 52))); } catch (e) {
        if (!(e instanceof B.BeehiveDecodeError)) odd.push(`${name}: ${e}`);
      }
    }
    try { B.decodeFrame(bytes); } catch (e) { if (!(e instanceof B.BeehiveDecodeError)) odd.push(`frame: ${e}`); }
  }
  return {
    v1: hex(C.ONLINE, 30001n, 1n, { uid: 10001n, sid: 30001n, token: "tok", app: "beehive chat",
      version: "1.0.0", terminal: 1 }),
    v3: hex(C.CHAT, 30001n, 101n, { suid: 10001n, duid: 10002n, level: 0, time: 1700000000n, text: "hello" }),
    v6: hex(C.CHAT_ACK, 30002n, 1n, { suid: 10001n, duid: 10002n, code: 0, errmsg: "Ok" }),
    v7: hex(C.PING, 30001n, 102n),
    v9: hex(C.GROUP_CREAT, 30001n, 103n, { uid: 10001n, gid: 0n, name: "team", desc: "" }),
    v2: read(v2),
    v11: read(v11),
    refused,
    odd: odd.slice(0, 5),
  };
}"""


async def check_codec(page: Page) -> None:
    got = await page.evaluate(CODEC_CHECK, [V2, V11])
    assert (got["v1"], got["v3"], got["v6"], got["v7"], got["v9"]) == (V1, V3, V6, V7, V9)
    assert '"type":258,"length":38,"sid":"30001","cid":"1","nid":1,"seq":"1"' in got["v2"]
    assert (
        '"values":{"uid":"10001","sid":"30001","seq":"100","app":"beehive chat","version":"1.0.0",'
        '"terminal":1,"code":0,"errmsg":"Ok"}' in got["v2"]
    )
    assert '"seq":"103"' in got["v11"] and '"values":{"uid":"10001","gid":"20001"}' in got["v11"]
    assert got["refused"] == "Error: mesg_chat_ack: duid missing"
    assert got["odd"] == []


# == driving the page ======================================================================================
async def log_in(page: Page, name: str, password: str = "pw") -> None:
    await page.fill("#username", name)
    await page.fill("#password", password)
    await page.click("#login-button")


async def online(page: Page, timeout: float = 20_000) -> None:
    from playwright.async_api import expect

    await expect(page.locator("#status")).to_have_text("online", timeout=timeout)


def conv(page: Page, key: str) -> Any:
    return page.locator(f'li.conv[data-conv="{key}"]')


async def badge(page: Page, key: str, text: str) -> None:
    from playwright.async_api import expect

    await expect(conv(page, key).locator(".badge")).to_have_text(text)


async def shown(page: Page, texts: list[str]) -> None:
    """The open conversation shows exactly these messages, in this order (each once)."""
    from playwright.async_api import expect

    await expect(page.locator("#messages .msg .text")).to_have_text(texts)


async def say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


async def sent(page: Page, text: str) -> None:
    from playwright.async_api import expect

    line = page.locator("#messages .msg.own", has_text=text)
    await expect(line.locator(".meta")).to_contain_text("sent")


async def omtp_got(client: OmtpClient, pack_type: int, text: str, sender: int) -> None:
    """The next message the OMTP client receives is ``text`` from ``sender``, and nothing follows it."""
    _, msg = await client.expect_msg(pack_type)
    assert (msg.content, msg.from_) == (text, str(sender))
    assert await client.poll_push(0.3) is None


async def imlc_got(client: ImlcClient, text: str, sender: int) -> None:
    """The next message notify (MN) the imlc client receives is ``text`` from ``sender``."""
    while True:
        frame, body = await client.expect_any()
        if frame.command == Command.MN:
            assert (body.message_content.searchable_content, getattr(body, "from")) == (text, str(sender))
            return


@pytest.fixture
async def peers(server: Server) -> AsyncIterator[tuple[Omtp, Imlc]]:
    omtp, imlc = Omtp(server), Imlc(server)
    yield omtp, imlc
    await omtp.close()
    await imlc.close()


def errors(page: Page) -> list[str]:
    """The page's uncaught script errors, collected while the test runs."""
    lines: list[str] = []
    page.on("pageerror", lambda e: lines.append(str(e)))
    return lines


# == the tests =============================================================================================
async def test_chat_across_protocols(server: Server, page: Page, peers: tuple[Omtp, Imlc]) -> None:
    from playwright.async_api import expect

    omtp, imlc = peers
    lines = errors(page)
    web_uid, web_name = server.add_user("web")
    olga = await omtp.user("olga")
    ivan, _ = await imlc.user("ivan")
    me, o, i = web_uid, int(olga.uid), int(ivan.uid)

    await page.goto(f"http://127.0.0.1:{server.http}/chat/")
    await check_codec(page)
    await log_in(page, web_name, "not the password")
    await expect(page.locator("#login-error")).to_have_text("wrong username or password")
    await log_in(page, web_name)
    await online(page)

    # 1:1 both ways: the conversation appears with an unread badge, opens, and answers reach OMTP
    assert (await olga.send_single(str(me), "hello from omtp")).ok
    await badge(page, f"p:{o}", "1")
    await expect(conv(page, f"p:{o}").locator(".name")).to_have_text(omtp.name_of(olga))
    await conv(page, f"p:{o}").click()
    await shown(page, ["hello from omtp"])
    await expect(conv(page, f"p:{o}").locator(".badge")).to_have_count(0)
    await say(page, "hi omtp")
    await sent(page, "hi omtp")
    await omtp_got(olga, PT.MSG_SINGLE_CHAT, "hi omtp", me)

    # a group of three protocols, made by the OMTP user
    made = await olga.group_create("trio", members=[str(me), str(i)])
    assert made.ok, made
    gid = made.group_id.removeprefix("GC_")
    await expect(conv(page, f"g:{gid}").locator(".name")).to_have_text("trio")
    await conv(page, f"g:{gid}").click()
    await say(page, "hello group")
    await sent(page, "hello group")
    await omtp_got(olga, PT.MSG_GROUP_CHAT, "hello group", me)
    await imlc_got(ivan, "hello group", me)
    assert (await ivan.send(gid, "from imlc", 1, conv_type=pb.CONVERSATION_TYPE_GROUP)).status == Status.OK
    assert (await olga.send_group(made.group_id, "from omtp")).ok
    await imlc_got(ivan, "from omtp", o)
    await shown(page, ["hello group", "from imlc", "from omtp"])

    # unread counts while the page is elsewhere, then the history in order
    for text in ("one", "two"):
        assert (await olga.send_single(str(me), text)).ok
    await badge(page, f"p:{o}", "2")
    await screenshot(page, "webchat-unread")
    await conv(page, f"p:{o}").click()
    await shown(page, ["hello from omtp", "hi omtp", "one", "two"])

    # logged out: what arrives meanwhile is counted at the next login, and the history is all there
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    assert (await olga.send_single(str(me), "while you were away")).ok
    await log_in(page, web_name)
    await online(page)
    await badge(page, f"p:{o}", "1")
    await conv(page, f"p:{o}").click()
    await shown(page, ["hello from omtp", "hi omtp", "one", "two", "while you were away"])
    await conv(page, f"g:{gid}").click()
    await shown(page, ["hello group", "from imlc", "from omtp"])

    # a room, made by the page; the imlc user joins it
    await page.fill("#room-name", "lobby")
    await page.click("#new-room button")
    room = page.locator("li.conv.current")
    await expect(room.locator(".kind")).to_have_text("room")
    rid = (await room.get_attribute("data-conv") or "").removeprefix("r:")
    joined = await ivan.request(Command.ROOM, pb.Room(rid=rid, op=pb.ROOM_OP_JOIN))
    assert joined.status == Status.OK, joined
    assert (await ivan.send(rid, "room hi", 2, conv_type=pb.CONVERSATION_TYPE_ROOM)).status == Status.OK
    await shown(page, ["room hi"])
    await say(page, "hello room")
    await imlc_got(ivan, "hello room", me)
    await shown(page, ["room hi", "hello room"])

    # a dropped socket: a send made meanwhile goes once, what arrived meanwhile shows once
    await conv(page, f"p:{o}").click()
    await page.evaluate("window.polyimChat.dropSocket()")
    await say(page, "sent while down")
    assert (await olga.send_single(str(me), "arrived while down")).ok
    assert (await olga.send_group(made.group_id, "group while down")).ok
    await online(page)
    await omtp_got(olga, PT.MSG_SINGLE_CHAT, "sent while down", me)
    history = ["hello from omtp", "hi omtp", "one", "two", "while you were away"]
    # in commit order: the page's send was stored when its socket was back
    await shown(page, [*history, "arrived while down", "sent while down"])
    await badge(page, f"g:{gid}", "1")
    await screenshot(page, "webchat")
    await conv(page, f"g:{gid}").click()
    await shown(page, ["hello group", "from imlc", "from omtp", "group while down"])
    assert lines == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[list[Server]]:
    """A server whose HTTP and beehive WebSocket listeners keep their ports across a restart; the list
    holds the running one (the test replaces it)."""
    cfg = write_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('listen = "127.0.0.1:0"\nadmin', f'listen = "127.0.0.1:{free_port()}"\nadmin', 1)
    text = text.replace('ws = "127.0.0.1:0"', f'ws = "127.0.0.1:{free_port()}"', 1)
    cfg.write_text(text, encoding="utf-8")
    running = [start_server(tmp_path, config=cfg)]
    yield running
    running[0].stop()


async def test_chat_survives_a_server_restart(page: Page, restartable: list[Server]) -> None:
    from playwright.async_api import expect

    server = restartable[0]
    web_uid, web_name = server.add_user("web")
    omtp = Omtp(server)
    olga = await omtp.user("olga")
    await page.goto(f"http://127.0.0.1:{server.http}/chat/")
    await log_in(page, web_name)
    await online(page)
    assert (await olga.send_single(str(web_uid), "before")).ok
    await conv(page, f"p:{olga.uid}").click()
    await say(page, "answer before")
    await sent(page, "answer before")
    olga_name = omtp.name_of(olga)
    await omtp.close()

    server.stop()
    await expect(page.locator("#status")).not_to_have_text("online")
    await say(page, "sent during the restart")
    # The page stays off the network until olga is back online, so that the queued message reaches her
    # as a live push: had the page reconnected first, it would have waited in her offline store.
    await page.context.set_offline(True)
    server = restartable[0] = await asyncio.to_thread(start_server, server.config.parent, "", server.config)
    omtp = Omtp(server)
    try:
        olga = await omtp.login(olga_name)
        await page.context.set_offline(False)
        await online(page)
        await omtp_got(olga, PT.MSG_SINGLE_CHAT, "sent during the restart", web_uid)
        assert (await olga.send_single(str(web_uid), "after")).ok
        await shown(page, ["before", "answer before", "sent during the restart", "after"])
    finally:
        await omtp.close()
