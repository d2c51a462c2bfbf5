"""beehive's two deadlines over TCP and WebSocket alike: ONLINE within ``login_timeout``, then input at
least every ``idle_timeout`` (beehive.md §1.1), both deadlines on the loop's timer heap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, ping_until_closed, start_server
from tests.e2e.beehive_pool import Beehive


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("timeouts")), "login_timeout = 1\nidle_timeout = 1\n")
    yield srv
    srv.stop()


@pytest.mark.parametrize("ws", [False, True], ids=["tcp", "websocket"])
async def test_login_and_idle_timeouts(quick_server: Server, ws: bool) -> None:
    pool = Beehive(quick_server)
    try:
        never = await pool.connect(ws=ws)  # no ONLINE at all
        idle = await pool.user(ws=ws)
        busy = await pool.user(ws=ws)
        await ping_until_closed(busy.ping, never, idle)
        assert never.closed and idle.closed
        assert not busy.closed  # any inbound frame keeps a connection alive
        await busy.ping()
    finally:
        await pool.close()
