"""``polyim bench``: its counts must be right. Short runs, small N, no assertions about speed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyim.bench import omtp_load
from polyim.bench.beehive_load import BeehiveSession
from polyim.bench.imlc_load import ImlcSession
from polyim.bench.load import Link, Plan, RunState, SessionSpec
from polyim.bench.scenarios import Options
from polyim.bench.stats import Histogram, bucket_bounds, bucket_of
from polyim.bench.worker import Worker
from polyim.cli import main
from polyim.core.auth import TOKEN_PREFIX
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive.codec import HEADER, HEADER_SIZE, Cmd
from polyim.protocols.imlc import codec as ic
from polyim.protocols.imlc import imlc_pb2 as ipb
from polyim.protocols.omtp import codec as c
from tests.conftest import Server, start_server

REQUIRED_KEYS = (
    "scenario",
    "duration_s",
    "sent_per_s",
    "acked_per_s",
    "delivered_per_s",
    "p50_ack_ms",
    "p99_ack_ms",
    "p99_deliver_ms",
    "server_cpu_s_per_1k",
    "server_rss_mb",
    "sessions",
    "lost",
    "errors",
)


def bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "result.json"
    assert main(["bench", *args, "--quiet", "--json", str(out)]) == 0
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def assert_consistent(r: dict[str, Any], fanout: int = 1) -> None:
    for key in REQUIRED_KEYS:
        assert key in r, key
        if key != "scenario":
            assert isinstance(r[key], int | float) and not isinstance(r[key], bool), (key, r[key])
    assert r["sent"] > 0
    assert r["sent"] >= r["acked"]
    assert r["sent"] == r["acked"] + r["refused"]
    assert r["delivered"] == r["expected_deliveries"] == fanout * r["acked"]
    assert r["lost"] == 0
    assert r["errors"] == 0
    assert r["duplicates"] == 0


# -- statistics -------------------------------------------------------------------------------------------
def test_small_latencies_are_exact() -> None:
    h = Histogram()
    for us in (10, 20, 30, 40):
        h.record(us)
    assert h.percentile(50) == 0.02
    assert h.percentile(75) == 0.03
    assert h.percentile(100) == 0.04
    assert h.max_ms == 0.04


def test_percentiles_of_known_data() -> None:
    h = Histogram()
    for ms in range(1, 1001):  # 1 … 1000 ms, once each
        h.record(ms * 1000)
    for p, expected in ((50, 500.0), (90, 900.0), (99, 990.0)):
        got = h.percentile(p)
        assert got is not None and abs(got - expected) / expected < 0.016, (p, got)
    assert h.percentile(100) == 1000.0
    assert h.max_ms == 1000.0
    assert h.count == 1000
    assert Histogram().percentile(50) is None


def test_histograms_merge_and_round_trip() -> None:
    a, b = Histogram(), Histogram()
    for us in range(0, 5000, 7):
        a.record(us)
    for us in range(100_000, 200_000, 13):
        b.record(us)
    a.merge(b)
    back = Histogram.from_dict(json.loads(json.dumps(a.to_dict())))
    assert back.count == a.count and back.max_us == a.max_us
    assert back.percentile(99) == a.percentile(99)


@pytest.mark.parametrize("us", [0, 1, 127, 128, 129, 255, 256, 1000, 65_535, 10**6, 10**9 + 7])
def test_buckets_contain_their_values(us: int) -> None:
    low, high = bucket_bounds(bucket_of(us))
    assert low <= us <= high
    assert high - low <= max(0, low // 64)


# -- frames ---------------------------------------------------------------------------------------------
def _spec(**kw: Any) -> SessionSpec:
    base: dict[str, Any] = {
        "index": 3,
        "protocol": "omtp",
        "username": "alice",
        "uid": 10001,
        "secret": "pw",
        "device_type": 2,
        "device_id": "d1",
    }
    return SessionSpec(**(base | kw))


def test_message_frames_are_the_codecs() -> None:
    spec = _spec(to="10002")
    tag = "r1.3.7.123456789"
    frame = omtp_load.MessageTemplate(spec, 64).frame(tag)
    content = tag + " " + "x" * (64 - len(tag) - 1)
    req = c.MsgReq(session_id="LP_G1_10001_10002", from_="10001", to="10002", content_type=1, content=content)
    header = c.Header(c.PackType.MSG_SINGLE_CHAT, 1, 0, tag)
    assert frame == c.encode_pack(c.Pack(header, req.encode()))
    (pack,) = c.Decoder().feed(frame)
    assert c.MsgReq.decode(pack.payload).content == content


def test_group_frame_and_receipt_are_the_codecs() -> None:
    spec = _spec(to="GC_7", msg_type=c.PackType.MSG_GROUP_CHAT)
    frame = omtp_load.MessageTemplate(spec, 300).frame("r.1.1.1")
    req = c.MsgReq.decode(c.Decoder().feed(frame)[0].payload)
    assert (req.session_id, req.to, len(req.content)) == ("GC_7", "GC_7", 300)
    receipt = omtp_load.receipt_frame(14, b"m1", b"LP_G1_10001_10002", 70000)
    ack = c.MsgAck(c.CommonErrorCode(0, ""), "LP_G1_10001_10002", 70000, 0)
    expected = c.Pack(c.Header(14, 1, c.FLAG_ACK, "m1"), ack.encode())
    assert receipt == c.encode_pack(expected)


def test_login_frame_and_header_parsing() -> None:
    frame = omtp_load.login_frame(_spec())
    (pack,) = c.Decoder().feed(frame)
    req = c.LoginReq.decode(pack.payload)
    assert (req.client_id, req.user_name, req.password, req.device_id) == ("10001", "alice", "pw", "d1")
    pushed = c.encode_pack(
        c.Pack(
            c.Header(14, 1, 0, "r.1.2.3"),
            c.MsgReq(session_id="LP_G1_1_2", seq_id=300, from_="1", to="2", content="hi").encode(),
        )
    )
    head = omtp_load.parse_head(pushed, 4, len(pushed))
    assert head is not None
    pack_type, flags, a, b, q = head
    assert (pack_type, flags, pushed[a:b]) == (14, 0, b"r.1.2.3")
    assert omtp_load.read_session_seq(pushed, q, len(pushed)) == (b"LP_G1_1_2", 300)


def _imlc_session(**kw: Any) -> tuple[ImlcSession, _Wire]:
    """An imlc load session whose writes land in a :class:`_Wire` (it needs a running loop)."""
    spec = _spec(protocol="imlc", device_id="dev-3", to="10002", **kw)
    session = ImlcSession(spec, RunState(Plan("traffic", "127.0.0.1", {}, [spec], msg_size=40)))
    link = Link(session)
    wire = _Wire()
    link.transport = wire  # type: ignore[assignment]
    session.link = link
    return session, wire


def _decoded(frame: bytes) -> tuple[ic.Frame, Any]:
    (got,) = ic.Decoder().feed(frame)
    return got, ic.decode_body(got.command, got.body) if got.body else None


async def test_imlc_login_frames_are_the_codecs() -> None:
    """A polyim token goes in ``token`` with the uid; anything else is a password login by username."""
    session, _ = _imlc_session(secret=TOKEN_PREFIX + "abc", device_type=ipb.DEVICE_CLASS_DESKTOP)
    head, req = _decoded(session.login_frame())
    assert (head.command, head.seq, head.flow) == (ic.Command.LOGIN, 1, ic.Flow.REQUEST)
    assert (req.uid, req.token, req.device_id, req.device_class) == (
        "10001",
        TOKEN_PREFIX + "abc",
        "dev-3",
        1,
    )
    assert req.WhichOneof("credential") == "token"
    session, _ = _imlc_session(secret="pw")
    _, req = _decoded(session.login_frame())
    assert (req.username, req.password, req.WhichOneof("account")) == ("alice", "pw", "username")


async def test_imlc_message_frame_ack_and_delivery() -> None:
    """MS frames carry the tag in the text and their own seq; the reply with that seq acks the send, a
    THROTTLED one backs off; an MN's text is a delivery."""
    session, wire = _imlc_session()
    session.logged_in = True
    session.state.sending = True
    session.send_one()
    await asyncio.sleep(0)
    head, msg = _decoded(wire.writes[0])
    assert head.command == ic.Command.MS and head.seq > 1
    assert (msg.message_id, msg.conversation.target, msg.conversation.type) == (1, "10002", 0)
    content = msg.message_content
    assert content.content_type == ipb.MESSAGE_CONTENT_TYPE_TEXT and len(content.searchable_content) == 40
    assert content.searchable_content.startswith(f"{session.state.plan.run_id}.3.1.")
    session.received(ic.encode_frame(ic.Command.MS, head.seq, ic.Flow.REPLY, b"", ic.Status.THROTTLED))
    assert (session.report.counters.refused, session.backoff) == (1, True)
    session.send_one()
    head2, _ = _decoded(session.message_frame(3, "r0.3.3.1"))
    session.received(ic.encode_frame(ic.Command.MS, head2.seq - 1, ic.Flow.REPLY))
    assert session.report.counters.acked == 1
    mn = ipb.Message(
        seq=4, message_content=ipb.MessageContent(content_type=1, searchable_content="r0.2.9.5 x")
    )
    session.received(ic.encode_frame(ic.Command.MN, 0, ic.Flow.NOTIFY, ic.encode_body(mn)))
    assert session.report.counters.delivered == 1


