"""The :class:`Worker` that runs one :class:`~polyim.bench.load.Plan` in a process, and that process:
``python -m polyim.bench.worker``. It sits above the protocol loads (it makes their sessions), so
``load.py``, which they subclass, imports none of them.

When one process cannot carry the load (its CPU, or its file-descriptor limit), ``polyim bench`` starts
several of these and talks to each through JSON lines:

* stdin, first line: the plan; the worker logs its sessions in and prints ``{"event": "ready", ...}``;
* stdin: ``{"go": <monotonic t0>}``; the worker runs and prints ``{"event": "progress", ...}`` lines and
  finally ``{"event": "result", "report": {...}}``;
* stdin closed (or ``{"exit": true}``): the worker closes its connections and exits.

``time.monotonic`` is one clock for every process of the machine, so a common ``t0`` and the send times
inside message tags mean the same thing in all of them.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from polyim.bench.beehive_load import BeehiveSession
from polyim.bench.imlc_load import ImlcSession
from polyim.bench.load import LoadSession, Plan, RunState, SessionSpec
from polyim.bench.omtp_load import OmtpSession
from polyim.bench.runner import raise_nofile
from polyim.bench.stats import LoadReport
from polyim.bench.teamtalk_load import TeamTalkSession
from polyim.bench.xmmep_load import XmmepSession
from polyim.runtime import tune_gc

_LOST_QUIET_S = 0.3
_DRAIN_MAX = 120.0
_SETTLE_QUIET_S = 0.5
_SETTLE_MAX = 300.0
_KEEPALIVE_SLICES = 25  # a quiet session is looked at every heartbeat, one slice of them per tick


def make_session(spec: SessionSpec, state: RunState) -> LoadSession:
    if spec.protocol == "beehive":
        return BeehiveSession(spec, state)
    if spec.protocol.startswith("xmmep"):
        return XmmepSession(spec, state)
    if spec.protocol == "teamtalk":
        return TeamTalkSession(spec, state)
    if spec.protocol == "imlc":
        return ImlcSession(spec, state)
    return OmtpSession(spec, state, echo=spec.protocol == "echo")


class Worker:
    """Runs one :class:`Plan` in this process: log everyone in, run, drain, report."""

    def __init__(self, plan: Plan, progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.plan = plan
        self.state = RunState(plan)
        self.sessions = [make_session(spec, self.state) for spec in plan.sessions]
        self.senders = [s for s in self.sessions if s.spec.to]
        self.progress = progress
        self._timers: list[asyncio.TimerHandle] = []
        self._keepalive: asyncio.TimerHandle | None = None

    async def setup(self) -> int:
        """Connect and log in every session (a bounded number at a time); returns how many are in."""
        limit = asyncio.Semaphore(self.plan.connect_concurrency)
        self._keep_alive()

        async def one(session: LoadSession) -> bool:
            async with limit:
                return await session.open(self.plan.login_timeout)

        results = await asyncio.gather(*(one(s) for s in self.sessions))
        if any(s.spec.room for s in self.sessions):
            await self._settle()
        # The load tunes its collector as the server does: with the default thresholds the collector
        # kept walking thousands of live sessions, and was a fifth of the load's CPU in a login storm.
        tune_gc()
        return sum(results)

    async def _settle(self) -> None:
        """Wait until the input has been quiet a moment: every ROOM-JOIN tells the whole room (beehive.md
        §4.4), and that backlog must not run into the measured window."""
        give_up = time.monotonic() + _SETTLE_MAX
        self.state.last_rx = time.monotonic()
        while time.monotonic() < give_up and not await self._quiet_for(_SETTLE_QUIET_S):
            await asyncio.sleep(0.05)

    async def _quiet_for(self, seconds: float) -> bool:
        """True when nothing has arrived for ``seconds``, confirmed after one more poll of the sockets:
        after a stall of this process (descheduled, a collection) the timer that asks runs before the
        reads of what arrived meanwhile, in asyncio and uvloop alike, and would call a busy input
        quiet, ending a drain with deliveries still in the socket buffers, counted as lost."""
        if time.monotonic() - self.state.last_rx < seconds:
            return False
        seen = self.state.last_rx
        await asyncio.sleep(0.01)  # a timer ahead: the loop polls the sockets before it fires
        return self.state.last_rx == seen

    async def run(self, t0: float) -> LoadReport:
        """Start at monotonic time ``t0``, run for the plan's duration, drain, and report."""
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        report = self.state.report
        report.sessions = sum(s.logged_in for s in self.sessions)
        cpu0 = time.process_time()
        self.state.measuring = True
        self.state.last_rx = time.monotonic()
        end = t0 + self.plan.duration
        if self.plan.kind == "login":
            await self._storms(end)
        elif self.plan.kind == "idle":
            await self._idle(t0, end)
        else:
            await self._traffic(end)
        self.state.measuring = False
        report.load_cpu_s = time.process_time() - cpu0
        return report

    def _keep_alive(self) -> None:
        """Every ``plan.heartbeat`` seconds, from the first login to :meth:`close`, every quiet session
        pings: through the setup, the wait for the other load processes and the run alike. The sessions
        take turns in slices, one slice per tick, as real clients' heartbeats are spread out: all at once,
        20,000 idle sessions pinged in one burst, and the measured pings queued behind it (p99 150 ms)."""
        loop = asyncio.get_running_loop()
        step = self.plan.heartbeat / _KEEPALIVE_SLICES

        def tick(k: int) -> None:
            for session in self.sessions[k::_KEEPALIVE_SLICES]:
                session.keep_alive()
            self._keepalive = loop.call_later(step, tick, (k + 1) % _KEEPALIVE_SLICES)

        self._keepalive = loop.call_later(step, tick, 0)

    def close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        for timer in self._timers:
            timer.cancel()
        for session in self.sessions:
            session.drop()

    # -- kinds of run -----------------------------------------------------------------------------------
    async def _traffic(self, end: float) -> None:
        self.state.sending = True
        plan = self.plan
        ticker: asyncio.Task[None] | None = None
        if plan.pattern == "pingpong":
            for s in self.senders:
                if s.spec.initiator and s.logged_in:
                    s.send_one()
        elif plan.rate_per_sender:
            ticker = asyncio.ensure_future(self._pace(1.0 / plan.rate_per_sender))
        else:
            for s in self.senders:
                s.fill()
        await self._sleep_until(end)
        self.state.sending = False
        if ticker is not None:
            ticker.cancel()
        await self._drain(plan.drain)

    async def _pace(self, interval: float) -> None:
        now = time.monotonic()
        for i, s in enumerate(self.senders):  # spread the senders over one interval
            s.next_t = now + interval * i / max(1, len(self.senders))
        while True:
            await asyncio.sleep(0.002)
            now = time.monotonic()
            for s in self.senders:
                s.pace(now, interval)

    async def _drain(self, quiet_limit: float) -> None:
        """Wait until every send is answered and input has been quiet a moment; give up once nothing at
        all has arrived for ``quiet_limit`` seconds (or after ``_DRAIN_MAX``)."""
        give_up = time.monotonic() + _DRAIN_MAX
        while time.monotonic() < give_up:
            answered = not any(s.pending for s in self.senders if s.logged_in)
            if await self._quiet_for(min(_LOST_QUIET_S, quiet_limit) if answered else quiet_limit):
                return
            await asyncio.sleep(0.05)

    async def _idle(self, t0: float, end: float) -> None:
        beat = self.plan.heartbeat
        loop = asyncio.get_running_loop()
        live = [s for s in self.sessions if s.logged_in]
        for i, s in enumerate(live):  # first beats spread evenly over one period
            self._schedule_ping(loop, s, t0 + beat * (i + random.random()) / max(1, len(live)), beat)
        await self._sleep_until(end)
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self._sleep_until(
            min(end + self.plan.drain, end + 2 * _LOST_QUIET_S),
            lambda: not any(s.ping_us for s in live if s.logged_in),
        )

    def _schedule_ping(
        self, loop: asyncio.AbstractEventLoop, s: LoadSession, when: float, beat: float
    ) -> None:
        def fire() -> None:
            s.ping()
            self._timers.append(loop.call_at(loop.time() + beat, fire))

        self._timers.append(loop.call_at(loop.time() + max(0.0, when - time.monotonic()), fire))

    async def _storms(self, end: float) -> None:
        """Drop every session at once and log them all in again; repeat until ``end`` (at least once)."""
        while True:
            start = time.monotonic()
            for s in self.sessions:
                s.drop()
            await asyncio.gather(*(s.open(self.plan.login_timeout) for s in self.sessions))
            self.state.report.rounds.append(time.monotonic() - start)
            if time.monotonic() + self.plan.storm_pause >= end:
                return
            await asyncio.sleep(self.plan.storm_pause)

    async def _sleep_until(self, end: float, done: Callable[[], bool] | None = None) -> None:
        """Sleep until ``end``, reporting progress every ``plan.progress`` seconds."""
        step = self.plan.progress or 0.25
        next_report = time.monotonic() + step
        while (now := time.monotonic()) < end:
            if done is not None and done():
                return
            await asyncio.sleep(max(0.0, min(end - now, next_report - now, 0.25)))
            if time.monotonic() >= next_report:
                next_report += step
                if self.progress is not None:
                    self.progress(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        c = self.state.report.counters
        return {
            "sent": c.sent,
            "acked": c.acked,
            "delivered": c.delivered,
            "logins": c.logins,
            "pongs": c.pongs,
            "errors": c.errors,
            "online": sum(s.logged_in for s in self.sessions),
        }


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _readline() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def serve() -> int:
    plan = Plan.from_dict(json.loads(await _readline()))
    worker = Worker(plan, progress=lambda snap: _emit({"event": "progress", **snap}))
    try:
        online = await worker.setup()
        _emit({"event": "ready", "online": online})
        line = await _readline()
        if not line.strip():
            return 0
        report = await worker.run(float(json.loads(line)["go"]))
        _emit({"event": "result", "report": report.to_dict()})
        await _readline()
    finally:
        worker.close()
    return 0


def main() -> int:
    from polyim.runtime import install_loop

    raise_nofile()  # the CPU mask is inherited from ``polyim bench`` (--load-cpu)
    install_loop()
    return asyncio.run(serve())


if __name__ == "__main__":
    raise SystemExit(main())
