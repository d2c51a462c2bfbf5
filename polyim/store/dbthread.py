"""Threads that own a SQLite connection and run calls for the event loop.

SQLite is synchronous, so each connection lives on its own thread (the aiosqlite design). The writer
thread adds *grouped commits*: it drains every call queued while the previous transaction was being
committed, runs them all in one transaction and pays for one fsync, then resolves all their results
in a single loop callback. That is how an ack can wait for durability without costing throughput.
A hot caller (the message append) passes a plain callback instead of taking a future: it runs in that
same loop callback, not one loop turn later as a future's done-callbacks would.
"""

from __future__ import annotations

import _sqlite3
import asyncio
import contextlib
import ctypes
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from polyim.histogram import LATENCY_BOUNDS, SIZE_BOUNDS, Histogram

T = TypeVar("T")
Call = Callable[[sqlite3.Connection], Any]
#: ``on_done(value, exc)``: the settled result of a job submitted with :meth:`DbThread.submit`.
OnDone = Callable[[Any, BaseException | None], None]

log = logging.getLogger(__name__)

_MAX_BATCH = 1024

#: Nice steps the writer thread is favoured by, where the system allows it. On a core the event loop and
#: the writer share, the scheduler's fairness kept the writer (the step every ack waits for) waiting in
#: the run queue for a third of its time while the loop read more frames than the writer could take;
#: favoured, it runs when it can. On one core that raised 1:1 chat's msgs/s by 5-15 % and lowered its
#: p50 by as much (docs/performance.md, "fifth pass").
WRITER_PRIORITY_BOOST = 10

#: The writer leaves at least this many times the loop's time to settle its last transaction between
#: the starts of two transactions, and at most :data:`MAX_LINGER` seconds, while the server is busy
#: (:class:`Busy`). Each commit sets off a loop callback whose cost is partly per commit: an fsync's
#: CPU, and one write per connection it delivers to. A group message committed alone and fanned out to
#: 250 connections pays all of it for one message; waiting for the next lets both share it. Measured
#: (docs/performance.md, "sixth pass"): 16 cut the group's server CPU per send by a third; 64 doubled
#: the p99 at 5,000 msg/s.
LINGER_FACTOR = 16.0
#: The linger's cap: the longest a busy server's message waits for others to share its commit.
MAX_LINGER = 0.004

#: :class:`Busy` says busy once the loop's thread, or the process on all the CPUs it may run on, used
#: this share of the last :data:`BUSY_WINDOW` seconds, and idle again below :data:`IDLE_BELOW` (a
#: linger that lowers the CPU a message costs must not switch itself off at once).
BUSY_FROM = 0.85
IDLE_BELOW = 0.6
BUSY_WINDOW = 0.1


class _Job:
    """A call and where its result goes: a future (awaited) or an ``on_done`` callback (the hot path)."""

    __slots__ = ("fn", "future", "on_done")

    def __init__(self, fn: Call, future: asyncio.Future[Any] | None, on_done: OnDone | None = None) -> None:
        self.fn = fn
        self.future = future
        self.on_done = on_done


#: WAL pages written before a connection that commits copies them back into the database (SQLite's
#: default is 1,000, i.e. 4 MB). Each commit rewrites the same hot pages (the index leaves where each
#: active conversation and sender insert next) into the WAL; a checkpoint copies each page once however
#: often it was rewritten, so a longer interval copies far less. 8,000 pages (32 MB of WAL at most,
#: replayed in well under a second after a crash) gave 1:1 chat +1–9 % and the storage floor +13–20 %,
#: with the p99 at 5,000 msg/s unchanged (docs/performance.md, "sixth pass").
WAL_AUTOCHECKPOINT_PAGES = 8000

#: Seconds between the :class:`Checkpointer`'s passes while the writer commits.
CHECKPOINT_SECONDS = 0.5

#: The writer's own threshold. Only a checkpoint that catches up with the last commit lets the next
#: transaction write the WAL from its start again, and under steady commits only the writer's, run
#: between two of its transactions, does. The checkpointer has copied all but the last half second by
#: then, so that checkpoint is short; and the WAL, rewritten from its start every 32,000 pages, stays
#: below 128 MB.
WRITER_AUTOCHECKPOINT_PAGES = 4 * WAL_AUTOCHECKPOINT_PAGES

