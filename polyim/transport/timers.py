"""One timer heap per event loop: many deadlines, one ``loop.call_at`` armed for the earliest.

A channel that needs the clock (an XMMEP resend at 2 s and 6 s, a TeamTalk file task, an HTTP guard's
header deadline) would otherwise cost the loop one ``TimerHandle`` each, every one in the loop's own heap
and every cancellation a scheduled entry that stays there until it comes due. Here a deadline is one
heap tuple; cancelling only marks it (lazy cancellation: it is skipped when popped), and the loop holds a
single handle for the earliest live deadline. Times are ``loop.time()`` (monotonic, sub-second).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)


class Timer:
    """A deadline in a :class:`TimerHeap`; :meth:`cancel` keeps it from firing."""

    __slots__ = ("callback", "when")

    def __init__(self, when: float, callback: Callable[[], None] | None) -> None:
        self.when = when
        self.callback = callback

    def cancel(self) -> None:
        self.callback = None

    @property
    def cancelled(self) -> bool:
        return self.callback is None


class TimerHeap:
    """Deadlines of one loop, earliest first; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # ties fire in the order they were set
        self._armed: asyncio.TimerHandle | None = None
        self._armed_at = float("inf")

    def __len__(self) -> int:
        """Entries in the heap, cancelled ones not yet popped included."""
        return len(self._heap)

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, callback)
        heapq.heappush(self._heap, (when, next(self._order), timer))
        if when < self._armed_at:
            self._arm(when)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self._loop.time() + delay, callback)

    def _arm(self, when: float) -> None:
        if self._armed is not None:
            self._armed.cancel()
        self._armed_at = when
        self._armed = self._loop.call_at(when, self._run)

    def _run(self) -> None:
        """Fire every deadline that is due, then arm the loop for the next live one."""
        self._armed, self._armed_at = None, float("inf")
        heap = self._heap
        now = self._loop.time()
        while heap and heap[0][0] <= now:
            callback = heapq.heappop(heap)[2].callback
            if callback is None:
                continue
            try:
                callback()
            except Exception:
                log.exception("timer callback failed")
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])


_heaps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerHeap] = weakref.WeakKeyDictionary()


def timer_heap() -> TimerHeap:
    """The running loop's heap, made on first use."""
    loop = asyncio.get_running_loop()
    heap = _heaps.get(loop)
    if heap is None:
        heap = _heaps[loop] = TimerHeap(loop)
    return heap
