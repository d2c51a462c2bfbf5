"""What only a database server shared by many nodes must add to the store contract: two nodes (two
stores on one database) appending to one conversation at once get gapless, distinct seqs; a resend
reaching another node is the same message; the schema is upgraded once however many nodes start; and
the server going away fails writes at once (never an ack) and is survived without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from polyim.store import migrate
from polyim.store.base import Store
from polyim.store.postgres import PostgresStore
from tests.engines import shared_postgres
from tests.store.support import P_AB, A, B, append, new_msg

pytestmark = pytest.mark.scaled  # PostgreSQL and Redis (tests/engines.py)


@pytest.fixture
async def nodes(postgres_url: str) -> AsyncIterator[tuple[Store, Store]]:
    one, two = PostgresStore(postgres_url), PostgresStore(postgres_url)
    await asyncio.gather(one.open(), two.open())  # both migrate at once: one applies, one waits
    yield one, two
    await asyncio.gather(one.close(), two.close())


async def test_two_nodes_appending_to_one_conversation_get_gapless_distinct_seqs(
    nodes: tuple[Store, Store],
) -> None:
    one, two = nodes
    sends = [
        append(one if i % 2 else two, new_msg(P_AB, A if i % 3 else B, f"m{i}", f"c{i}")) for i in range(300)
    ]
    results = await asyncio.gather(*sends)
    seqs = sorted(m.seq for m, dup in results if not dup)
    assert seqs == list(range(1, 301))
    assert await one.last_seq(P_AB) == await two.last_seq(P_AB) == 300
    stored = await two.messages_after(P_AB, 0, 400)
    assert [m.seq for m in stored] == seqs
    assert {m.content for m in stored} == {f"m{i}" for i in range(300)}


async def test_a_resend_through_another_node_is_the_first_message(nodes: tuple[Store, Store]) -> None:
    one, two = nodes
    first, second = await asyncio.gather(
        append(one, new_msg(P_AB, A, "hello", "cid")),
        append(two, new_msg(P_AB, A, "hello again", "cid")),
    )
    assert sorted([first[1], second[1]]) == [False, True]
    assert first[0] == second[0]
    later, dup = await append(two, new_msg(P_AB, A, "x", "cid"))
    assert dup and later == first[0]
    n, _ = await append(one, new_msg(P_AB, A, "next", "cid-2"))
    assert n.seq == 2  # the refused copies left no gap


async def test_upgrade_applies_each_version_once_up_to_sqlites_version(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    version, applied = await store.upgrade()
    # one schema, two dialects: a SQLite migration needs its PostgreSQL twin under the same number
    assert version == migrate.available()[-1][0] and applied[-1] == version
    assert await store.upgrade() == (version, [])


async def test_the_database_going_away_fails_writes_and_is_survived(postgres_url: str) -> None:
    server = shared_postgres()
    store = PostgresStore(postgres_url)
    await store.open()
    try:
        before, _ = await append(store, new_msg(P_AB, A, "before", "c1"))
        server.stop()
        try:
            with pytest.raises(Exception):  # noqa: B017 - whichever error the driver gives, never an ack
                await asyncio.wait_for(append(store, new_msg(P_AB, A, "during", "c2")), 20)
            with pytest.raises(Exception):  # noqa: B017
                await asyncio.wait_for(store.get_account(A), 20)
        finally:
            server.start()
        after, dup = await append(store, new_msg(P_AB, A, "after", "c3"))
        assert not dup and after.seq == before.seq + 1  # the refused one took no seq
        assert [m.content for m in await store.messages_after(P_AB, 0, 10)] == ["before", "after"]
        assert await store.get_account(A) is None  # reads recover too
    finally:
        await store.close()
