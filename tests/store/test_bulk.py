"""The bulk load of ``polyim bench --prefill``: what it stores is what the store itself reads."""

from __future__ import annotations

from pathlib import Path

from polyim.model import ConvId
from polyim.store.base import NewMessage
from polyim.store.bulk import BulkMessage, bulk_append
from polyim.store.sqlite import SqliteStore
from tests.store.support import append

A, B, C = 10001, 10002, 10003


def _rows() -> list[BulkMessage]:
    """Two conversations interleaved, as arrivals are: A and B take turns, C writes to A twice."""
    ab, ac = ConvId.peer(A, B), ConvId.peer(A, C)
    out = []
    for i in range(6):
        out.append(BulkMessage(ab, A if i % 2 == 0 else B, f"ab{i}", f"ab {i}", 1_000 + i, 100 + i))
        if i < 2:
            out.append(BulkMessage(ac, C, f"ac{i}", f"ac {i}", 2_000 + i, 200 + i))
    return out


async def test_loaded_messages_are_read_like_appended_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "polyim.db")
    assert bulk_append(path, _rows(), chunk=3) == 8
    store = SqliteStore(path)
    await store.open()
    try:
        ab, ac = ConvId.peer(A, B), ConvId.peer(A, C)
        page = await store.history(ab, 0, 4)
        assert [(m.seq, m.content, m.sender) for m in page] == [
            (6, "ab 5", B),
            (5, "ab 4", A),
            (4, "ab 3", B),
            (3, "ab 2", A),
        ]
        assert [m.seq for m in await store.messages_after(ac, 0, 10)] == [1, 2]
        mine = {s.conv.key: s for s in await store.user_conversations(A)}
        assert (mine[ab.key].last_seq, mine[ab.key].read_seq) == (6, 5)  # A sent seq 5, B the last
        assert (mine[ac.key].last_seq, mine[ac.key].unread) == (2, 2)  # offline: C's two are unread
        assert [s.conv for s in await store.user_conversations(C)] == [ac]
        new = NewMessage(ab, 999, B, "d", "next", 1, "after the load", 3_000, 3_000_000)
        stored, duplicate = await append(store, new)
        assert (stored.seq, duplicate) == (7, False)  # the server goes on from the loaded seqs
        resent = NewMessage(ab, 998, A, "bulk", "ab0", 1, "again", 3_001, 3_001_000)
        original, duplicate = await append(store, resent)
        assert (original.seq, original.content, duplicate) == (1, "ab 0", True)  # the dedup index has them
    finally:
        await store.close()
