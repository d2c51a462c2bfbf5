"""A TeamTalk offline file outlives the server (teamtalk.md §4.9, design.md §4): once its sender has
registered it (6/18) and the recipient has been told, the server is killed with ``kill -9``; after a
restart the recipient still finds it in 6/17 and downloads it intact, and a deletion is kept too."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from tests.clients.teamtalk import ANDROID, Body, file_login, file_notice, offer_file, parse
from tests.conftest import Server, start_server
from tests.e2e.conftest import TeamTalk
from tests.e2e.test_teamtalk_files import OFFLINE, UPLOAD, download, serve_pulls


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("tt-restart"))
    yield srv
    srv.stop(signal.SIGKILL)


async def test_a_registered_offline_file_survives_kill_9(server: Server) -> None:
    pool = TeamTalk(server)
    alice, a_name = await pool.user("ka")
    bob, b_name = await pool.user("kb", client_type=ANDROID)
    content = os.urandom(100_000)
    offer = await offer_file(alice, bob.uid, "kept.bin", len(content), OFFLINE)
    assert (offer.result, offer.mode) == (0, OFFLINE)
    uploader, result = await file_login(offer.port, alice.uid, offer.task_id, UPLOAD)
    assert result == 0
    await serve_pulls(uploader, offer.task_id, alice.uid, content)
    alice.send(6, 18, Body().s(alice.uid).s(bob.uid).s(offer.task_id).s("kept.bin").u32(len(content)).done())
    await file_notice(bob, ready=1)  # told only after the record is committed
    await pool.close()
    await uploader.close()

    server.stop(signal.SIGKILL)
    again = start_server(server.data_dir.parent, config=server.config)
    try:
        pool = TeamTalk(again)
        bob = await pool.login(b_name, client_type=ANDROID)
        r = (await bob.request(6, 16, b"", (6, 17))).fields()
        assert r.u32() == 1 and [r.s(), r.s(), r.s(), r.u32()] == [
            alice.uid,
            offer.task_id,
            "kept.bin",
            len(content),
        ]
        assert await download(again.teamtalk_file, bob.uid, offer.task_id, alice.uid) == content
        bob.send(6, 19, Body().s(alice.uid).s(bob.uid).s(offer.task_id).done())
        assert parse(await bob.request(6, 16, b"", (6, 17)), "u32")[0] == 0
        await pool.close()
    finally:
        again.stop(signal.SIGKILL)
    assert a_name
