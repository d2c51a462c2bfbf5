"""Store calls whose cost grows with what one user has stored: timed on a SQLite store, outside a server.

    python scripts/store_growth.py [N ...]      (default 1000 10000 100000 notifications)

For each N: a fresh store, N stored pushes (notifications) to one user over 10 topics and, from one
device, N 1:1 messages with numeric client ids (beehive's). Then, 30 times each, the calls a login or an
acknowledgement makes: the user's conversation list (every sync and the OMTP/beehive/imlc lists), a
topic's history page, the acknowledgement of a push by its id (beehive P2P ack), and the device's
highest client id (beehive login). Prints p50 and max in ms per call and N. docs/performance.md,
"How cost grows", quotes it run on this code and on the code before the fix.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from polyim.model import ConvId
from polyim.store.base import NewMessage
from polyim.store.sqlite import SqliteStore

USER, OPERATOR, PEER = 10_001, 10_002, 10_003
TOPICS = 10
ROUNDS = 30


async def _fill(store: SqliteStore, n: int) -> int:
    """N pushes to USER over TOPICS topics and N messages USER → PEER; returns a push's msg id."""
    notify, chat = ConvId.notify(USER), ConvId.peer(USER, PEER)
    for start in range(0, n, 20_000):
        batch = []
        for i in range(start, min(n, start + 20_000)):
            ts = 1_700_000_000_000 + i
            batch.append(
                NewMessage(
                    notify,
                    ts << 22,
                    OPERATOR,
                    "notify",
                    f"n{i}",
                    1,
                    "push",
                    ts,
                    ts * 1000,
                    topic=f"t{i % TOPICS}",
                )
            )
            batch.append(
                NewMessage(chat, (ts << 22) + 1, USER, "777", str(i + 1), 1, "hi", ts, ts * 1000 + 1)
            )
        await asyncio.gather(*(store.append_message(m) for m in batch))
    return (1_700_000_000_000 + n // 2) << 22


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        await call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


async def measure(n: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="store-growth-") as tmp:
        store = SqliteStore(str(Path(tmp) / "polyim.db"))
        await store.open()
        try:
            msg_id = await _fill(store, n)
            notify = ConvId.notify(USER)
            return {
                "conversation list": await _timed(lambda: store.user_conversations(USER)),
                "topic history page": await _timed(lambda: store.history(notify, 0, 30, "t3")),
                "push ack by id": await _timed(lambda: store.message_by_id(notify, msg_id)),
                "highest client id": await _timed(lambda: store.max_client_seq(USER, "777")),
            }
        finally:
            await store.close()


def main(sizes: list[int]) -> None:
    print(f"{'N':>9}  {'call':<20}{'p50 ms':>10}{'max ms':>10}")
    for n in sizes:
        for name, (p50, top) in asyncio.run(measure(n)).items():
            print(f"{n:>9,}  {name:<20}{p50:>10.3f}{top:>10.3f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10_000, 100_000])
