"""A histogram cheap enough to observe on a hot path: fixed bucket bounds, one ``bisect`` and three
integer updates per observation, no lock. ``/metrics`` reads it when scraped.

Its own module, beside ``model.py`` and ``pending.py``, because both the core (fan-out sizes) and the
store (commit batches and latency) keep one, and the store imports nothing from the core.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

#: Sizes: sessions reached by one delivery, calls in one write transaction.
SIZE_BOUNDS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000)
#: Seconds: one write transaction, BEGIN to COMMIT.
LATENCY_BOUNDS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


_SMALL: Final = 64


class Histogram:
    """Counts per bucket (``counts[i]``: observations ≤ ``bounds[i]`` and above the bound before it;
    the last entry: above every bound) and their sum. Written by one thread (the loop, or a store's
    writer thread); a scrape from another reads plain ints, at worst one observation behind."""

    __slots__ = ("_small", "bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        #: The bucket of each count below 64, looked up: a fan-out is observed on every delivery.
        self._small = [bisect_left(self.bounds, n) for n in range(_SMALL)]

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_count(self, n: int) -> None:
        """:meth:`observe` of a whole number (a size), without the search when it is small."""
        self.counts[self._small[n] if 0 <= n < _SMALL else bisect_left(self.bounds, n)] += 1
        self.sum += n

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus's buckets: (upper bound as text, observations at or below it), ``+Inf`` last."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), list(self.counts), strict=True):
            total += n
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), total))
        return out
