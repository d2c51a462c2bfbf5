"""Counting and reporting for ``polyim bench``: latency histograms, counters, the result table and JSON.

Latencies are recorded in whole microseconds into a log-linear histogram (the HdrHistogram layout
with 7 significant bits): values below 128 µs are exact, larger ones fall into buckets at most
1/64 wide (under 1.6 % relative error), and the largest value is kept exactly. Histograms and counters
of several load processes merge by addition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

_SUB = 64  # buckets per power of two above 128 µs
_EXACT = 128  # values below this are their own bucket


def bucket_of(us: int) -> int:
    """The bucket index of a latency in microseconds (negative values count as 0)."""
    if us < _EXACT:
        return max(us, 0)
    shift = us.bit_length() - 7
    return _EXACT + (shift - 1) * _SUB + ((us >> shift) - _SUB)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The smallest and largest microsecond value that falls into bucket ``index``."""
    if index < _EXACT:
        return index, index
    shift = (index - _EXACT) // _SUB + 1
    top = (index - _EXACT) % _SUB + _SUB
    return top << shift, ((top + 1) << shift) - 1


class Histogram:
    """Latency distribution in µs; percentiles come back in milliseconds."""

    __slots__ = ("buckets", "count", "max_us", "total_us")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total_us = 0
        self.max_us = 0

    def record(self, us: int) -> None:
        b = bucket_of(us)
        self.buckets[b] = self.buckets.get(b, 0) + 1
        self.count += 1
        self.total_us += us
        if us > self.max_us:
            self.max_us = us

    def merge(self, other: Histogram) -> None:
        for b, n in other.buckets.items():
            self.buckets[b] = self.buckets.get(b, 0) + n
        self.count += other.count
        self.total_us += other.total_us
        self.max_us = max(self.max_us, other.max_us)

    def percentile(self, p: float) -> float | None:
        """The nearest-rank ``p``-th percentile in ms (bucket midpoint, capped by the exact max)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(p / 100.0 * self.count))
        seen = 0
        for b in sorted(self.buckets):
            seen += self.buckets[b]
            if seen >= rank:
                low, high = bucket_bounds(b)
                return min((low + high) / 2.0, self.max_us) / 1000.0
        return self.max_us / 1000.0  # pragma: no cover - counts always add up

    @property
    def max_ms(self) -> float | None:
        return self.max_us / 1000.0 if self.count else None

    @property
    def mean_ms(self) -> float | None:
        return self.total_us / self.count / 1000.0 if self.count else None

    def to_dict(self) -> dict[str, Any]:
        return {"b": {str(k): v for k, v in self.buckets.items()}, "max": self.max_us, "sum": self.total_us}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        h = cls()
        h.buckets = {int(k): int(v) for k, v in data["b"].items()}
        h.count = sum(h.buckets.values())
        h.max_us = int(data["max"])
        h.total_us = int(data["sum"])
        return h


@dataclass
class Counters:
    """What the load clients count. ``delivered`` is distinct (message, recipient) pairs."""

    sent: int = 0
    acked: int = 0
    refused: int = 0
    delivered: int = 0
    duplicates: int = 0
    foreign: int = 0
    pings: int = 0
    pongs: int = 0
    logins: int = 0
    login_failures: int = 0
    kicked: int = 0
    errors: int = 0

    def merge(self, other: Counters) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


HIST_NAMES = ("ack", "deliver", "ping", "login")


@dataclass
class LoadReport:
    """Everything one load process measured; travels between processes as JSON."""

    counters: Counters = field(default_factory=Counters)
    hists: dict[str, Histogram] = field(default_factory=lambda: {n: Histogram() for n in HIST_NAMES})
    error_kinds: dict[str, int] = field(default_factory=dict)
    sessions: int = 0
    expected_deliveries: int = 0
    load_cpu_s: float = 0.0
    rounds: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.counters.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def merge(self, other: LoadReport) -> None:
        self.counters.merge(other.counters)
        for name, hist in other.hists.items():
            self.hists.setdefault(name, Histogram()).merge(hist)
        for kind, n in other.error_kinds.items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + n
        self.sessions += other.sessions
        self.expected_deliveries += other.expected_deliveries
        self.load_cpu_s += other.load_cpu_s
        self.rounds += other.rounds

    def to_dict(self) -> dict[str, Any]:
        return {
            "counters": asdict(self.counters),
            "hists": {k: v.to_dict() for k, v in self.hists.items()},
            "error_kinds": dict(self.error_kinds),
            "sessions": self.sessions,
            "expected_deliveries": self.expected_deliveries,
            "load_cpu_s": self.load_cpu_s,
            "rounds": list(self.rounds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadReport:
        return cls(
            counters=Counters(**data["counters"]),
            hists={k: Histogram.from_dict(v) for k, v in data["hists"].items()},
            error_kinds={str(k): int(v) for k, v in data["error_kinds"].items()},
            sessions=int(data["sessions"]),
            expected_deliveries=int(data["expected_deliveries"]),
            load_cpu_s=float(data["load_cpu_s"]),
            rounds=[float(x) for x in data["rounds"]],
        )


def merged(reports: Iterable[LoadReport]) -> LoadReport:
    total = LoadReport()
    for report in reports:
        total.merge(report)
    return total


@dataclass
class ServerFigures:
    """What the runner read from ``/proc`` about the server process (None when it has no pid)."""

    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None


@dataclass
class Result:
    """One run: the figures of the table and the JSON object."""

    scenario: str
    duration_s: float
    load: LoadReport
    server: ServerFigures
    describe: str = ""
    load_procs: int = 1
    elapsed_s: float = 0.0  # the measured window including the drain (CPU shares are of this)
    cpu_basis: str = "msgs"  # server CPU per 1,000 acked "msgs" or per 1,000 "deliveries" (fan-out)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    # -- derived figures ------------------------------------------------------------------------
    def _rate(self, n: int) -> float:
        return n / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def lost_unacked(self) -> int:
        c = self.load.counters
        return max(0, c.sent - c.acked - c.refused)

    @property
    def lost_undelivered(self) -> int:
        return max(0, self.load.expected_deliveries - self.load.counters.delivered)

    def cpu_per_1k(self, basis: str | None = None) -> float | None:
        c = self.load.counters
        count = c.delivered if (basis or self.cpu_basis) == "deliveries" else c.acked
        if self.server.cpu_s is None or not count:
            return None
        return self.server.cpu_s / count * 1000.0

    def to_json(self) -> dict[str, Any]:
        c = self.load.counters
        h = self.load.hists
        expected = self.load.expected_deliveries
        out: dict[str, Any] = {
            "scenario": self.scenario,
            "duration_s": round(self.duration_s, 3),
            "sessions": self.load.sessions,
            "sent": c.sent,
            "acked": c.acked,
            "refused": c.refused,
            "delivered": c.delivered,
            "expected_deliveries": expected,
            "sent_per_s": self._rate(c.sent),
            "acked_per_s": self._rate(c.acked),
            "delivered_per_s": self._rate(c.delivered),
            "p50_ack_ms": h["ack"].percentile(50),
            "p99_ack_ms": h["ack"].percentile(99),
            "p999_ack_ms": h["ack"].percentile(99.9),
            "max_ack_ms": h["ack"].max_ms,
            "p50_deliver_ms": h["deliver"].percentile(50),
            "p99_deliver_ms": h["deliver"].percentile(99),
            "p999_deliver_ms": h["deliver"].percentile(99.9),
            "max_deliver_ms": h["deliver"].max_ms,
            "server_cpu_s": self.server.cpu_s,
            "server_cpu_s_per_1k": self.cpu_per_1k(),
            "server_cpu_s_per_1k_basis": self.cpu_basis,
            "server_cpu_s_per_1k_deliveries": self.cpu_per_1k("deliveries"),
            "server_rss_mb": self.server.peak_rss_mb,
            "lost": self.lost_unacked + self.lost_undelivered,
            "lost_unacked": self.lost_unacked,
            "lost_undelivered": self.lost_undelivered,
            "lost_pct": 100.0 * self.lost_undelivered / expected if expected else 0.0,
            "errors": c.errors,
            "error_kinds": dict(self.load.error_kinds),
            "duplicates": c.duplicates,
            "elapsed_s": round(self.elapsed_s, 3),
            "load_cpu_s": round(self.load.load_cpu_s, 3),
            "load_procs": self.load_procs,
        }
        out.update(self._session_figures())
        out.update(self.extra)
        return out

    def _session_figures(self) -> dict[str, Any]:
        c = self.load.counters
        h = self.load.hists
        figures: dict[str, Any] = {}
        if h["ping"].count:
            figures |= {"pings": c.pings, "p50_ping_ms": h["ping"].percentile(50)}
            figures |= {"p99_ping_ms": h["ping"].percentile(99), "max_ping_ms": h["ping"].max_ms}
        if h["login"].count or c.login_failures:
            figures |= {"logins": c.logins, "login_failures": c.login_failures}
            figures |= {"logins_per_s": self._rate(c.logins), "p50_login_ms": h["login"].percentile(50)}
            figures |= {"p99_login_ms": h["login"].percentile(99), "max_login_ms": h["login"].max_ms}
        return figures

    def rss_per_session_kb(self) -> float | None:
        """Server memory growth per logged-in session (meaningful for idle and login)."""
        s = self.server
        if s.rss_before_mb is None or s.peak_rss_mb is None or not self.load.sessions:
            return None
        return (s.peak_rss_mb - s.rss_before_mb) * 1024.0 / self.load.sessions

    # -- the table --------------------------------------------------------------------------------
    def table(self) -> str:
        return "\n".join(render_table(self))


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _lat_row(name: str, hist: Histogram) -> str:
    p50, p99 = hist.percentile(50), hist.percentile(99)
    return f"  {name:<16}{_num(p50, 2):>10}{_num(p99, 2):>10}{_num(hist.max_ms, 2):>10}{hist.count:>12,}"


def render_table(r: Result) -> list[str]:
    c = r.load.counters
    h = r.load.hists
    lines = [f"polyim bench {r.scenario}  {r.describe}".rstrip()]
    lines.append(
        f"  duration {r.duration_s:.1f} s, {r.load.sessions:,} sessions, {r.load_procs} load process(es)"
    )
    if c.sent or c.delivered:
        lines.append(f"  {'':<16}{'count':>12}{'per s':>12}")
        for name, n in (
            ("sent", c.sent),
            ("acked", c.acked),
            ("refused", c.refused),
            ("delivered", c.delivered),
        ):
            lines.append(f"  {name:<16}{n:>12,}{r._rate(n):>12,.1f}")
    lines += _room_lines(r)
    lines.append(f"  {'latency (ms)':<16}{'p50':>10}{'p99':>10}{'max':>10}{'samples':>12}")
    labels = {
        "ack": "send→ack",
        "push": "push→HTTP reply",
        "deliver": "send→deliver",
        "ping": "ping→pong",
        "login": "connect→login",
    }
    for key, label in labels.items():
        hist = h.get(key)
        if hist is not None and (hist.count or (key in ("ack", "deliver") and c.sent)):
            lines.append(_lat_row(label, hist))
    lines += _server_lines(r)
    lines += _loss_lines(r)
    lines += [f"  note: {n}" for n in r.notes]
    return lines


def _room_lines(r: Result) -> list[str]:
    """The room scenario: what the expected deliveries are made of."""
    members = r.extra.get("room_sessions")
    if not isinstance(members, int):
        return []
    chats, bcs = int(r.extra.get("room_chats_acked", 0)), int(r.extra.get("room_bcs_acked", 0))
    return [
        f"  room     rid {r.extra.get('room_rid')}: {members:,} sessions in the room; {chats:,} ROOM-CHAT"
        f" + {bcs:,} ROOM-BC acked, × {members:,} = {r.load.expected_deliveries:,} expected deliveries"
    ]


def _server_lines(r: Result) -> list[str]:
    s = r.server
    wall = r.elapsed_s or r.duration_s
    pct = 100.0 * s.cpu_s / wall if s.cpu_s is not None and wall > 0 else None
    line = f"  server   cpu {_num(s.cpu_s, 2)} s ({_num(pct, 0)} % of one core)"
    line += f", {_num(r.cpu_per_1k(), 3)} cpu-s per 1,000 {r.cpu_basis}, peak RSS {_num(s.peak_rss_mb)} MB"
    lines = [line]
    per_session = r.extra.get("server_rss_per_session_kb")
    if isinstance(per_session, float):
        lines.append(
            f"  server   RSS {_num(s.rss_before_mb)} MB before logins → {_num(s.peak_rss_mb)} MB peak,"
            f" {per_session:.1f} KB per session"
        )
    load_pct = 100.0 * r.load.load_cpu_s / wall if wall > 0 else 0.0
    lines.append(
        f"  load     cpu {r.load.load_cpu_s:.2f} s ({load_pct:.0f} % of one core, all load processes)"
    )
    if r.load.counters.logins or r.load.counters.login_failures:
        c = r.load.counters
        lines.append(
            f"  logins   {c.logins:,} ok, {c.login_failures:,} failed, {r._rate(c.logins):,.1f} per s"
        )
    if r.load.rounds:
        rounds = sorted(r.load.rounds)
        lines.append(
            f"  storms   {len(rounds)} round(s), all sessions back in {_num(rounds[len(rounds) // 2], 2)} s"
            f" (median), {_num(rounds[-1], 2)} s (worst)"
        )
    return lines


def _loss_lines(r: Result) -> list[str]:
    c = r.load.counters
    j = r.to_json()
    lines = []
    if c.sent:
        lines.append(
            f"  lost     {r.lost_unacked:,} unacked (sent − acked − refused), {r.lost_undelivered:,} undelivered"
            f" (expected {r.load.expected_deliveries:,} − delivered) = {j['lost_pct']:.2f} % of deliveries"
        )
    kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(r.load.error_kinds.items()))
    extra = f" ({kinds})" if kinds else ""
    lines.append(f"  errors   {c.errors:,}{extra}; duplicates {c.duplicates:,}, kicked {c.kicked:,}")
    return lines
