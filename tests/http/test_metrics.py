"""``GET /metrics`` on a real server: the numbers follow what clients of both protocols do."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.clients import beehive as b
from tests.clients.omtp import OmtpClient
from tests.conftest import Server, start_server, write_config
from tests.e2e.beehive_pool import Beehive, beehive
from tests.e2e.conftest import Omtp, omtp

__all__ = ["beehive", "omtp"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: the figures start from zero. OMTP cuts a consumer past 64 KiB queued."""
    tmp = tmp_path_factory.mktemp("metrics")
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[omtp]\n", "[omtp]\nmax_write_buffer = 65536\n", 1), encoding="utf-8")
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


def scrape(server: Server) -> Samples:
    """Every sample of ``/metrics``, by name and labels (the ``node`` label checked and left out). No
    admin token: a scraper has none."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http}/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = resp.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = dict(s.labels)
            if s.name.startswith("polyim_"):
                assert labels.pop("node") == "1", s  # every polyim family names its node
            samples[(s.name, tuple(sorted(labels.items())))] = s.value
    return samples


def sessions(m: Samples, protocol: str) -> float:
    return m.get(("polyim_sessions", (("protocol", protocol),)), 0)


def connections(m: Samples, protocol: str, kind: str) -> float:
    return m[("polyim_connections", (("kind", kind), ("protocol", protocol)))]


async def settled(server: Server, ready: Callable[[Samples], bool]) -> Samples:
    """The first scrape that satisfies ``ready``: closes reach the server in their own time."""
    deadline = time.monotonic() + 5
    while not ready(m := scrape(server)) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return m


async def test_metrics_count_sessions_connections_rooms_and_stored_messages(
    server: Server, omtp: Omtp, beehive: Beehive
) -> None:
    before = scrape(server)
    assert before[("polyim_messages_stored_total", ())] == 0
    assert sessions(before, "omtp") == sessions(before, "beehive") == 0
    assert before[("polyim_users_online", ())] == 0
    assert before[("process_resident_memory_bytes", ())] > 0

    alice, bob = await omtp.user("alice"), await omtp.user("bob")
    lurker = await OmtpClient.connect("127.0.0.1", server.omtp)  # connected, never logged in
    carol = await beehive.user(ws=True)
    for text in ("one", "two"):
        assert (await alice.send_single(bob.uid, text)).ok
    reply = await carol.request(b.ROOM_CREAT, b.body(b.ROOM_CREAT, uid=carol.uid, name="r", desc=""))
    rid = reply.msg.rid
    joined = await carol.request(b.ROOM_JOIN, b.body(b.ROOM_JOIN, uid=carol.uid, rid=rid))
    assert joined.msg.code == 0

    during = scrape(server)
    assert during[("polyim_messages_stored_total", ())] == 2
    assert during[("polyim_store_commits_total", ())] >= 1
    assert during[("polyim_store_commit_seconds_total", ())] > 0
    assert during[("polyim_store_linger_seconds_total", ())] >= 0
    assert (sessions(during, "omtp"), sessions(during, "beehive")) == (2, 1)
    assert during[("polyim_users_online", ())] == 3
    assert connections(during, "omtp", "tcp") == 3  # the lurker counts as a connection, not a session
    assert connections(during, "beehive", "ws") == 1
    assert connections(during, "beehive", "tcp") == 0
    assert during[("polyim_rooms_active", ())] == 1 and during[("polyim_room_sessions", ())] == 1

    for client in (bob, lurker, carol):
        await client.close()
    after = await settled(server, lambda m: connections(m, "omtp", "tcp") == 1)
    assert connections(after, "beehive", "ws") == 0
    assert sessions(after, "omtp") == 1 and sessions(after, "beehive") == 0
    assert after[("polyim_room_sessions", ())] == 0
    assert after[("polyim_messages_stored_total", ())] == 2  # stored messages stay counted


def count(m: Samples, name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0)


def observations(m: Samples, name: str) -> float:
    return m[(f"{name}_count", ())]


async def test_logins_refusals_messages_fanouts_commits_and_bad_frames_are_counted(
    server: Server, omtp: Omtp
) -> None:
    """What an operator alerts on moves with what clients do over the wire: OMTP logins (and one with
    a wrong password), a 1:1 message, a frame the codec refuses."""
    before = scrape(server)
    alice, bob = await omtp.user("ma"), await omtp.user("mb")
    wrong = await omtp.connect()
    code, _ = await wrong.login(user_name=omtp.name_of(alice), password="not-the-password", device_id="x")
    assert code != 0
    assert (await alice.send_single(bob.uid, "counted")).ok
    await bob.expect_msg()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.omtp)
    writer.write(struct.pack(">I", 3))  # a frame length below 4: the codec refuses it
    assert await reader.read() == b""  # closed
    writer.close()

    after = await settled(
        server, lambda m: count(m, "polyim_errors_total", protocol="omtp", kind="bad_frame") > 0
    )

    def moved(name: str, **labels: str) -> float:
        return count(after, name, **labels) - count(before, name, **labels)

    assert moved("polyim_logins_total", protocol="omtp") == 2
    assert moved("polyim_login_failures_total", protocol="omtp", reason="auth_failed") == 1
    assert moved("polyim_messages_in_total", protocol="omtp") == 1
    assert moved("polyim_messages_out_total", protocol="omtp") == 1  # bob's one session
    assert moved("polyim_errors_total", protocol="omtp", kind="bad_frame") == 1
    assert moved("polyim_errors_total", protocol="omtp", kind="handler") == 0
    assert observations(after, "polyim_fanout_sessions") - observations(before, "polyim_fanout_sessions") == 1
    assert count(after, "polyim_fanout_sessions_bucket", le="1.0") > count(
        before, "polyim_fanout_sessions_bucket", le="1.0"
    )
    for histogram in ("polyim_store_commit_batch_calls", "polyim_store_commit_latency_seconds"):
        assert observations(after, histogram) > observations(before, histogram)
        assert count(after, f"{histogram}_bucket", le="+Inf") == observations(after, histogram)
    assert count(after, "polyim_slow_consumers_total", protocol="omtp", kind="tcp") == 0
    assert (
        count(after, "polyim_node_info", build="pure-python")
        + count(after, "polyim_node_info", build="mypyc")
        == 1
    )


async def test_a_consumer_that_stops_reading_is_cut_and_counted(server: Server, omtp: Omtp) -> None:
    """An OMTP session that stops reading while pushes of 60 kB keep coming is cut once 64 KiB wait for
    it beyond what the kernel holds, and ``polyim_slow_consumers_total`` says so."""
    client = await omtp.user("slow")
    sock = client._writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client._writer.transport.pause_reading()
    big = {"uid": int(client.uid), "text": "z" * 60_000}
    for _ in range(400):
        status, answer = server.api("POST", "/api/v1/push/user", big)
        assert status == 200
        if answer["online"] == 0:  # cut
            break
    m = await settled(
        server, lambda m: count(m, "polyim_slow_consumers_total", protocol="omtp", kind="tcp") > 0
    )
    assert count(m, "polyim_slow_consumers_total", protocol="omtp", kind="tcp") == 1
    assert answer["online"] == 0  # the cut session is gone


DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
METRIC = re.compile(r"\b((?:polyim|process)_[a-z0-9_]+)\b")


def test_the_grafana_dashboard_charts_only_what_the_server_exports(server: Server) -> None:
    """Every metric name in every panel's expression (and in the node variable's query) is a sample a
    fresh server's scrape has: a renamed metric fails here, not on an operator's empty chart."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exported = {name for name, _ in scrape(server)}
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    assert len(exprs) > len(dashboard["panels"])
    named = {name for expr in exprs for name in METRIC.findall(expr)}
    assert named - exported == set()
    assert {"polyim_logins_total", "polyim_login_failures_total", "polyim_errors_total"} <= named
    assert all(METRIC.search(expr) for expr in exprs)  # no panel without a metric of ours
