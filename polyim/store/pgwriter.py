"""Grouped commits on one PostgreSQL connection: the asyncio twin of ``dbthread.WriterThread``.

Writes are queued in the call (so they reach the database in the order they were made) and run by one
task on one connection. Every call queued while a transaction is open joins it, so a burst of sends
costs one COMMIT (one WAL flush on the server); futures settle only after COMMIT, so an ack always
follows durability. A failing batch is rolled back and its calls retried one by one, so only the bad one
fails. A lost connection fails the calls that were on it and is made again for the next ones: while the
server is down every write fails at once (the protocols answer with their error), and nothing hangs.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from polyim.histogram import LATENCY_BOUNDS, SIZE_BOUNDS, Histogram

T = TypeVar("T")
Connection = asyncpg.Connection
Call = Callable[[Connection], Awaitable[Any]]
Connect = Callable[[], Awaitable[Connection]]

log = logging.getLogger(__name__)

_MAX_BATCH = 1024
_RETRIES = 3  # a call retried on its own after a deadlock or serialization failure with another node
_TRANSIENT = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
_BROKEN = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


class _Job:
    __slots__ = ("fn", "future", "locks_convs")

    def __init__(self, fn: Call, future: asyncio.Future[Any], locks_convs: bool) -> None:
        self.fn = fn
        self.future = future
        self.locks_convs = locks_convs


class PgWriter:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._queue: collections.deque[_Job] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._stopping = False
        self.commits = 0
        self.commit_seconds = 0.0
        self.batches = Histogram(SIZE_BOUNDS)
        self.latency = Histogram(LATENCY_BOUNDS)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._main(), name="polyim-pg-writer")

    async def stop(self) -> None:
        """Finish what is queued, then close the connection."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._conn is not None:
            await self._conn.close()

    def backlog(self) -> int:
        return len(self._queue)

    def run(
        self, fn: Callable[[Connection], Awaitable[T]], *, locks_convs: bool = False
    ) -> asyncio.Future[T]:
        """Queue ``fn`` for the next transaction; its result once that transaction committed.

        ``locks_convs``: ``fn`` updates rows of ``conversations`` (seq allocation, activity). A
        transaction holds at most one such call, so it takes those row locks in one statement, in key
        order: two nodes' grouped transactions with several such statements each, every one ordered only
        within itself, deadlocked on the conversations they share (PostgreSQL aborts one after a second,
        docs/performance.md)."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Job(fn, fut, locks_convs))
        self._wake.set()
        return fut

    def queued_last(self, fut: asyncio.Future[Any]) -> bool:
        """Whether the call of ``fut`` is still waiting, the last one queued (nothing queued after it)."""
        return bool(self._queue) and self._queue[-1].future is fut

    async def _main(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._batch()
            if self._stopping:
                return

    async def _connection(self) -> Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        return self._conn

    async def _batch(self) -> None:
        jobs: list[_Job] = []
        results: list[Any] = []
        try:
            conn = await self._connection()
            start = time.perf_counter()
            locked = False
            async with conn.transaction():
                # calls queued while this transaction runs join it (up to the batch bound), up to the
                # second one that locks conversations (run()), which starts the next transaction
                while self._queue and len(jobs) < _MAX_BATCH:
                    if self._queue[0].locks_convs and locked:
                        break
                    jobs.append(self._queue.popleft())
                    locked |= jobs[-1].locks_convs
                    results.append(await jobs[-1].fn(conn))
            took = time.perf_counter() - start
            self.commit_seconds += took
            self.commits += 1
            self.batches.observe_count(len(jobs))
            self.latency.observe(took)
        except Exception as exc:
            if self._drop_broken(exc) or not jobs:
                # No connection, or lost in the middle (perhaps after COMMIT was sent: a retry could
                # store twice): fail the batch and what is queued now, rather than let it wait.
                jobs += [self._queue.popleft() for _ in range(min(len(self._queue), _MAX_BATCH))]
                _settle_error(jobs, exc)
                return
            if len(jobs) == 1:
                await self._single(jobs[0], exc)
                return
            for job in jobs:
                await self._single(job, None)
            return
        for job, result in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    async def _single(self, job: _Job, failed: BaseException | None) -> None:
        """Run one call in a transaction of its own (after its batch failed), retried a few times after a
        deadlock with another node's writer. ``failed``: the call already failed alone with this."""
        for _ in range(_RETRIES):
            if failed is not None and not isinstance(failed, _TRANSIENT):
                break
            try:
                conn = await self._connection()
                async with conn.transaction():
                    result = await job.fn(conn)
            except Exception as exc:
                failed = exc
                if self._drop_broken(exc):
                    break
                continue
            self.commits += 1
            if not job.future.done():
                job.future.set_result(result)
            return
        assert failed is not None
        _settle_error([job], failed)

    def _drop_broken(self, exc: BaseException) -> bool:
        """Forget the connection if ``exc`` lost it (rather than refused a statement); True if so."""
        conn = self._conn
        if conn is None:
            return True
        if not conn.is_closed() and not isinstance(exc, _BROKEN):
            return False
        log.warning("PostgreSQL writer connection lost: %r", exc)
        conn.terminate()
        self._conn = None
        return True


def _settle_error(jobs: list[_Job], exc: BaseException) -> None:
    for job in jobs:
        if not job.future.done():
            job.future.set_exception(exc)
