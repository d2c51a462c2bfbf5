"""The protocol-independent half of a load client: what a session sends and counts, and the plan of a run.

A :class:`Plan` says who connects where and what they do; a :class:`~polyim.bench.worker.Worker`
executes it in one process and returns a :class:`~polyim.bench.stats.LoadReport`. Each session is a
:class:`LoadSession`; the protocol modules (``omtp_load``, ``beehive_load``, ``imlc_load``) subclass it
with the bytes of their wire.

Every bench message carries a *tag* ``<run>.<sender>.<n>.<send µs>`` (in the OMTP packId and at the
start of the text), so an ack names the send it answers and a receiver, in any process, computes the
send→deliver latency from ``time.monotonic`` (one clock for the whole machine) and counts each
(sender, n) once per recipient.
"""

from __future__ import annotations

import asyncio
import errno
import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from polyim.bench.stats import LoadReport

BACKOFF_CODES = frozenset({7, 10023})  # "slow down": OMTP EC_SERVER_REFUSED, beehive rate limit
BACKOFF_S = 0.05
_LOGIN_FAILURES = {-1: "login timeout", -2: "closed during login", -3: "bad login reply"}


@dataclass
class SessionSpec:
    """One connection of the load: its account, its device and what it sends to whom."""

    index: int
    protocol: str  # "omtp", "beehive", "imlc" or "echo"
    username: str
    uid: int
    secret: str  # a polyim token or the password
    device_type: int  # OMTP DEVICE_TYPE, beehive terminal, imlc DeviceClass
    device_id: str  # OMTP deviceId, imlc device_id; beehive: the decimal sid
    to: str = ""  # OMTP ``to``: a decimal uid or GC_<gid>; "" = this session does not send
    to_uid: int = 0
    msg_type: int = 14
    fanout: int = 1  # recipients an acked message of this session must reach
    peer: int = -1  # ping-pong partner's index
    initiator: bool = False
    local_addr: str = ""
    room: int = 0  # beehive: the rid this session joins after its login (and sends ROOM-CHAT to)


@dataclass
class Plan:
    """What one load process does. Travels to worker processes as JSON."""

    kind: str  # "traffic", "idle" or "login"
    host: str
    ports: dict[str, int]
    sessions: list[SessionSpec]
    run_id: str = "r0"
    pattern: str = "stream"  # "stream" or "pingpong"
    duration: float = 10.0
    drain: float = 5.0
    rate_per_sender: float = 0.0  # 0: as fast as the window allows
    window: int = 8
    heartbeat: float = 25.0
    msg_size: int = 64
    receipts: bool = True
    storm_pause: float = 0.5
    connect_concurrency: int = 256
    login_timeout: float = 60.0
    progress: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        fields_ = dict(data)
        fields_["sessions"] = [SessionSpec(**s) for s in data["sessions"]]
        return cls(**fields_)


@dataclass
class RunState:
    """Shared by every session of a worker."""

    plan: Plan
    report: LoadReport = field(default_factory=LoadReport)
    sending: bool = False
    measuring: bool = False
    last_rx: float = 0.0


def now_us() -> int:
    return int(time.monotonic() * 1_000_000)


class Link(asyncio.Protocol):
    """One TCP connection of a session. A fresh Link per connect, so a late ``connection_lost`` of an
    aborted connection never touches the session's next one."""

    __slots__ = ("session", "transport")

    def __init__(self, session: LoadSession) -> None:
        self.session = session
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        if self.session.link is self:
            self.session.received(data)
            self.session.flush_replies()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session.link is self:
            self.session.lost(exc)


