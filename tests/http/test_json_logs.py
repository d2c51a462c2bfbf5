"""``polyim serve --log-format json`` on a real server: every stderr line is one JSON object with the
fields a log pipeline indexes, and no password, token or message text reaches the log."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command, ImlcClient, Status
from tests.clients.omtp import OmtpClient
from tests.conftest import start_server, write_config

PASSWORD = "pw-Zq8-never-logged"


def peer_of(client: ImlcClient) -> str:
    """The client's address as the server names the connection (``conn``)."""
    host, port = client.writer.get_extra_info("sockname")[:2]
    return f"{host}:{port}"


TEXT = "body-Xk3-never-logged"


async def test_json_lines_without_secrets_or_bodies(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[server]\n", '[server]\nlog_level = "DEBUG"\n', 1), encoding="utf-8")
    server = start_server(tmp_path, config=cfg, args=("--log-format", "json"))
    try:
        _, alice = server.add_user("alice", password=PASSWORD)
        _, bob = server.add_user("bob", password=PASSWORD)
        first = await ImlcClient.connect("127.0.0.1", server.imlc)
        assert (await first.login(username=alice, password=PASSWORD)).status == Status.OK
        token = first.token
        assert token
        wrong = await ImlcClient.connect("127.0.0.1", server.imlc)
        assert (await wrong.login(username=alice, password=PASSWORD + "x")).status != Status.OK
        again = await ImlcClient.connect("127.0.0.1", server.imlc)
        assert (await again.login(uid=first.uid, token=token)).status == Status.OK
        peer = await ImlcClient.connect("127.0.0.1", server.imlc)
        assert (await peer.login(username=bob, password=PASSWORD)).status == Status.OK
        assert (await again.send(peer.uid, TEXT, message_id=1)).status == Status.OK
        mn = await peer.expect(Command.MN)
        assert mn.message_content.searchable_content == TEXT
        assert mn.conversation.type == pb.CONVERSATION_TYPE_SINGLE
        for client in (first, wrong, again, peer):
            await client.close()
        await asyncio.sleep(0.1)  # the closes reach the server before it stops
    finally:
        assert server.stop() == 0
    lines = server.log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line, or this fails
    for e in entries:
        assert {"time", "level", "logger", "message", "node"} <= e.keys() and e["node"] == 1
    imlc = [e for e in entries if e["logger"].startswith("polyim.protocols.imlc")]
    assert imlc and all(e["protocol"] == "imlc" for e in imlc)
    logged_in = [e for e in entries if e["message"].endswith(f"uid {first.uid} logged in (device dev-1)")]
    uid = int(first.uid)
    assert [(e["conn"], e["uid"]) for e in logged_in] == [(peer_of(first), uid), (peer_of(again), uid)]
    (refused,) = [e for e in entries if e["message"].startswith("login of")]
    assert (refused["protocol"], refused["conn"], refused["logger"]) == (
        "imlc",
        peer_of(wrong),
        "polyim.core.accounts",
    )
    assert "uid" not in refused  # nobody logged in on that connection
    # the kick of the first session is logged by the shared channel code while the second login runs,
    # and still names the connection it is about
    (kicked,) = [e for e in entries if e["message"].endswith("kicked (duplicate_login)")]
    assert (kicked["protocol"], kicked["conn"], kicked["uid"]) == ("imlc", peer_of(first), uid)
    whole = "\n".join(lines)
    for secret in (PASSWORD, token, TEXT, "test-admin-token"):
        assert secret not in whole


def test_the_config_key_picks_the_format_and_refuses_others(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[server]\n", '[server]\nlog_format = "xml"\n', 1), encoding="utf-8")
    run = [sys.executable, "-m", "polyim.cli", "serve", "--config", str(cfg)]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "log_format" in refused.stderr
    cfg.write_text(text.replace("[server]\n", '[server]\nlog_format = "json"\n', 1), encoding="utf-8")
    server = start_server(tmp_path, config=cfg)
    assert server.stop() == 0
    entries = [json.loads(line) for line in server.log.read_text(encoding="utf-8").splitlines()]
    assert entries[-1]["message"] == "shutting down"


async def test_text_lines_name_node_protocol_connection_and_user_without_secrets(tmp_path: Path) -> None:
    """The text format carries the same fields in brackets. OMTP logins by password and by a token
    the admin API issued, a wrong password and messages both ways, at DEBUG: no password, token or
    message text in the log."""
    cfg = write_config(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[server]\n", '[server]\nlog_level = "DEBUG"\n', 1), encoding="utf-8")
    server = start_server(tmp_path, config=cfg)
    try:
        _, alice = server.add_user("alice", password=PASSWORD)
        bob_uid, _ = server.add_user("bob", password=PASSWORD)
        token = server.api("POST", "/api/v1/tokens", {"uid": bob_uid, "device": "d1"})[1]["token"]
        a = await OmtpClient.connect("127.0.0.1", server.omtp)
        assert (await a.login(user_name=alice, password=PASSWORD, device_id="d0"))[0] == 0
        b = await OmtpClient.connect("127.0.0.1", server.omtp)
        assert (await b.login(client_id=str(bob_uid), password=token, device_id="d1"))[0] == 0
        wrong = await OmtpClient.connect("127.0.0.1", server.omtp)
        assert (await wrong.login(user_name=alice, password=PASSWORD + "x", device_id="d2"))[0] != 0
        assert (await a.send_single(b.uid, TEXT)).ok
        assert (await b.expect_msg())[1].content == TEXT
        assert (await b.send_single(a.uid, TEXT + "-back")).ok
        await a.expect_msg()
        for client in (a, b, wrong):
            await client.close()
    finally:
        assert server.stop() == 0
    lines = server.log.read_text(encoding="utf-8").splitlines()
    ours = [line for line in lines if " polyim." in line]
    assert ours and all("[node=1" in line for line in ours)
    (bob_in,) = [line for line in lines if f"uid {bob_uid} logged in" in line]
    assert "protocol=omtp conn=127.0.0.1:" in bob_in and f"uid={bob_uid}]" in bob_in
    (refused,) = [line for line in lines if "login of" in line]
    assert "protocol=omtp conn=127.0.0.1:" in refused and "uid=" not in refused
    whole = "\n".join(lines)
    for secret in (PASSWORD, token, TEXT, "test-admin-token"):
        assert secret not in whole
