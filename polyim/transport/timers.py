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
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

# Cancelled entries tolerated before the heap is rebuilt (and only when they are most of it).
_COMPACT_AT = 1024


class Timer:
    """A deadline in a :class:`TimerHeap`; :meth:`cancel` keeps it from firing (and drops the callback,
    so a closed connection it names is not kept alive until the deadline comes due)."""

    __slots__ = ("callback", "heap", "when")

    def __init__(self, when: float, callback: Callable[[], None] | None, heap: TimerHeap) -> None:
        self.when = when
        self.callback = callback
        self.heap = heap

    def cancel(self) -> None:
        if self.callback is not None:
            self.callback = None
            self.heap.cancelled()

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
        self._cancelled = 0  # cancelled entries still in the heap

    def __len__(self) -> int:
        """Entries in the heap, cancelled ones not yet popped included."""
        return len(self._heap)

    def time(self) -> float:
        """The clock of :meth:`call_at` (the loop's)."""
        return self._loop.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, callback, self)
        heapq.heappush(self._heap, (when, next(self._order), timer))
        if when < self._armed_at:
            self._arm(when)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self._loop.time() + delay, callback)

    def cancelled(self) -> None:
        """Count a cancellation; when most of a large heap is cancelled entries (connections that
        closed long before their idle deadline), rebuild it from the live ones."""
        self._cancelled += 1
        if self._cancelled > _COMPACT_AT and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._cancelled = 0

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
            timer = heapq.heappop(heap)[2]
            callback = timer.callback
            if callback is None:
                self._cancelled -= 1
                continue
            timer.callback = None  # fired: a later cancel() is a no-op
            try:
                callback()
            except Exception:
                log.exception("timer callback failed")
            heap = self._heap  # a callback's cancel may have rebuilt it
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
            self._cancelled -= 1
        if heap:
            self._arm(heap[0][0])


T = TypeVar("T")


class PerLoop(Generic[T]):
    """One ``T`` for each event loop, made from the running loop on first use and dropped with it (a
    test suite runs many loops one after another; a server, one)."""

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._made.get(loop)
        if found is None:
            found = self._made[loop] = self._make(loop)
        return found


_heaps = PerLoop(TimerHeap)


def timer_heap() -> TimerHeap:
    """The running loop's heap, made on first use."""
    return _heaps.get()
