"""The WebSocket listener over real sockets: whole messages to ``feed_message``, and the connection's
slot among those not logged in, taken when it connects, carried over the upgrade and given back at
login."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from polyim.transport.admission import Admission
from polyim.transport.websocket import serve_ws
from tests.transport.echo import Echo
from tests.transport.loops import LoopFactory, both_loops, run_on


async def a_websocket_holds_its_slot_until_it_logs_in() -> None:
    admission = Admission("ws test", 10, 10)
    server, _, stop = await serve_ws(
        "127.0.0.1", 0, "/ws", Echo, idle_timeout=60, login_timeout=60, max_message=1024, admission=admission
    )
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
            await ws.send_bytes(b"one whole message")
            assert await ws.receive_bytes(timeout=5) == b"echo:one whole message"
            assert admission.pending == 1
            await ws.send_bytes(b"login")
            assert await ws.receive_bytes(timeout=5) == b"echo:login"
            assert admission.pending == 0
        await asyncio.sleep(0.1)
        assert admission.pending == 0  # and closing does not give it back twice
    finally:
        stop()


@both_loops
def test_a_websocket_holds_its_slot_until_it_logs_in(loop_factory: LoopFactory) -> None:
    """The slot crosses the upgrade through the transport's protocol (the guard) on either loop."""
    run_on(loop_factory, a_websocket_holds_its_slot_until_it_logs_in)


async def test_a_paused_websocket_takes_no_message_until_resumed_and_still_sees_its_close() -> None:
    server, _, stop = await serve_ws(
        "127.0.0.1", 0, "/ws", Echo, idle_timeout=60, login_timeout=60, max_message=1024
    )
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_bytes(b"pause")
                assert await ws.receive_bytes(timeout=5) == b"echo:pause"
                start = time.monotonic()
                await ws.send_bytes(b"next")
                assert await ws.receive_bytes(timeout=5) == b"echo:next"
                assert time.monotonic() - start > 0.15  # held until reading resumed
            lost = len(Echo.lost)
            async with http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_bytes(b"pause and close")
                assert await ws.receive_bytes(timeout=5) == b"echo:pause and close"
                closing = await ws.receive(timeout=5)
                assert closing.type == aiohttp.WSMsgType.CLOSE
            await asyncio.sleep(0.1)
            assert len(Echo.lost) == lost + 1  # the paused connection's end reached its handler
    finally:
        stop()