#: The writer connection's page cache, in KiB (SQLite's default is 2,000). A chat transaction of ~740
#: messages dirties ~930 pages (each conversation's place in two indexes, the table's end, the cursors):
#: with the default cache those pages were read back from the file at every commit, 0.8 ``pread`` a
#: message. The cache fills only as pages are used, so an idle server does not hold it.
WRITER_CACHE_KIB = 64 * 1024


def _blob(value: bytes) -> bytes:
    return value


# sqlite3 binds int, float, str and bytearray as they are, but sends every other value, ``bytes``
# included, through its adapter protocol: a dict miss, then ``__adapt__`` and ``__conform__`` looked up
# and not found, each failure formatting an AttributeError's message (3,300 instructions under
# callgrind, 1.0–1.4 µs a row, for the ``data`` of every message stored). With an adapter registered
# for ``bytes`` the lookup hits and one call hands the same object back.
sqlite3.register_adapter(bytes, _blob)

_SQLITE_CONFIG_MULTITHREAD = 2
_SQLITE_CONFIG_MEMSTATUS = 9


def _configure_sqlite() -> bool:
    """Put the SQLite library under Python's ``sqlite3`` in multi-thread mode, without memory
    statistics, while no connection is open; False when it cannot (then it stays as it was).

    Python's builds of SQLite run *serialized*: every API call on a connection takes that connection's
    mutex, and with memory statistics on every allocation takes a global one, some 60 lock/unlock pairs a
    message stored (4-8 % of an insert's instructions under callgrind). polyim never lets two threads
    use one connection at a time (each :class:`DbThread` owns its own), which is all multi-thread mode
    asks; nothing reads the statistics. ``sqlite3`` cannot ask for either, and the library takes both
    settings only between ``sqlite3_shutdown`` and ``sqlite3_initialize``: that is safe only while it
    holds no memory, i.e. no connection exists. Linux only: ``sqlite3_config`` is variadic, which
    ``ctypes`` calls portably only where variadic ints are passed as fixed ones."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        lib = ctypes.CDLL(_sqlite3.__file__)  # its symbols, and those of the libsqlite3 it links
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        config, initialize = lib.sqlite3_config, lib.sqlite3_initialize
        if lib.sqlite3_threadsafe() == 0 or lib.sqlite3_memory_used() != 0 or lib.sqlite3_shutdown() != 0:
            return False
    except (OSError, AttributeError):  # SQLite linked in statically, its symbols hidden
        return False
    ok = config(_SQLITE_CONFIG_MULTITHREAD) == 0 and config(_SQLITE_CONFIG_MEMSTATUS, ctypes.c_int(0)) == 0
    return bool(initialize() == 0 and ok)


#: Whether :func:`_configure_sqlite` applied (read by the tests).
SQLITE_MULTITHREAD = _configure_sqlite()


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    return conn


class DbThread:
    """Runs calls one at a time on a dedicated connection (used for reads)."""

    max_batch = 1
    priority_boost = 0

    def __init__(self, path: str, name: str) -> None:
        self._path = path
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ready = threading.Event()
        self._conn: sqlite3.Connection | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        assert self._loop is not None, "DbThread not started"
        fut: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(_Job(fn, fut))
        return fut

    def submit(self, fn: Call, on_done: OnDone) -> None:
        """Run ``fn`` like :meth:`run`; ``on_done(value, exc)`` is called in the loop callback that
        settles its batch (after COMMIT on the writer), with no future and no extra loop turn."""
        assert self._loop is not None, "DbThread not started"
        self._queue.put(_Job(fn, None, on_done))

    def _main(self) -> None:
        if self.priority_boost:
            _favour_this_thread(self.priority_boost)
        self._conn = self._open()
        self._ready.set()
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                batch = [job]
                stop = self._drain(batch)
                self._process(batch)
                if stop:
                    return
        finally:
            self._conn.close()

    def _open(self) -> sqlite3.Connection:
        return connect(self._path)

    def _drain(self, batch: list[_Job]) -> bool:
        """Take whatever else is queued (up to ``max_batch``); True when a stop request was among it."""
        while len(batch) < self.max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return False
            if more is None:
                return True
            batch.append(more)
        return False

    def _process(self, jobs: list[_Job]) -> None:
        assert self._conn is not None
        for job in jobs:
            self._settle([(job, *self._call(self._conn, job.fn))])

    @staticmethod
    def _call(conn: sqlite3.Connection, fn: Call) -> tuple[Any, BaseException | None]:
        try:
            return fn(conn), None
        except Exception as exc:
            return None, exc

    def _settle(self, results: Sequence[tuple[_Job, Any, BaseException | None]]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
            self._loop.call_soon_threadsafe(self._resolve, results)

    def _resolve(self, results: Sequence[tuple[_Job, Any, BaseException | None]]) -> None:
        """Runs on the loop: hands every result of a batch to its receiver."""
        _resolve_all(results)


class WriteHooks(Protocol):
    """Lets the store keep per-transaction state: flushed just before COMMIT, dropped on ROLLBACK."""

    def before_commit(self, conn: sqlite3.Connection) -> None: ...

    def after_rollback(self) -> None: ...


class _NoHooks:
    def before_commit(self, conn: sqlite3.Connection) -> None:
        pass

    def after_rollback(self) -> None:
        pass


class Checkpointer:
    """Copies the WAL back into the database on a thread of its own, off the commit path.

    SQLite checkpoints inside the COMMIT that crosses its threshold: that commit, and every ack and
    message waiting for it, stalled for the copy of thousands of pages (tens of ms), every second or so
    at 5,000 msg/s. A PASSIVE checkpoint from another connection copies the same pages while the writer
    goes on committing; what is left for the writer's own (:data:`WRITER_AUTOCHECKPOINT_PAGES`) is the
    last half second. At 5,000 msg/s polyim's p99 send→ack fell by half (docs/performance.md, "ninth
    pass"). It runs at normal priority, behind the writer."""

    def __init__(self, path: str, writer: WriterThread, name: str) -> None:
        self._path = path
        self._writer = writer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.passes = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _main(self) -> None:
        conn = connect(self._path)
        seen = self._writer.commits
        try:
            while not self._stop.wait(CHECKPOINT_SECONDS):
                commits = self._writer.commits
                if commits != seen:  # an idle server's WAL has nothing new to copy
                    seen = commits
                    self._pass(conn)
        finally:
            conn.close()

    def _pass(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the writer's own threshold still bounds the WAL
            log.warning("background checkpoint failed: %s", exc)
            return
        self.passes += 1


class Busy:
    """Whether the server has had CPU to spare lately: the linger's gate.

    A linger saves the loop's time only where a commit's settle has a large per-commit part (a fan-out's
    writes, one per connection, shared by the messages of one commit). A settle that costs the same per
    message (1:1 chat: an ack and a delivery each) is not made cheaper by waiting; yet its cost grows
    with the batch, and the batch with the linger, so at 5,000 1:1 msgs/s the linger ran to its cap on
    every commit and doubled the p50 and the p99 (docs/performance.md, "seventeenth pass"), on a server
    half idle. Lingering is only worth its latency when the CPU is the limit, so it waits only then.

    Read from the writer's thread between transactions: the loop thread's CPU clock (on a machine with
    cores to spare the loop is the bottleneck) and the process's, over the CPUs it may run on (where
    the writer shares the loop's core). Two clock reads every :data:`BUSY_WINDOW` seconds."""

    def __init__(self) -> None:
        self._loop_clock: int | None = None
        self._since = self._process = self._loop = 0.0
        self.busy = False
        self.busy_from = BUSY_FROM
        self.idle_below = IDLE_BELOW

    def watch(self, thread_id: int) -> None:
        """Follow the CPU time of thread ``thread_id`` (the loop's) where the system has per-thread clocks."""
        with contextlib.suppress(AttributeError, OSError):  # no pthread_getcpuclockid on this platform
            self._loop_clock = time.pthread_getcpuclockid(thread_id)
        self._mark(time.perf_counter())

    def update(self, now: float) -> bool:
        """``busy``, measured again when a window has passed since the last measurement."""
        wall = now - self._since
        if wall < BUSY_WINDOW:
            return self.busy
        process, loop = self._process, self._loop
        self._mark(now)
        share = max((self._loop - loop) / wall, (self._process - process) / wall / _cpus())
        self.busy = share >= (self.idle_below if self.busy else self.busy_from)
        return self.busy

    def _mark(self, now: float) -> None:
        self._since = now
        self._process = time.process_time()
        if self._loop_clock is not None:
            self._loop = time.clock_gettime(self._loop_clock)


def _cpus() -> int:
    """The CPUs this process may run on now (``taskset`` may change them while it runs)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class WriterThread(DbThread):
    """Runs queued calls in grouped transactions: one BEGIN/COMMIT (one fsync) per batch; a
    :class:`Checkpointer` beside it copies the WAL back into the database."""

    max_batch = _MAX_BATCH
    priority_boost = WRITER_PRIORITY_BOOST

    def __init__(self, path: str, name: str, hooks: WriteHooks | None = None) -> None:
        super().__init__(path, name)
        self._hooks: WriteHooks = hooks or _NoHooks()
        self.checkpointer = Checkpointer(path, self, f"{name}-checkpoints")
        # Written by this thread only, read by ``/metrics``: plain ints, one update per transaction.
        self.commits = 0
        self.commit_seconds = 0.0
        self.batches = Histogram(SIZE_BOUNDS)
        self.latency = Histogram(LATENCY_BOUNDS)
        self.linger_seconds = 0.0
        self.linger_factor = LINGER_FACTOR
        self.max_linger = MAX_LINGER
        self.load = Busy()
        # The loop's time to settle the last transaction (written by the loop's callback, read here: a
        # float's assignment is atomic under the GIL) and when that transaction started.
        self._settle_cost = 0.0
        self._last_start = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on the loop's thread, whose CPU clock :attr:`load` reads."""
        self.load.watch(threading.get_ident())
        super().start(loop)
        self.checkpointer.start()

    def stop(self) -> None:
        """The checkpointer first: the writer's connection, closing last, checkpoints what is left."""
        self.checkpointer.stop()
        super().stop()

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        return conn

    def backlog(self) -> int:
        return self._queue.qsize()

    def _drain(self, batch: list[_Job]) -> bool:
        """Linger, when the server is busy and the last settle was costly, then take what has been
        queued meanwhile."""
        now = time.perf_counter()
        if not self.load.update(now):
            return super()._drain(batch)
        wait = self._last_start + min(self.max_linger, self.linger_factor * self._settle_cost) - now
        if wait > 0:
            time.sleep(wait)
            self.linger_seconds += wait
        return super()._drain(batch)

    def _resolve(self, results: Sequence[tuple[_Job, Any, BaseException | None]]) -> None:
        start = time.perf_counter()
        _resolve_all(results)
        self._settle_cost = time.perf_counter() - start

    def _process(self, jobs: list[_Job]) -> None:
        """One transaction for the batch; if anything fails, isolate the failure by retrying singly."""
        conn = self._conn
        assert conn is not None
        try:
            results = self._transaction(conn, jobs)
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._hooks.after_rollback()
            if len(jobs) == 1:
                self._settle([(jobs[0], None, exc)])
                return
            for job in jobs:
                self._process([job])
            return
        self._settle(results)

    def _transaction(self, conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[_Job, Any, None]]:
        start = self._last_start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        results = [(job, job.fn(conn), None) for job in jobs]
        self._hooks.before_commit(conn)
        conn.execute("COMMIT")
        took = time.perf_counter() - start
        self.commit_seconds += took
        self.commits += 1
        self.batches.observe_count(len(jobs))
        self.latency.observe(took)
        return results


def _favour_this_thread(steps: int) -> None:
    """Lower the calling thread's nice value by ``steps``. Only Linux keeps one per thread, addressed by
    the thread's id; elsewhere that id is no process id and the thread is left alone. Lowering it needs
    CAP_SYS_NICE or a ``RLIMIT_NICE`` that allows it (systemd's ``LimitNICE=``, Docker's
    ``cap_add: [SYS_NICE]``); without either the thread keeps its priority, and says so once."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) - steps)
    except OSError as exc:
        log.info("%s keeps its scheduling priority (%s)", threading.current_thread().name, exc.strerror)


def _resolve_all(results: Sequence[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, value, exc in results:
        if job.on_done is not None:
            try:
                job.on_done(value, exc)
            except Exception:  # one failing receiver must not starve the rest of the batch
                log.exception("result callback of a database job failed")
            continue
        future = job.future
        if future is None or future.done():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