# -- the command ------------------------------------------------------------------------------------------
class _Wire:
    """A transport that records what the load writes, and when."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


async def test_a_receipt_leaves_with_the_read_that_brought_its_message() -> None:
    """Replies go out at the end of the read that caused them, not at the end of the loop turn: waiting
    for every other connection's reads made the load and the server take turns being idle."""
    plan = Plan(kind="traffic", host="127.0.0.1", ports={}, sessions=[])
    session = omtp_load.OmtpSession(_spec(), RunState(plan))
    link = Link(session)
    wire = _Wire()
    link.transport = wire  # type: ignore[assignment]
    session.link = link
    pushed = c.encode_pack(
        c.Pack(
            c.Header(14, 1, 0, "r0.4.1.1"),
            c.MsgReq(
                session_id="LP_G1_10001_10002", seq_id=9, from_="10002", to="10001", content="x"
            ).encode(),
        )
    )
    link.data_received(pushed)
    assert wire.writes == [omtp_load.receipt_frame(14, b"r0.4.1.1", b"LP_G1_10001_10002", 9)]
    await asyncio.sleep(0)
    assert len(wire.writes) == 1  # and the turn's own flush has nothing left to send


async def test_keepalive_pongs_leave_the_input_quiet_and_anything_else_does_not() -> None:
    """The join settle and the drain wait for a quiet input; the pongs of the load's own keepalives must
    not count, or with a short heartbeat neither wait would ever end (the settle gives up after 5 min)."""
    plan = Plan(kind="traffic", host="127.0.0.1", ports={}, sessions=[])
    state = RunState(plan)
    session = omtp_load.OmtpSession(_spec(), state)
    session.logged_in = True
    session.keep_alive()  # quiet since it was made: one unmeasured ping
    assert session.keepalives == 1
    pong = session.ping_frame()  # the server answers a PING with the same frame, ACK flag aside
    state.last_rx = 1.0
    session.received(pong)
    assert (session.keepalives, state.last_rx) == (0, 1.0)
    session.received(pong)  # a pong nobody waits for is input like any other
    assert state.last_rx > 1.0


