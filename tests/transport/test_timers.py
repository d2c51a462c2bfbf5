"""The loop's timer heap: a deadline 200 ms away fires on time with 10,000 others pending, none of them
early, and a cancelled one never fires (while the loop keeps one handle, not 10,001)."""

from __future__ import annotations

import asyncio
import random
from functools import partial

from polyim.transport.timers import Timer, timer_heap


async def test_a_timer_fires_on_time_among_ten_thousand_pending() -> None:
    loop = asyncio.get_running_loop()
    heap = timer_heap()
    rng = random.Random(17)
    early: list[float] = []
    fired: list[float] = []

    def check(when: float) -> None:
        fired.append(when)
        if loop.time() < when:
            early.append(when)

    start = loop.time()
    others: list[Timer] = []
    whens = [start + rng.uniform(0.05, 5.0) for _ in range(10_000)]
    for when in whens:
        others.append(heap.call_at(when, partial(check, when)))
    cancelled = heap.call_at(start + 0.1, lambda: early.append(-1.0))
    cancelled.cancel()
    done: asyncio.Future[tuple[float, list[float]]] = loop.create_future()
    target = loop.time() + 0.2
    heap.call_later(0.2, lambda: done.set_result((loop.time(), list(fired))))
    fired_at, fired_before = await asyncio.wait_for(done, 2)
    assert target <= fired_at < target + 0.1
    assert not early  # nothing fired before its deadline, and the cancelled one not at all
    # Exactly the ones due by then (~3 %, more when a busy machine was slow to schedule them), not the rest:
    # every deadline before the 200 ms one fired ahead of it, and none that was not yet due.
    assert 0 < len(fired_before) < len(whens)
    assert (
        sum(when < target for when in whens) <= len(fired_before) <= sum(when <= fired_at for when in whens)
    )
    assert all(when <= fired_at for when in fired_before)
    for timer in others:
        timer.cancel()


async def test_deadlines_fire_in_time_order() -> None:
    loop = asyncio.get_running_loop()
    heap = timer_heap()
    order: list[int] = []
    done = loop.create_future()
    for i in (3, 1, 2):
        heap.call_later(i * 0.02, partial(order.append, i))
    heap.call_later(0.08, lambda: done.set_result(None))
    await asyncio.wait_for(done, 2)
    assert order == [1, 2, 3]


async def test_cancelled_deadlines_do_not_pile_up() -> None:
    """Connections that close long before their idle deadline leave cancelled entries; once they are
    most of the heap it is rebuilt, and the live deadlines still fire."""
    loop = asyncio.get_running_loop()
    heap = timer_heap()
    done = loop.create_future()
    heap.call_later(0.05, lambda: done.set_result(None))
    for timer in [heap.call_later(300, lambda: None) for _ in range(5_000)]:
        timer.cancel()
    assert len(heap) < 2_600  # rebuilt at least once, not 5,001 entries
    await asyncio.wait_for(done, 2)
