"""imlc timers and the login throttle (imlc.md §1.2, §3.1 LOGIN) on a server of their own (1 s timeouts;
its failed logins count against no other test's address): a connection that never logs in is closed
without a frame, an idle session hears LOGOUT (reason IDLE) and is closed, a busy one stays; five failed
logins lock the account, right password or not, with the lockout's seconds in the reply."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command, Status
from tests.conftest import Server, ping_until_closed, start_server, write_config
from tests.e2e.conftest import Imlc


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("imlc-timers")
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(
        text.replace("[imlc]\n", "[imlc]\nidle_timeout = 1\nlogin_timeout = 1\n", 1), encoding="utf-8"
    )
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


async def test_login_and_idle_timeouts(imlc: Imlc) -> None:
    busy, _ = await imlc.user("busy")
    idle, _ = await imlc.user("idle")
    silent = await imlc.connect()

    async def ping() -> None:
        assert (await busy.ping()).status == Status.OK

    await ping_until_closed(ping, idle, silent, seconds=4)
    assert silent.closed and silent.notifies.empty()  # pre-login: closed without a frame
    assert idle.closed
    logout = await idle.expect(Command.LOGOUT, timeout=0.1)
    assert logout.reason == pb.LOGOUT_REASON_IDLE
    assert not busy.closed


async def test_failed_logins_lock_the_account(imlc: Imlc) -> None:
    _, name = imlc.server.add_user("locked")
    first = await imlc.connect()
    for _ in range(3):
        assert (await first.login(username=name, password="wrong")).status == Status.AUTH_FAILED
    assert await first.wait_closed(2)  # the third failure on a connection closes it
    second = await imlc.connect()
    for _ in range(2):
        assert (await second.login(username=name, password="wrong")).status == Status.AUTH_FAILED
    locked = await second.login(username=name, password="pw")
    assert locked.status == Status.THROTTLED and locked.body.retry_after_s == 60