async def test_the_drain_reads_what_arrived_during_a_stall_before_calling_the_input_quiet() -> None:
    """After this process stalls (descheduled, a collection), the drain's timer can run before the reads
    of what arrived meanwhile: deciding "quiet" then ends the run with deliveries unread, reported lost."""
    worker = Worker(Plan(kind="traffic", host="127.0.0.1", ports={}, sessions=[]))
    received = bytearray()

    class Reader(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.extend(data)
            worker.state.last_rx = time.monotonic()

    ours, peer = socket.socketpair()
    with ours, peer:
        await asyncio.get_running_loop().connect_accepted_socket(Reader, ours)
        worker.state.last_rx = time.monotonic()
        drain = asyncio.ensure_future(worker._drain(5.0))
        await asyncio.sleep(0.1)
        peer.send(b"during the stall")
        time.sleep(0.5)  # the stall: the loop runs nothing, the bytes wait in the socket
        await drain
    assert bytes(received) == b"during the stall"


async def test_keepalives_are_spread_over_the_heartbeat() -> None:
    """Quiet sessions ping in turns, as clients' heartbeats are spread: half a heartbeat in, about half
    of them have pinged (not all in one burst); a little after one heartbeat, every one of them."""
    specs = [_spec(index=i) for i in range(100)]
    worker = Worker(Plan("traffic", "127.0.0.1", {}, specs, heartbeat=0.5))
    for session in worker.sessions:
        session.logged_in = True  # no socket: the pings are counted, not sent
    worker._keep_alive()
    try:
        await asyncio.sleep(0.25)
        half = sum(s.keepalives for s in worker.sessions)
        await asyncio.sleep(0.35)
        assert 20 <= half <= 80
        assert all(1 <= s.keepalives <= 2 for s in worker.sessions)
    finally:
        worker.close()


def test_help_lists_the_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("chat", "group", "room", "idle", "login", "baseline"):
        assert name in out
    for option in ("--duration", "--json", "--pairs", "--sessions", "--rate", "--server-cpu", "--load-cpu"):
        assert option in out


def test_room_defaults_to_five_thousand_sessions() -> None:
    assert Options("room").sessions == 5000
    assert Options("idle").sessions == 1000
    assert Options("room", sessions=30).sessions == 30


def test_room_chat_frame() -> None:
    async def make() -> BeehiveSession:  # a session needs a running loop
        spec = _spec(protocol="beehive", device_id="1000000001", to="77", room=77)
        return BeehiveSession(spec, RunState(Plan("traffic", "127.0.0.1", {}, [spec], msg_size=40)))

    session = asyncio.run(make())
    session.hseq = 100  # the floor an ONLINE-ACK gave
    frame = session.message_frame(1, "r.3.1.5")
    cmd, length, sid, _cid, _nid, seq, _dsid, _dseq = HEADER.unpack_from(frame)
    assert (cmd, sid, seq, len(frame)) == (Cmd.ROOM_CHAT, 1000000001, 101, HEADER_SIZE + length)
    chat = pb.mesg_room_chat()
    chat.ParseFromString(frame[HEADER_SIZE:])
    assert (chat.uid, chat.rid, chat.gid, len(chat.text)) == (10001, 77, 0, 40)
    assert chat.text.startswith("r.3.1.5 ") and session.seq_to_n == {101: 1}


# -- runs against real servers ----------------------------------------------------------------------------
def test_chat_against_a_target_server(server: Server, tmp_path: Path) -> None:
    """Accounts through the admin API of a running server; every ack delivered, nothing lost."""
    r = bench(
        tmp_path,
        "chat",
        "--pairs", "3",
        "--duration", "2",
        "--target", f"omtp=127.0.0.1:{server.omtp}", f"http=127.0.0.1:{server.http}",
        "--admin-token", server.admin_token,
    )  # fmt: skip
    assert_consistent(r)
    assert r["scenario"] == "chat" and r["sessions"] == 6
    assert r["server_cpu_s_per_1k"] > 0 and r["server_rss_mb"] > 0  # the pid was found from the port


def test_chat_pingpong_on_its_own_server_in_two_load_processes(tmp_path: Path) -> None:
    r = bench(tmp_path, "chat", "--pairs", "4", "--duration", "1", "--pattern", "pingpong", "--procs", "2")
    assert_consistent(r)
    assert r["load_procs"] == 2 and r["sessions"] == 8


def test_chat_mixed_protocols(tmp_path: Path) -> None:
    """The users speak OMTP, beehive, XMMEP, TeamTalk and imlc in turn, so the pairs cross protocols
    (the third pair is imlc ↔ OMTP); paced well below the servers' rate limits."""
    r = bench(tmp_path, "chat", "--pairs", "3", "--duration", "2", "--protocol", "mixed", "--rate", "40")
    assert_consistent(r)
    assert r["refused"] == 0


def test_chat_over_teamtalk(tmp_path: Path) -> None:
    """TeamTalk sessions on the msg listener, acked by 3/2 and delivered as 3/1, unpaced."""
    r = bench(tmp_path, "chat", "--pairs", "2", "--duration", "1.5", "--protocol", "teamtalk")
    assert_consistent(r)
    assert r["refused"] == 0 and r["acked"] > 100


def test_chat_imlc_unpaced_on_the_benchs_own_server_meets_no_rate_limit(tmp_path: Path) -> None:
    r = bench(tmp_path, "chat", "--pairs", "1", "--duration", "1.5", "--protocol", "imlc")
    assert_consistent(r)
    assert r["refused"] == 0 and r["acked"] > 150  # more than 50 frames/s with a burst of 100 allow


def test_chat_imlc_pingpong(tmp_path: Path) -> None:
    r = bench(
        tmp_path, "chat", "--pairs", "3", "--duration", "1", "--protocol", "imlc", "--pattern", "pingpong"
    )
    assert_consistent(r)  # a refused turn (the rate limit) is played again, so the ping-pong goes on
    assert r["sessions"] == 6 and r["acked"] > 50


def test_chat_imlc_over_its_rate_limit_is_refused_not_lost(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unpaced, one imlc connection to a server with the default limit (the bench's own server raises
    it) sends past 50 frames/s: the excess is refused THROTTLED (9) and counted so, every acked message
    is delivered, and the connection stays open."""
    target = ["--target", f"imlc=127.0.0.1:{server.imlc}", f"http=127.0.0.1:{server.http}"]
    target += ["--admin-token", server.admin_token]
    r = bench(tmp_path, "chat", "--pairs", "1", "--duration", "2.5", "--protocol", "imlc", *target)
    assert r["refused"] > 0 and r["error_kinds"] == {"refused code 9": r["refused"]}
    assert r["delivered"] == r["expected_deliveries"] == r["acked"] > 0
    assert r["lost"] == 0 and r["errors"] == 0  # no "closed by server"
    assert "note: code 9 refusals: imlc THROTTLED" in capsys.readouterr().out  # the table says why


def test_imlc_login_storm_and_idle_against_a_target_server(server: Server, tmp_path: Path) -> None:
    """Accounts and per-device tokens through the admin API; imlc token logins and pings."""
    target = ["--target", f"imlc=127.0.0.1:{server.imlc}", f"http=127.0.0.1:{server.http}"]
    target += ["--admin-token", server.admin_token]
    r = bench(tmp_path, "login", "--protocol", "imlc", "--sessions", "6", "--duration", "1", *target)
    assert r["errors"] == 0 and r["login_failures"] == 0
    assert r["logins"] >= 6 and r["logins"] % 6 == 0
    r = bench(
        tmp_path,
        "idle",
        "--protocol",
        "imlc",
        "--sessions",
        "6",
        "--duration",
        "1.2",
        "--heartbeat",
        "0.4",
        *target,
    )
    assert r["sessions"] == 6 and r["errors"] == 0 and r["pings"] >= 12


def test_group_counts_every_recipient(tmp_path: Path) -> None:
    r = bench(tmp_path, "group", "--group-size", "12", "--group-online", "6", "--duration", "1.5")
    assert_consistent(r, fanout=5)


def test_room_reaches_every_session(tmp_path: Path) -> None:
    """Every acked ROOM-CHAT and every pushed ROOM-BC reaches all 30 sessions, the senders included. The
    load runs in a process of its own, so that the pushes' HTTP round trips are not timed behind it."""
    r = bench(tmp_path, "room", "--sessions", "30", "--duration", "2", "--senders", "3", "--bc-rate", "5")
    assert_consistent(r, fanout=30)
    assert r["load_procs"] == 1 and r["load_in_bench_process"] is False
    assert r["sessions"] == r["room_sessions"] == 30
    assert r["room_chats_acked"] > 0 and r["room_bcs_acked"] >= 5
    assert r["room_chats_acked"] + r["room_bcs_acked"] == r["acked"]
    assert r["server_cpu_s_per_1k_basis"] == "deliveries" and r["server_cpu_s_per_1k"] > 0


def test_quiet_sessions_keep_alive_past_the_servers_idle_timeout(tmp_path: Path) -> None:
    """Room members that only receive send heartbeats as a client does: with beehive's idle timeout at
    1 s and a 3 s run, no session is closed by the server and every delivery arrives."""
    srv = start_server(tmp_path, extra="idle_timeout = 1.0")  # lands in [beehive]
    try:
        r = bench(
            tmp_path,
            "room",
            "--sessions", "8",
            "--senders", "1",
            "--bc-rate", "0",
            "--rate", "20",
            "--duration", "3",
            "--heartbeat", "0.3",
            "--target", f"beehive=127.0.0.1:{srv.beehive_tcp}", f"http=127.0.0.1:{srv.http}",
            "--admin-token", srv.admin_token,
        )  # fmt: skip
    finally:
        srv.stop()
    assert_consistent(r, fanout=8)
    assert r["sessions"] == 8 and "pings" not in r  # keepalives are not measured


def test_idle_sessions_answer_every_ping(tmp_path: Path) -> None:
    r = bench(
        tmp_path, "idle", "--sessions", "20", "--duration", "1.5", "--heartbeat", "0.5", "--source-addrs", "2"
    )
    assert r["sessions"] == 20 and r["errors"] == 0
    assert r["pings"] >= 40 and r["p50_ping_ms"] is not None
    assert r["server_rss_per_session_kb"] is not None


def test_login_storm_counts_logins(tmp_path: Path) -> None:
    r = bench(tmp_path, "login", "--sessions", "10", "--duration", "1")
    assert r["errors"] == 0 and r["login_failures"] == 0
    assert r["logins"] >= 10 and r["logins"] % 10 == 0


def test_baseline_echo(tmp_path: Path) -> None:
    r = bench(tmp_path, "baseline", "--pairs", "2", "--duration", "1")
    assert_consistent(r)
    assert r["load_procs"] == 1 and r["load_in_bench_process"] is True


def test_baseline_room_fans_every_frame_out_to_every_connection(tmp_path: Path) -> None:
    """The room's ceiling: 3 of 20 connections send, the echo server writes each frame to all 20."""
    r = bench(tmp_path, "baseline", "--of", "room", "--sessions", "20", "--senders", "3", "--duration", "1")
    assert_consistent(r, fanout=20)
    assert r["sessions"] == r["room_sessions"] == 20
    assert r["room_chats_acked"] == r["acked"] > 0 and r["room_bcs_acked"] == 0
    assert Options("baseline", of="room").sessions == 5000


def test_durable_baseline_counts(tmp_path: Path) -> None:
    r = bench(tmp_path, "baseline", "--pairs", "2", "--duration", "1", "--durable")
    assert_consistent(r)
    assert r["durable"] is True


@pytest.mark.parametrize("args", [("baseline", "--of", "room"), ("chat",)])
def test_durable_is_only_for_the_chat_baseline(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *args, "--durable", "--duration", "1"]) == 2
    assert "--durable" in capsys.readouterr().err


def _durable_echo(db: Path, frames: list[bytes]) -> tuple[bytes, list[tuple[bytes, str]]]:
    """Send ``frames`` to a durable echo server, take back all of them, ``kill -9`` it: what came back,
    and the (data, client_id) of every stored row in commit order."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyim.bench.echo", "--port", "0", "--store", str(db)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"".join(frames))
            want = sum(map(len, frames))
            echoed = b""
            while len(echoed) < want:
                echoed += sock.recv(65536)
        proc.kill()
        proc.wait(10)
    finally:
        proc.kill()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return echoed, conn.execute("SELECT data, client_id FROM messages ORDER BY msg_id").fetchall()


def test_durable_echo_echoes_only_what_is_on_disk(tmp_path: Path) -> None:
    """Every frame the durable echo server has sent back is in its database after ``kill -9``."""
    frames = [struct.pack(">I", 4 + 8 + i) + bytes([i]) * (8 + i) for i in range(40)]
    echoed, rows = _durable_echo(tmp_path / "echo.db", frames)
    assert echoed == b"".join(frames)
    assert [data for data, _ in rows] == frames
    assert len({cid for _, cid in rows}) == len(frames)  # not OMTP: unique ids made up per frame


def test_durable_echo_keys_each_omtp_frame_by_its_pack_id(tmp_path: Path) -> None:
    """The floor stores the client id polyim would (the packId), so its resend index costs what
    polyim's does for the same load."""
    pack_ids = [f"r.1.{n}.{n * 7919 % 1000}" for n in (1, 10, 2, 100, 3)]
    frames = [omtp_load.frame(c.PackType.MSG_SINGLE_CHAT, 0, p.encode(), b"\x0c") for p in pack_ids]
    echoed, rows = _durable_echo(tmp_path / "echo.db", frames)
    assert echoed == b"".join(frames)
    assert rows == list(zip(frames, pack_ids, strict=True))


# -- a deliberately lossy server --------------------------------------------------------------------------
class LossyRelay(asyncio.Protocol):
    """OMTP just enough for the bench: accepts any login, acks every message, relays it to the recipient
    but drops every tenth delivery."""

    conns: dict[int, LossyRelay]
    relayed: list[int]

    def __init__(self, conns: dict[int, LossyRelay], relayed: list[int]) -> None:
        self.conns = conns
        self.relayed = relayed
        self.decoder = c.Decoder()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, header: c.Header, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(c.encode_pack(c.Pack(header, payload)))

    def reply(self, header: c.Header, payload: bytes) -> None:
        self.send(c.Header(header.type, header.version, header.flags | c.FLAG_ACK, header.pack_id), payload)

    def data_received(self, data: bytes) -> None:
        for pack in self.decoder.feed(data):
            h = pack.header
            if h.flags & c.FLAG_ACK:
                continue
            if h.type == c.PackType.LOGIN:
                uid = int(c.LoginReq.decode(pack.payload).client_id)
                self.conns[uid] = self
                self.reply(h, c.LoginResp(c.CommonErrorCode(0, ""), str(uid)).encode())
            elif h.type == c.PackType.MSG_SINGLE_CHAT:
                self.relay(h, c.MsgReq.decode(pack.payload))

    def relay(self, h: c.Header, req: c.MsgReq) -> None:
        self.relayed[0] += 1
        seq = self.relayed[0]
        self.reply(h, c.MsgAck(c.CommonErrorCode(0, ""), req.session_id, seq, 1).encode())
        peer = self.conns.get(int(req.to))
        if seq % 10 and peer is not None:
            stored = c.MsgReq(req.session_id, seq, 1, req.from_, req.to, content_type=1, content=req.content)
            peer.send(c.Header(h.type, h.version, 0, h.pack_id), stored.encode())


@contextlib.contextmanager
def lossy_server() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    conns: dict[int, LossyRelay] = {}
    relayed = [0]
    server = loop.run_until_complete(loop.create_server(lambda: LossyRelay(conns, relayed), "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.close()


def test_a_server_that_drops_every_tenth_delivery_loses_ten_percent(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.txt"
    accounts.write_text("".join(f"lossy{i} {20001 + i} pw\n" for i in range(6)))
    with lossy_server() as port:
        r = bench(
            tmp_path,
            "chat",
            "--pairs", "3",
            "--duration", "1.5",
            "--target", f"omtp=127.0.0.1:{port}",
            "--accounts", str(accounts),
            "--server-pid", "0",
            "--drain", "1",
        )  # fmt: skip
    assert r["sent"] == r["acked"] > 100
    assert r["lost_unacked"] == 0 and r["errors"] == 0
    assert abs(r["lost_pct"] - 10.0) < 0.5, r["lost_pct"]
    assert r["lost"] == r["lost_undelivered"] == r["acked"] - r["delivered"]


def test_chat_over_xmmep_tcp_and_udp(tmp_path: Path) -> None:
    """XMMEP load clients (acks by ``cid``, receipts by 172); UDP sends one datagram per message."""
    for protocol in ("xmmep", "xmmep-udp"):
        r = bench(tmp_path, "chat", "--pairs", "2", "--duration", "1", "--protocol", protocol)
        assert_consistent(r)
        assert r["sessions"] == 4 and r["refused"] == 0


def test_file_relays_every_block_of_every_transfer(tmp_path: Path) -> None:
    """TeamTalk online transfers through the file server: every pulled block arrives, MB/s reported."""
    r = bench(tmp_path, "file", "--transfers", "3", "--file-mb", "4")
    assert r["sent"] == r["acked"] == r["delivered"] == 12
    assert r["relayed_mb"] == 12 and r["relayed_mb_per_s"] > 0 and r["server_rss_mb"] > 0


# -- how cost grows (bench/growth.py) ---------------------------------------------------------------------
def test_chat_on_a_prefilled_store(tmp_path: Path) -> None:
    r = bench(tmp_path, "chat", "--pairs", "2", "--duration", "1", "--prefill", "3000")
    assert_consistent(r)
    assert (r["prefill"], r["prefill_rows"]) == (3000, 3000) and r["db_mb"] > 0


def test_history_pages_through_a_prefilled_conversation(tmp_path: Path) -> None:
    r = bench(tmp_path, "history", "--prefill", "2000", "--depth", "300", "--samples", "6")
    assert r["prefill_rows"] == 2300
    assert r["timings"]["history, newest page"]["count"] == 3
    assert r["timings"]["history, random depth"]["count"] == 3


def test_catchup_pulls_every_offline_message(tmp_path: Path) -> None:
    """The scenario fails unless each login brings back exactly the --offline unread messages."""
    r = bench(tmp_path, "catchup", "--prefill", "1000", "--offline", "450", "--convs", "3", "--samples", "2")
    assert r["timings"]["catch-up, all unread"]["count"] == 2
    assert r["timings"]["login"]["p50_ms"] > 0


def test_manyconv_lists_every_conversation(tmp_path: Path) -> None:
    """250 conversations are three pages of HOTSESSION_SYNC; the scenario checks the list is whole."""
    r = bench(tmp_path, "manyconv", "--convs", "250", "--samples", "2")
    assert r["timings"]["conversation list"]["count"] == 2
    assert r["prefill_rows"] == 500


def test_prefill_needs_the_benchs_own_server(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"omtp=127.0.0.1:{server.omtp}"
    assert main(["bench", "chat", "--target", target, "--prefill", "10", "--quiet"]) == 2
    assert "--prefill fills the bench's own server's store" in capsys.readouterr().err
