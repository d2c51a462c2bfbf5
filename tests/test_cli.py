"""The ``polyim`` command line as an operator uses it: separate processes on one data directory."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from polyim import cli
from polyim.http import openapi
from tests.clients.omtp import PT, OmtpClient
from tests.conftest import start_server, write_config


def polyim(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polyim.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_user_commands(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    added = polyim(
        "user", "add", "alice", "--password", "pw1", "--nickname", "Al", "--email", "a@x", config=cfg
    )
    assert added.returncode == 0 and added.stdout.strip() == "10000"
    big = polyim("user", "add", "sdk", "--password", "pw", "--uid", "18600522324", config=cfg)
    assert big.stdout.strip() == "18600522324"
    assert polyim("user", "add", "ops", "--password", "pw", "--operator", config=cfg).returncode == 0
    dup = polyim("user", "add", "alice", "--password", "x", config=cfg)
    assert dup.returncode == 1 and "error" in dup.stderr

    listing = polyim("user", "list", config=cfg).stdout.splitlines()
    assert [line.split("\t")[1] for line in listing] == ["alice", "ops", "sdk"]
    shown = polyim("user", "show", "alice", config=cfg).stdout.split("\t")
    assert shown[:4] == ["10000", "alice", "Al", "a@x"] and shown[4] == "user"
    assert "operator" in polyim("user", "show", "ops", config=cfg).stdout
    assert polyim("user", "show", "nobody", config=cfg).returncode == 1

    assert polyim("user", "passwd", "alice", "--password", "pw2", config=cfg).returncode == 0
    offline = polyim("user", "disable", "sdk", config=cfg)  # no server: the database alone
    assert offline.returncode == 0 and offline.stderr.startswith("note: the running server was not told")
    assert "disabled" in polyim("user", "show", "18600522324", config=cfg).stdout


async def test_cli_changes_reach_a_running_server(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    srv = start_server(tmp_path, config=cfg)
    try:
        assert polyim("user", "add", "bob", "--password", "old", config=cfg).returncode == 0
        client = await OmtpClient.connect("127.0.0.1", srv.omtp)
        assert (await client.login(user_name="bob", password="old", device_id="d1"))[0] == 0
        await client.close()
        polyim("user", "passwd", "bob", "--password", "new", config=cfg)
        client = await OmtpClient.connect("127.0.0.1", srv.omtp)
        assert (await client.login(user_name="bob", password="old", device_id="d1"))[0] == 21
        client = await OmtpClient.connect("127.0.0.1", srv.omtp)
        assert (await client.login(user_name="bob", password="new", device_id="d1"))[0] == 0
        await client.close()
        online = await OmtpClient.connect("127.0.0.1", srv.omtp)
        assert (await online.login(user_name="bob", password="new", device_id="d1"))[0] == 0
        url = f"http://127.0.0.1:{srv.http}"
        disabled = polyim("user", "disable", "bob", "--server", url, config=cfg)
        assert disabled.returncode == 0 and disabled.stderr == ""
        await online.expect_push(PT.KICKOUT)  # the open session is kicked at once
        assert await online.wait_closed()
        client = await OmtpClient.connect("127.0.0.1", srv.omtp)
        assert (await client.login(user_name="bob", password="new", device_id="d1"))[0] == 23
    finally:
        assert srv.stop(signal.SIGTERM) == 0  # clean shutdown


def test_sigint_shuts_down_cleanly(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    assert srv.stop(signal.SIGINT) == 0


def test_db_upgrade_and_config_errors(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    first = polyim("db", "upgrade", config=cfg)
    assert first.returncode == 0 and "applied" in first.stdout
    again = polyim("db", "upgrade", config=cfg)
    assert again.returncode == 0 and "up to date" in again.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text("[omtp]\nlisten = 19000\n", encoding="utf-8")
    result = polyim("user", "list", config=bad)
    assert result.returncode == 2 and "listen" in result.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[omtp]\nno_such_key = 1\n", encoding="utf-8")
    assert polyim("user", "list", config=unknown).returncode == 2


def test_serve_refuses_an_unknown_storage_scheme_at_start(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, '[storage]\nurl = "mysql://polyim@db:3306/im"\n')
    served = polyim("serve", config=cfg)
    assert served.returncode == 2
    assert served.stderr.startswith("config error: [storage] url 'mysql://polyim@db:3306/im'")
    assert "unknown scheme 'mysql'" in served.stderr and "listening" not in served.stdout
    assert polyim("db", "upgrade", config=cfg).returncode == 2


def test_empty_config_file_works(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "polyim.cli", "user", "list", "--config", str(empty)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert (tmp_path / "polyim-data" / "polyim.db").exists()  # the default data_dir, relative to cwd


async def test_group_and_room_commands_work_through_the_running_server(tmp_path: Path) -> None:
    """``polyim group …`` and ``polyim room …`` go through the admin API: an OMTP member online hears of
    the group the operator made for its owner."""
    cfg = write_config(tmp_path)
    srv = start_server(tmp_path, config=cfg)
    url = f"http://127.0.0.1:{srv.http}"

    def op(*args: str) -> subprocess.CompletedProcess[str]:
        return polyim(*args, "--server", url, config=cfg)

    try:
        ann, ben, cid = (int(polyim("user", "add", n, "--password", "pw", config=cfg).stdout) for n in "abc")
        client = await OmtpClient.connect("127.0.0.1", srv.omtp)
        assert (await client.login(user_name="b", password="pw", device_id="d1"))[0] == 0
        made = op("group", "create", "club", "--owner", str(ann), "--member", str(ben))
        assert made.returncode == 0, made.stderr
        gid = int(made.stdout)
        _, sync = await client.expect_sync()
        assert sync.content == f"GC_{gid}"
        (line,) = op("session", "list", "--user", str(ben)).stdout.splitlines()
        sid, uid, protocol = line.split("\t")[:3]
        assert (uid, protocol) == (str(ben), "omtp")
        assert "\tomtp\t1 connections\t1 sessions" in op("node", "stats").stdout
        assert op("push", "user", str(ben), "--text", "hi").stdout.endswith("\t1 online\n")
        assert op("session", "kick", sid).returncode == 0
        assert await client.wait_closed()
        assert op("session", "kick", sid).stderr == "error: no such session\n"
        assert len(op("token", "issue", str(ben), "--device", "d1").stdout.strip()) > 20
        assert op("group", "add", str(gid), str(cid)).stdout.splitlines()[1:] == [
            f"  {ann}\towner",
            f"  {ben}\tmember",
            f"  {cid}\tmember",
        ]
        assert op("group", "remove", str(gid), str(ben)).returncode == 0
        assert op("group", "list", "--user", str(cid)).stdout.startswith(f"{gid}\tclub\towner {ann}\t")
        assert op("group", "list", "--search", "CLU").stdout.startswith(f"{gid}\tclub\t")
        assert op("group", "dismiss", str(gid)).returncode == 0
        gone = op("group", "show", str(gid))
        assert gone.returncode == 1 and gone.stderr.startswith("error: ")

        rid = int(op("room", "create", "--owner", str(ann), "--name", "hall").stdout)
        assert op("room", "show", str(rid)).stdout == f"{rid}\thall\towner {ann}\t0 sessions\topen\n"
        kicked = op("room", "kick", str(rid), str(ben))
        assert kicked.stdout.splitlines()[1] == f"  banned {ben}"
        assert op("room", "dismiss", str(rid)).returncode == 0
        assert op("room", "show", str(rid)).stderr == "error: no such room\n"
    finally:
        srv.stop()
    unreachable = op("room", "list")
    assert unreachable.returncode == 1 and "cannot reach the server" in unreachable.stderr
    no_port = polyim("room", "list", config=cfg)  # the test config listens on port 0
    assert no_port.stderr == "error: [http] listen has port 0: pass --server URL\n"


def test_an_operator_verb_loads_neither_the_protocols_nor_the_load_generators(tmp_path: Path) -> None:
    """Every command parses its arguments and reads the configuration with its protocol sections; a
    verb the running server carries out needs no more. Importing the protocols' session code, aiohttp
    and the bench's load generators for that made each such command take over a second."""
    probe = (
        "import sys; from polyim import cli; "
        "args = cli.parser().parse_args(['room', 'list', '--config', sys.argv[1]]); cli._settings(args); "
        "print('\\n'.join(sorted(sys.modules)))"
    )
    cfg = write_config(tmp_path)
    run = subprocess.run([sys.executable, "-c", probe, str(cfg)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    loaded = set(run.stdout.split())
    assert "polyim.protocols.teamtalk.settings" in loaded  # the sections were read
    heavy = {
        "aiohttp",
        "polyim.core.app",
        "polyim.bench.scenarios",
        "polyim.store.sqlite",
        "redis",
        "asyncpg",
    }
    assert not heavy & loaded
    assert not [m for m in loaded if m.endswith((".adapter", ".rooms", ".files"))]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_operator_verb_is_one_api_call_and_every_call_has_a_verb() -> None:
    """The command line's operator verbs (walked from its parser) and the admin API's operations (from
    the OpenAPI document) match one to one through ``cli.API_VERBS``."""
    commands = subcommands(cli.parser())
    verbs = {f"{name} {verb}" for name in cli.OPERATOR_COMMANDS for verb in subcommands(commands[name])}
    assert verbs == cli.API_VERBS.keys()
    documented = {
        (method.upper(), path)
        for path, item in openapi.document()["paths"].items()
        for method in item
        if path != "/api/v1/openapi.json"
    }
    calls = list(cli.API_VERBS.values())
    assert len(set(calls)) == len(calls)  # no call made by two verbs
    assert set(calls) == documented
