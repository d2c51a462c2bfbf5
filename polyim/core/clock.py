"""Time and id sources, kept in one place so tests and cursors agree on units."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Wall-clock time plus two node-monotonic sources.

    ``now_us`` never repeats or goes back, so activity cursors that compare µs values (OMTP hot
    sessions) never skip an update made within the same microsecond. ``next_msg_id`` yields
    time-ordered 63-bit ids: milliseconds << 22 | node (10 bits) << 12 | counter (12 bits).

    Every reading comes from ``time_ns`` (wall-clock nanoseconds), an attribute so that a test moves
    this node's time by giving it another source: the class is compiled, and neither its methods nor
    the ``time`` module it was compiled against can be patched.
    """

    def __init__(self, node_id: int = 1, time_ns: Callable[[], int] = time.time_ns) -> None:
        self.node_id = node_id & 0x3FF
        self.time_ns = time_ns
        self._last_us = 0
        self._last_ms = 0
        self._counter = 0
        # The id's time and node bits, made once a millisecond: an id has 63 bits, beyond the integers
        # mypyc keeps unboxed, so each operation on it allocates; a message pays one, not three.
        self._base = self.node_id << 12

    def now_ms(self) -> int:
        return self.time_ns() // 1_000_000

    def now_us(self) -> int:
        return self._us(self.time_ns())

    def _us(self, now_ns: int) -> int:
        now = now_ns // 1000
        self._last_us = now if now > self._last_us else self._last_us + 1
        return self._last_us

    def next_msg_id(self) -> int:
        return self._msg_id(self.now_ms())

    def stamp(self) -> tuple[int, int, int]:
        """A new message's message id, time (ms) and activity time (µs), from one reading of the clock:
        three readings cost a message three calls of ``time_ns``."""
        now_ns = self.time_ns()
        ms = now_ns // 1_000_000
        return self._msg_id(ms), ms, self._us(now_ns)

    def _msg_id(self, ms: int) -> int:
        if ms > self._last_ms:
            self._next_ms(ms)
        else:
            self._counter += 1
            if self._counter > 0xFFF:
                self._next_ms(self._last_ms + 1)
        return self._base | self._counter

    def _next_ms(self, ms: int) -> None:
        self._last_ms, self._counter = ms, 0
        self._base = (ms << 22) | (self.node_id << 12)
