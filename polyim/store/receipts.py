"""Delivery receipts coalesced in memory and written every 50 ms, for a backend that has no cheaper way.

Receipts arrive once per delivered message; their cursor writes are coalesced per (user, conversation)
and flushed together. A crash may forget the last 50 ms of receipts, which only means those messages
are offered again: at-least-once, never lost. Until their write commits, :meth:`Receipts.of` lets
reads overlay them, so a reader never sees a cursor go back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

Batch = dict[int, dict[str, int]]  # uid → conversation key → delivered seq
Write = Callable[[Batch], asyncio.Future[None]]

FLUSH_SECONDS: Final = 0.05


class Receipts:
    def __init__(self, write: Write) -> None:
        self._write = write
        self._queued: Batch = {}
        self._flushing: list[Batch] = []
        self._timer: asyncio.TimerHandle | None = None

    def note(self, uid: int, key: str, seq: int) -> None:
        mine = self._queued.get(uid)
        if mine is None:  # not setdefault: that builds a dict for every receipt, to throw it away
            mine = self._queued[uid] = {}
        if seq > mine.get(key, 0):
            mine[key] = seq
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> asyncio.Future[None] | None:
        """Write what is queued now; the write's future, None when nothing was queued."""
        self._timer = None
        if not self._queued:
            return None
        pending, self._queued = self._queued, {}
        self._flushing.append(pending)
        written = self._write(pending)
        written.add_done_callback(lambda _: self._flushing.remove(pending))
        return written

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        written = self.flush()
        if written is not None:
            await written

    def of(self, uid: int) -> dict[str, int]:
        """Receipts of ``uid`` not yet committed: queued, or in a flush whose COMMIT has not landed."""
        out: dict[str, int] = {}
        for pending in (*self._flushing, self._queued):
            for key, seq in pending.get(uid, {}).items():
                if seq > out.get(key, 0):
                    out[key] = seq
        return out
