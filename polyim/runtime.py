"""Process-wide runtime choices shared by the server and the load generator: the event loop and the
collector settings."""

from __future__ import annotations

import gc
import sys

# Young-generation collections every 700 allocations cost a chat message ~11 % of the server's CPU
# (py-spy --native): each message allocates a few dozen short-lived objects, almost none in cycles.
_GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move the long-lived objects made so far (modules, caches, listeners; the load's logged-in
    sessions) out of the collector's sight and collect the young generation less often. Cycles are
    still collected, just in larger batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def install_loop() -> None:
    """uvloop when available (design.md §8)."""
    if sys.platform != "win32":
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - uvloop is a pinned dependency
            pass
