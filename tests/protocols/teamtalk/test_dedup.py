"""The 3/1 dedup key (teamtalk.md §4.4, §9 #4) on a node in this process, whose clock the test moves:
a resend of the same ``seq_no`` and text within ten minutes of the original is stored once, wherever
those minutes fall on the clock; the same ``seq_no`` and text later is a new message, and its own
resends are again stored once; another text with that ``seq_no`` is always new."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from polyim.config import load
from polyim.core import clock
from polyim.protocols import registry
from polyim.server import Node
from tests.clients.teamtalk import TeamTalkClient, parse
from tests.conftest import write_config

WINDOW = 600  # s (§9 #4)


class MovedTime:
    """The ``time`` module as the core's clock reads it, ``offset`` seconds ahead (never back)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time_ns(self) -> int:
        return time.time_ns() + int(self.offset * 1e9)

    def now(self) -> float:
        return self.time_ns() / 1e9


@pytest.fixture
async def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Node, MovedTime]]:
    moved = MovedTime()
    monkeypatch.setattr(clock, "time", moved)
    node = Node(load(str(write_config(tmp_path)), registry.sections()))
    await node.start()
    try:
        yield node, moved
    finally:
        await node.stop()


async def _login(node: Node, name: str) -> TeamTalkClient:
    await node.core.accounts.create(name, "pw")
    port = next(x.port for x in node.listeners if x.protocol == "teamtalk" and x.kind == "msg")
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
