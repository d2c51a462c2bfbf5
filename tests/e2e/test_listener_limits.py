"""What a client that is not a logged-in session can hold, on every listener (issue 16, points 1 and 5):
silent, trickling and half-sent connections are cut at their deadlines, connections past the caps are
refused at once, logged-in sessions keep working meanwhile, and a WebSocket upgrade in a version other
than 13 gets 426. The deadlines are lowered in this server's config, so each test takes a few seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from polyim.protocols.beehive.codec import WS_SUBPROTOCOL
from tests.clients import beehive as b
from tests.conftest import Server, start_server, write_config
from tests.e2e.beehive_pool import Beehive

HTTP_CAP = 100
PROTOCOL_CAP = 40
LIMITS = {
    "[http]\n": (
        "header_timeout = 0.5\nbody_timeout = 0.5\nidle_timeout = 1\n"
        f"max_pending_connections = {HTTP_CAP}\nmax_pending_per_address = {HTTP_CAP}\n"
    ),
    "[omtp]\n": f"max_pending_connections = {PROTOCOL_CAP}\nmax_pending_per_address = {PROTOCOL_CAP}\n",
    "[beehive]\n": (
        f"login_timeout = 1\nws_request_timeout = 0.5\nmax_pending_connections = {PROTOCOL_CAP}\n"
        f"max_pending_per_address = {PROTOCOL_CAP}\n"
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = Path(tmp_path_factory.mktemp("limits"))
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8")
    for section, keys in LIMITS.items():
        assert section in text
        text = text.replace(section, section + keys, 1)
    cfg.write_text(text, encoding="utf-8")
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


Link = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def closed_after(link: Link, within: float) -> float | None:
    """Seconds until the server closed ``link`` (whatever it answered first), or None if it is still
    open after ``within`` seconds."""
    reader, _ = link
    start = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return None
    except ConnectionError:
        pass
    return time.monotonic() - start


async def open_many(port: int, n: int) -> list[Link]:
    return list(await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(n))))


def close_all(links: list[Link]) -> None:
    for _, writer in links:
        writer.close()


async def test_idle_connections_are_refused_past_the_cap_and_closed_when_idle(server: Server) -> None:
    links = await open_many(server.http, 1000)
    try:
        times = await asyncio.gather(*(closed_after(link, 4) for link in links))
    finally:
        close_all(links)
    assert all(t is not None for t in times), "an idle HTTP connection outlived its deadline"
    at_once = sum(1 for t in times if t is not None and t < 0.5)
    assert at_once >= 1000 - HTTP_CAP  # refused past the cap, the others cut after idle_timeout (1 s)
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.http}/healthz") as resp:
        assert resp.status == 200  # the slots were given back
    assert server.log is not None
    refusals = [line for line in server.log.read_text().splitlines() if "http 127.0.0.1:0: refusing" in line]
    assert 1 <= len(refusals) <= 2  # 900 refusals, one log line (rate-limited)


async def test_a_keep_alive_connection_is_closed_when_idle_between_requests(server: Server) -> None:
    link = await asyncio.open_connection("127.0.0.1", server.http)
    link[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        head = await asyncio.wait_for(link[0].readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ") and b"close" not in head.lower()
        elapsed = await closed_after(link, 3)
    finally:
        link[1].close()
    assert elapsed is not None and elapsed < 2  # idle_timeout is 1 s


async def test_a_header_trickle_is_cut(server: Server) -> None:
    link = await asyncio.open_connection("127.0.0.1", server.http)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 100 + b"\r\n\r\n"

    async def trickle() -> int:
        for sent, byte in enumerate(head):
            link[1].write(bytes([byte]))
            await asyncio.sleep(0.05)
            if link[1].is_closing() or link[0].at_eof():
                return sent
        return len(head)

    writer = asyncio.ensure_future(trickle())
    try:
        elapsed = await closed_after(link, 3)
    finally:
        writer.cancel()
        link[1].close()
    assert elapsed is not None and elapsed < 2  # header_timeout is 0.5 s; the whole head takes 6 s


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /im/iplist HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1073741824\r\n\r\nuid=1",
        b"POST /im/iplist HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nuid=1\r\n",
    ],
    ids=["content-length-1GiB-5-bytes-sent", "chunked-without-last-chunk"],
)
async def test_a_half_sent_body_is_cut(server: Server, request_bytes: bytes) -> None:
    link = await asyncio.open_connection("127.0.0.1", server.http)
    link[1].write(request_bytes)
    try:
        elapsed = await closed_after(link, 4)
    finally:
        link[1].close()
    assert elapsed is not None and elapsed < 3  # body_timeout 0.5 s, then at most idle_timeout 1 s


async def test_the_websocket_listener_cuts_silence_and_trickles_before_the_upgrade(server: Server) -> None:
    silent = await asyncio.open_connection("127.0.0.1", server.beehive_ws)
    trickling = await asyncio.open_connection("127.0.0.1", server.beehive_ws)
    trickling[1].write(b"GET /im HTTP/1.1\r\nHost: x\r\n")  # and never the rest of the head
    try:
        silent_s, trickle_s = await asyncio.gather(closed_after(silent, 3), closed_after(trickling, 3))
    finally:
        close_all([silent, trickling])
    assert silent_s is not None and silent_s < 2  # login_timeout 1 s from connecting
    assert trickle_s is not None and trickle_s < 1.5  # ws_request_timeout 0.5 s


@pytest.mark.parametrize("listener", ["beehive ws", "beehive tcp", "omtp tcp"])
async def test_protocol_listeners_refuse_connections_past_the_cap(server: Server, listener: str) -> None:
    links = await open_many(server.ports[listener], PROTOCOL_CAP + 60)
    try:
        times = await asyncio.gather(*(closed_after(link, 0.5) for link in links))
    finally:
        close_all(links)
    assert sum(1 for t in times if t is not None) >= 60


async def test_logged_in_sessions_keep_working_while_every_cap_is_reached(server: Server) -> None:
    pool = Beehive(server)
    a_uid, _ = server.add_user("cap")
    b_uid, _ = server.add_user("cap")
    alice = await pool.login(a_uid)
    bob = await pool.login(b_uid, ws=True)
    floods: list[Link] = []
    try:
        for port, n in [(server.http, HTTP_CAP + 50), (server.beehive_ws, PROTOCOL_CAP + 20)]:
            floods += await open_many(port, n)
        floods += await open_many(server.beehive_tcp, PROTOCOL_CAP + 20)
        await asyncio.sleep(0.2)
        late = await asyncio.open_connection("127.0.0.1", server.beehive_tcp)
        assert await closed_after(late, 0.5) is not None  # a new one is refused at once
        late[1].close()
        ack = await alice.chat(b_uid, "still here")
        assert ack.code == 0
        assert (await bob.expect(b.CHAT)).msg.text == "still here"
        await bob.ping()
    finally:
        close_all(floods)
        await pool.close()


@pytest.mark.parametrize("version", ["8", "7", "12", ""])
async def test_websocket_versions_other_than_13_get_426(server: Server, version: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.beehive_ws)
    version_line = f"Sec-WebSocket-Version: {version}\r\n" if version else ""
    writer.write(
        (
            "GET /im HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{version_line}\r\n"
        ).encode()
    )
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 426 ")
    assert "sec-websocket-version: 13" in [line.lower() for line in lines]


async def test_websocket_version_13_is_upgraded(server: Server) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"http://127.0.0.1:{server.beehive_ws}/im", protocols=(WS_SUBPROTOCOL,)) as ws,
    ):
        assert not ws.closed and ws.protocol == WS_SUBPROTOCOL
