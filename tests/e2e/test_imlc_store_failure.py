"""A store that cannot write (imlc.md §3.1 MS step 7, design.md §4): the send is answered SERVER_BUSY with
a retry time, the connection and every other stay, and after ``kill -9`` and a restart every message that
was acknowledged is there and the refused ones are not. The server runs with a file-size limit
(RLIMIT_FSIZE), so the database's write-ahead log stops growing at a point the test reaches quickly."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator

import pytest

from tests.clients.imlc import Status
from tests.conftest import Server, start_server
from tests.e2e.conftest import Imlc

LIMIT = 2 * 1024 * 1024  # bytes any file of the server may reach
TEXT = "x" * 60_000


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("full"), preexec=_limit_file_size)
    yield srv
    srv.stop(signal.SIGKILL)


async def test_a_failed_commit_is_server_busy_and_nothing_acknowledged_is_lost(
    imlc: Imlc, server: Server
) -> None:
    alice, _ = await imlc.user("fa")
    bob_uid, bob_name = server.add_user("fb")
    acked: list[int] = []
    refused = None
    for n in range(1, 200):
        reply = await alice.send(str(bob_uid), f"{n} {TEXT}", message_id=n)
        if reply.status != Status.OK:
            refused = reply
            break
        acked.append(reply.body.seq)
    assert refused is not None, "the file-size limit was never reached"
    assert refused.status == Status.SERVER_BUSY and refused.body.retry_after_s >= 1
    assert acked == list(range(1, len(acked) + 1))
    assert (await alice.ping()).status == Status.OK  # the connection stays

    await imlc.close()
    server.stop(signal.SIGKILL)
    again = start_server(server.data_dir.parent, config=server.config)  # the same data, no limit
    try:
        reader = Imlc(again)
        bob = await reader.login(bob_name)
        seqs: list[int] = []
        anchor = 0
        while True:
            page = await bob.pull(alice.uid, anchor=anchor, limit=100)
            seqs += [m.seq for m in page.body.messages]
            if not page.body.has_more:
                break
            anchor = seqs[-1]
        assert seqs == acked  # every acknowledged message, and nothing that was refused
        assert page.body.last_seq == acked[-1]
        await reader.close()
    finally:
        again.stop(signal.SIGKILL)
