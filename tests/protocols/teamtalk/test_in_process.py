"""TeamTalk on a node in this process, through real sockets, where a test needs to move the clock or
shorten a delay: the 3/1 dedup key (teamtalk.md §4.4, §9 #4) — a resend of the same ``seq_no`` and
text within ten minutes of the original is stored once, wherever those minutes fall on the clock, the
same ``seq_no`` and text later is a new message whose own resends are again stored once, another text
is always new — and the end of an online task whose Windows receiver never sends DONE (§4.8)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from polyim.config import load
from polyim.protocols import registry
from polyim.protocols.teamtalk import files
from polyim.server import Node
from tests.clients.teamtalk import TeamTalkClient, chunk_of, data, file_login, offer_file, parse, pull
from tests.conftest import write_config

WINDOW = 600  # s (§9 #4)


class MovedTime:
    """The core clock's time source, ``offset`` seconds ahead (never back)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time_ns(self) -> int:
        return time.time_ns() + int(self.offset * 1e9)

    def now(self) -> float:
        return self.time_ns() / 1e9


@pytest.fixture
async def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Node, MovedTime]]:
    moved = MovedTime()
    node = Node(load(str(write_config(tmp_path)), registry.sections()))
    monkeypatch.setattr(node.core.ctx.clock, "time_ns", moved.time_ns)
    await node.start()
    try:
        yield node, moved
    finally:
        await node.stop()


def _port(node: Node, kind: str) -> int:
    return next(x.port for x in node.listeners if x.protocol == "teamtalk" and x.kind == kind)


async def _login(node: Node, name: str) -> TeamTalkClient:
    await node.core.accounts.create(name, "pw")
    port = _port(node, "msg")
    client = await TeamTalkClient.connect("127.0.0.1", port)
    assert (await client.login(name))[0] == 0
    return client


async def test_a_resend_is_stored_once_across_any_ten_minute_mark_and_a_reuse_later_is_new(
    node: tuple[Node, MovedTime],
) -> None:
    srv, moved = node
    alice, bob = await _login(srv, "alice"), await _login(srv, "bob")
    moved.offset = WINDOW - moved.now() % WINDOW - 1  # one second before a ten-minute mark

    async def unread() -> int:
        pairs = parse(await bob.request(3, 7, b"", (3, 8)), "pairs")[0]
        return dict(pairs).get(alice.uid, 0)

    await alice.say(bob.uid, "once", seq_no=7)
    moved.offset += 2  # the mark is crossed
    await alice.say(bob.uid, "once", seq_no=7)
    moved.offset += WINDOW - 10  # still within ten minutes of the original
    await alice.say(bob.uid, "once", seq_no=7)
    assert await unread() == 1
    await alice.say(bob.uid, "other words", seq_no=7)  # another text: a new message at any time
    assert await unread() == 2
    moved.offset += 20  # over ten minutes after the original: the client restarted its counter
    await alice.say(bob.uid, "once", seq_no=7)
    assert await unread() == 3
    moved.offset += WINDOW - 10  # a resend of that second "once", long after the first
    await alice.say(bob.uid, "once", seq_no=7)
    assert await unread() == 3
    moved.offset += 20  # and over ten minutes after the second: a third
    await alice.say(bob.uid, "once", seq_no=7)
    assert await unread() == 4
    await alice.close()
    await bob.close()


async def test_an_online_task_ends_a_while_after_the_sender_answered_past_the_end(
    node: tuple[Node, MovedTime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Windows receiver pulls 40 KiB blocks until its progress passes the size, never sends DONE
    and keeps its socket: the task ends ``WINDOWS_END_GRACE`` (10 s, 0.3 s here) after the 6/5 that
    reached the end, and both file connections are closed."""
    monkeypatch.setattr(files, "WINDOWS_END_GRACE", 0.3)
    srv, _ = node
    alice, bob = await _login(srv, "alice"), await _login(srv, "bob")
    content = bytes(range(256)) * 200  # 51,200 bytes: two 40 KiB pulls, the second past the end
    offer = await offer_file(alice, bob.uid, "w.bin", len(content), 1)
    assert offer.port == _port(srv, "file")
    sender, _ = await file_login(offer.port, alice.uid, offer.task_id, 1)
    receiver, _ = await file_login(offer.port, bob.uid, offer.task_id, 2)
    got = b""
    for offset in (0, 40960):
        pull(receiver, offer.task_id, 1, offset, 40960)
        asked = await sender.wait_for((6, 4))
        block = content[offset : offset + 40960] + (b"pad" if offset else b"")  # bytes past the end
        data(sender, offer.task_id, offset, block, reserved=asked.reserved)
        got += chunk_of(await receiver.wait_for((6, 5)))[4]
    assert got == content + b"pad"
    assert await receiver.wait_closed(3) and await sender.wait_closed(3)
    for client in (alice, bob, sender, receiver):
        await client.close()
