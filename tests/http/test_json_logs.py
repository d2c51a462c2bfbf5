"""``polyim serve --log-format json`` on a real server: every stderr line is one JSON object with the
fields a log pipeline indexes, and no password, token or message text reaches the log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from polyim.protocols.imlc import imlc_pb2 as pb
from tests.clients.imlc import Command, ImlcClient, Status
from tests.conftest import start_server, write_config

PASSWORD = "pw-Zq8-never-logged"
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
    finally:
        assert server.stop() == 0
    lines = server.log.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line, or this fails
    assert any(e["message"].endswith(f"uid {first.uid} logged in (device dev-1)") for e in entries)
    for e in entries:
        assert {"time", "level", "logger", "message", "node"} <= e.keys()
    imlc = [e for e in entries if e["logger"].startswith("polyim.protocols.imlc")]
    assert imlc and all(e["protocol"] == "imlc" for e in imlc)
    shared = [e for e in entries if e["logger"] == "polyim.protocols.channel"]
    assert shared and all("protocol" not in e for e in shared)  # the kick by the second login
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