class LoadSession:
    """A client session: connect, log in, send tagged messages, count acks and deliveries."""

    #: The refusal codes of this protocol that say "slow down" (a send refused with one pauses sends).
    backoff_codes: ClassVar[frozenset[int]] = BACKOFF_CODES

    def __init__(self, spec: SessionSpec, state: RunState) -> None:
        self.spec = spec
        self.state = state
        self.report = state.report
        self.link: Link | None = None
        self.logged_in = False
        self.waiter: asyncio.Future[int] | None = None
        self.n = 0
        self.pending: dict[int, int] = {}
        self.next_t = 0.0
        self.seen: dict[int, bytearray] = {}
        self.ping_us = 0
        self.keepalives = 0  # unmeasured pings in flight, answered before any measured one
        self.writes = 0
        self._writes_seen = 0
        self.backoff = False
        self.retry = False
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._loop = asyncio.get_running_loop()

    # -- what a protocol provides ------------------------------------------------------------------
    def reset_stream(self) -> None:
        """Forget partial input of the previous connection."""

    def login_frame(self) -> bytes:
        raise NotImplementedError

    def message_frame(self, n: int, tag: str) -> bytes:
        raise NotImplementedError

    def ping_frame(self) -> bytes:
        raise NotImplementedError

    def received(self, data: bytes) -> None:
        raise NotImplementedError

    def port(self) -> int:
        return self.state.plan.ports[self.spec.protocol]

    # -- connection ----------------------------------------------------------------------------------
    async def open(self, timeout: float) -> bool:
        """Connect and log in; True when the login was accepted. Counted as a login while measuring."""
        self.drop()
        self.reset_stream()
        self.logged_in = False
        self.ping_us = self.keepalives = 0
        start = now_us()
        self.waiter = self._loop.create_future()
        link = Link(self)
        self.link = link
        local = (self.spec.local_addr, 0) if self.spec.local_addr else None
        # asyncio.timeout rather than wait_for: no extra task per step (a storm opens thousands at once)
        try:
            async with asyncio.timeout(timeout):
                await self._loop.create_connection(
                    lambda: link, self.state.plan.host, self.port(), local_addr=local
                )
        except (OSError, TimeoutError) as exc:
            self.link = None
            self._login_failed(f"connect {_errname(exc)}")
            return False
        self.write(self.login_frame())
        try:
            async with asyncio.timeout(timeout):
                code = await self.waiter
        except TimeoutError:
            code = -1
        return self._login_done(code, start)

    def _login_done(self, code: int, start: int) -> bool:
        if code != 0:
            self._login_failed(self.failure_kind(code))
            self.drop()
            return False
        self.logged_in = True
        if self.state.measuring:
            self.report.counters.logins += 1
            self.report.hists["login"].record(now_us() - start)
        return True

    def _login_failed(self, kind: str) -> None:
        if self.state.measuring:
            self.report.counters.login_failures += 1
        self.report.error(kind)

    def failure_kind(self, code: int) -> str:
        """How a refused login is counted among the errors."""
        return _LOGIN_FAILURES.get(code, f"login code {code}")

    def login_result(self, code: int, uid: int = 0) -> None:
        if uid and not self.spec.uid:
            self.spec.uid = uid
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(code)

    def drop(self) -> None:
        """Close the connection at once (RST), as a dropped network would."""
        link, self.link = self.link, None
        self.logged_in = False
        self._out.clear()
        if link is not None and link.transport is not None:
            link.transport.abort()

    def lost(self, exc: Exception | None) -> None:
        self.link = None
        was_in = self.logged_in
        self.logged_in = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(-2)
            return
        if was_in:
            self.report.error("closed by server" if exc is None else f"connection {_errname(exc)}")

    def kicked(self) -> None:
        self.report.counters.kicked += 1

    # -- output --------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Queue bytes; everything queued in one loop turn goes out in one write."""
        self.writes += 1
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def flush_replies(self) -> None:
        """Send what the frames just read produced (receipts, the next sends of the window) at once, as a
        client would. Left to the end of the loop turn, they waited for every other connection's reads
        too, and the load and the server took turns being idle: the group scenario ran with both under
        70 % busy and 63–68k deliveries/s, against 80–91k with replies flushed per read."""
        if self._out:
            self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        out = self._out
        link = self.link
        if out and link is not None and link.transport is not None:
            link.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    # -- sending ---------------------------------------------------------------------------------------
    def send_one(self) -> None:
        self.n += 1
        n = self.n
        t = now_us()
        tag = f"{self.state.plan.run_id}.{self.spec.index}.{n}.{t}"
        self.pending[n] = t
        self.report.counters.sent += 1
        self.write(self.message_frame(n, tag))

    def fill(self) -> None:
        """Window mode: top up the in-flight sends."""
        window = self.state.plan.window
        while self.logged_in and not self.backoff and len(self.pending) < window and self.state.sending:
            self.send_one()

    def slow_down(self) -> None:
        """The server refused a send as too fast: pause this connection's sends briefly, as a client would."""
        if not self.backoff:
            self.backoff = True
            self._loop.call_later(BACKOFF_S, self._resume)

    def _resume(self) -> None:
        self.backoff = False
        plan = self.state.plan
        if not self.state.sending:
            return
        if plan.pattern == "pingpong":
            if self.retry:  # the refused turn of the ping-pong is played again
                self.retry = False
                self.send_one()
        elif not plan.rate_per_sender:
            self.fill()

    def pace(self, now: float, interval: float) -> None:
        """Rate mode: send what is due by ``now``; an overloaded server may push us back 100 ms at most."""
        if self.next_t < now - 0.1:
            self.next_t = now - 0.1
        window = self.state.plan.window
        while self.next_t <= now and self.logged_in and not self.backoff and len(self.pending) < window:
            self.send_one()
            self.next_t += interval

    def ping(self) -> None:
        if self.logged_in and not self.ping_us:
            self.ping_us = now_us()
            self.report.counters.pings += 1
            self.write(self.ping_frame())

    def keep_alive(self) -> None:
        """Ping if nothing was written since the last call, as a client's heartbeat does: a session that
        only receives (a room member, a load waiting through a long join phase) would otherwise reach the
        server's idle timeout and be closed. These pings are not measured. The echo server has no
        heartbeat to keep (its idle timeout is an hour) and would fan a ping out to a whole room."""
        if self.logged_in and self.writes == self._writes_seen and self.spec.protocol != "echo":
            self.keepalives += 1
            self.write(self.ping_frame())
        self._writes_seen = self.writes

    # -- input ----------------------------------------------------------------------------------------
    def acked(self, n: int, code: int) -> None:
        t = self.pending.pop(n, None)
        if t is None:
            self.report.counters.duplicates += 1
            return
        counters = self.report.counters
        if code == 0:
            counters.acked += 1
            self.report.hists["ack"].record(now_us() - t)
            self.report.expected_deliveries += self.spec.fanout
        else:
            counters.refused += 1
            kind = f"refused code {code}"
            self.report.error_kinds[kind] = self.report.error_kinds.get(kind, 0) + 1
            if self.state.plan.pattern == "pingpong":
                self.retry = True
                self.slow_down()
            elif code in self.backoff_codes:
                self.slow_down()
        state = self.state
        if state.sending and state.plan.pattern == "stream" and not state.plan.rate_per_sender:
            self.fill()

    def delivered(self, tag: str) -> None:
        parts = tag.split(".", 4)
        if len(parts) < 4 or parts[0] != self.state.plan.run_id:
            self.report.counters.foreign += 1
            return
        try:
            sender, n, t = int(parts[1]), int(parts[2]), int(parts[3])
        except ValueError:
            self.report.counters.foreign += 1
            return
        if not self._meant_for_me(sender):
            self.report.error("misrouted delivery")
            return
        if not self._first(sender, n):
            self.report.counters.duplicates += 1
            return
        self.report.counters.delivered += 1
        self.report.hists["deliver"].record(now_us() - t)
        state = self.state
        if state.sending and state.plan.pattern == "pingpong" and sender == self.spec.peer:
            self.send_one()

    def _meant_for_me(self, sender: int) -> bool:
        """A 1:1 message must come from this session's partner (or itself, from an echo server); a group
        message never comes back to the session that sent it; in a room everything reaches everyone,
        the sender included."""
        spec = self.spec
        if spec.room:
            return True
        if spec.protocol == "echo":
            return sender == spec.index
        if spec.msg_type == 14 and spec.peer >= 0:
            return sender == spec.peer
        return sender != spec.index

    def _first(self, sender: int, n: int) -> bool:
        """True the first time (sender, n) arrives here: one bit per message in a growing bitmap."""
        bits = self.seen.get(sender)
        if bits is None:
            bits = self.seen[sender] = bytearray(64)
        byte, bit = n >> 3, 1 << (n & 7)
        if byte >= len(bits):
            bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
        if bits[byte] & bit:
            return False
        bits[byte] |= bit
        return True

    def heard(self, frames: int, keepalives_before: int) -> None:
        """After a read of ``frames`` whole frames: anything but keepalive pongs restarts the quiet clock
        that the join settle and the drain wait on; pongs alone would keep it from ever running out."""
        if frames > keepalives_before - self.keepalives:
            self.state.last_rx = time.monotonic()

    def pong(self) -> None:
        if self.keepalives:  # pongs come back in order: an earlier keepalive's is first
            self.keepalives -= 1
        elif self.ping_us:
            self.report.counters.pongs += 1
            self.report.hists["ping"].record(now_us() - self.ping_us)
            self.ping_us = 0


def _errname(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError) and exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__
