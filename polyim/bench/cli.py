"""The ``polyim bench`` subcommand: its arguments and what it prints."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from polyim.bench.names import SCENARIOS

USAGE_EPILOG = """\
scenarios:
  chat      --pairs N pairs of users send 1:1 messages both ways (--pattern stream|pingpong,
            --protocol omtp|beehive|imlc|xmmep|xmmep-udp|teamtalk|mixed)
  group     a --group-size (500) member group, half online, every online member sending
  room      one room of --sessions (5,000) beehive sessions: --senders (5) of them send ROOM-CHAT,
            and --bc-rate ROOM-BC per second are pushed through POST /room/push; every message must
            reach every session in the room
  idle      --sessions M logged-in sessions with heartbeats and no traffic
  login     reconnect storm: --sessions M sessions drop and log in again at once, repeatedly
  baseline  the load of --of chat|idle|login|room against a bare echo server built from polyim's
            transport layer: the socket-layer ceiling the other figures can be read against
            (room: every frame goes to all --sessions connections, --senders of them sending;
            chat --durable: each frame is committed to SQLite before it is echoed, the storage floor)
  file      --transfers (20) TeamTalk online transfers of --file-mb (100) MB at once, relayed by the
            file server: relayed MB/s and the server's peak memory (--window pulls in flight, 4)
  history   an OMTP user pages through a --depth (10,000) message conversation: HISTORY_MSG_PULL p50/p99
  catchup   an OMTP user with --offline (1,000) unread messages from --convs (10) peers logs in and
            pulls them all: login, conversation list and whole catch-up p50/p99 over --samples logins
  manyconv  an OMTP user with --convs (5,000) conversations logs in and reads its conversation list

--prefill N stores N messages (1:1, among users who never log in) in the own server's store before it
starts, outside the timed part (chat and the three above): how cost grows with what is stored.

Without --target a server is started on a temporary data dir (ports 0) and stopped afterwards.
--target takes KIND=HOST:PORT items (omtp=…, beehive=…, imlc=…, xmmep=…, xmmep-udp=…, http=…); accounts are then made through
the admin API (http=… and --admin-token) or read from --accounts FILE (lines "username uid password").
"""


def _cpu(value: str) -> int:
    cpu = int(value)
    if cpu < 0:
        raise argparse.ArgumentTypeError("a CPU number is >= 0")
    return cpu


# (flags, keyword arguments) of every option, in the order ``--help`` lists them.
_LOAD_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--duration", {"type": float, "default": 10.0, "metavar": "S", "help": "seconds of load (default 10)"}),
    ("--json", {"dest": "json_path", "metavar": "FILE", "help": "also write the figures as one JSON object"}),
    (
        "--pairs",
        {"type": int, "default": 10, "metavar": "N", "help": "chat/baseline: user pairs (default 10)"},
    ),
    (
        "--sessions",
        {
            "type": int,
            "default": 0,
            "metavar": "M",
            "help": "idle/login: sessions (default 1000); room: sessions in the room (default 5000)",
        },
    ),
    (
        "--rate",
        {
            "type": float,
            "default": 0.0,
            "metavar": "R",
            "help": "offered messages/s in total; 0 = as fast as the --window allows (default)",
        },
    ),
    (
        "--window",
        {
            "type": int,
            "metavar": "W",
            "help": "sends in flight per connection when --rate is 0 (chat 8, group and room 1)",
        },
    ),
    ("--pattern", {"choices": ("stream", "pingpong"), "default": "stream", "help": "chat/baseline traffic"}),
    (
        "--protocol",
        {
            "choices": ("omtp", "beehive", "imlc", "xmmep", "xmmep-udp", "teamtalk", "mixed"),
            "default": "omtp",
            "help": "wire protocol of the load (mixed: OMTP, beehive, XMMEP, TeamTalk and imlc users in turn)",
        },
    ),
    ("--server-cpu", {"type": _cpu, "metavar": "C", "help": "pin the server to this CPU"}),
    ("--load-cpu", {"type": _cpu, "metavar": "C", "help": "pin the load processes to this CPU"}),
]
_TARGET_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--target",
        {
            "nargs": "+",
            "default": [],
            "metavar": "KIND=HOST:PORT",
            "help": "a running server instead of starting one (omtp=…, beehive=…, imlc=…, xmmep=…, http=…)",
        },
    ),
    ("--admin-token", {"default": "", "help": "the target's admin token (to create accounts)"}),
    ("--accounts", {"metavar": "FILE", "help": "target accounts as 'username uid password' lines"}),
    ("--server-pid", {"type": int, "help": "pid of the target server (found from its port if local)"}),
]
_SCENARIO_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--transfers",
        {"type": int, "default": 20, "metavar": "N", "help": "file: transfers at once (default 20)"},
    ),
    (
        "--file-mb",
        {"type": int, "default": 100, "metavar": "MB", "help": "file: size of each file (default 100)"},
    ),
    (
        "--of",
        {
            "choices": ("chat", "idle", "login", "room"),
            "default": "chat",
            "help": "baseline: whose load to run against the echo server (default chat)",
        },
    ),
    (
        "--durable",
        {
            "action": "store_true",
            "help": "baseline --of chat: the echo server commits each frame to SQLite before echoing it",
        },
    ),
    ("--group-size", {"type": int, "default": 500, "help": "group: members (default 500)"}),
    (
        "--senders",
        {"type": int, "default": 5, "metavar": "N", "help": "room: sessions sending ROOM-CHAT (default 5)"},
    ),
    (
        "--bc-rate",
        {
            "type": float,
            "default": 2.0,
            "metavar": "R",
            "help": "room: ROOM-BC pushes per second through POST /room/push (default 2; 0 = none)",
        },
    ),
    ("--group-online", {"type": int, "default": 0, "help": "group: members online (default half)"}),
    (
        "--heartbeat",
        {
            "type": float,
            "default": 25.0,
            "metavar": "S",
            "help": "seconds between pings: measured in idle; elsewhere a keepalive of quiet sessions (default 25)",
        },
    ),
    (
        "--msg-size",
        {"type": int, "default": 64, "metavar": "B", "help": "message content bytes (default 64)"},
    ),
    (
        "--no-receipts",
        {
            "dest": "receipts",
            "action": "store_false",
            "help": "do not acknowledge delivered messages (clients normally do)",
        },
    ),
    ("--auth", {"choices": ("token", "password"), "default": "token", "help": "how sessions log in"}),
]
_RUN_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--nodes",
        {
            "type": int,
            "metavar": "N",
            "help": "N nodes on a throw-away PostgreSQL and Redis, one port set (default: one node on SQLite)",
        },
    ),
    ("--procs", {"type": int, "default": 0, "metavar": "P", "help": "load processes (default: as needed)"}),
    (
        "--source-addrs",
        {
            "type": int,
            "default": 0,
            "metavar": "K",
            "help": "spread connections over 127.0.0.1 … 127.0.0.K (default: one per 16,000)",
        },
    ),
    (
        "--drain",
        {
            "type": float,
            "default": 5.0,
            "metavar": "S",
            "help": "at the end, stop waiting for answers after S s without any input (default 5)",
        },
    ),
    ("--login-timeout", {"type": float, "default": 60.0, "metavar": "S", "help": "per login (default 60)"}),
    (
        "--progress",
        {"type": float, "metavar": "S", "help": "progress line interval (default 5 s on runs ≥ 10 s)"},
    ),
    ("--quiet", {"action": "store_true", "help": "print only the result table"}),
    (
        "--profile",
        {
            "metavar": "FILE",
            "help": "py-spy the server over the run (.svg flame graph, .json speedscope, else collapsed)",
        },
    ),
]

_GROWTH_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--prefill",
        {
            "type": int,
            "default": 0,
            "metavar": "N",
            "help": "store N messages before the own server starts (outside the timing; default 0)",
        },
    ),
    ("--depth", {"type": int, "default": 10_000, "metavar": "D", "help": "history: conversation length"}),
    ("--offline", {"type": int, "default": 1000, "metavar": "M", "help": "catchup: unread messages"}),
    (
        "--convs",
        {
            "type": int,
            "default": 0,
            "metavar": "K",
            "help": "catchup: peers (10); manyconv: conversations (5000)",
        },
    ),
    (
        "--samples",
        {
            "type": int,
            "default": 0,
            "metavar": "S",
            "help": "history: pages (400); catchup, manyconv: logins (20)",
        },
    ),
]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="load generator: run a scenario against a server and print one result table",
        description="Run a load scenario over the real wire protocols and print one result table.",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", choices=SCENARIOS, metavar="SCENARIO", help=" | ".join(SCENARIOS))
    for flag, kwargs in _LOAD_OPTIONS + _TARGET_OPTIONS + _SCENARIO_OPTIONS + _RUN_OPTIONS + _GROWTH_OPTIONS:
        p.add_argument(flag, **kwargs)
    return p


def options(args: argparse.Namespace) -> Any:
    from polyim.bench.scenarios import Options

    names = Options.__dataclass_fields__
    return Options(**{k: v for k, v in vars(args).items() if k in names})


def run_bench(args: argparse.Namespace) -> int:
    from polyim.bench import scenarios
    from polyim.runtime import install_loop

    opts = options(args)
    install_loop()
    try:
        result = asyncio.run(scenarios.run(opts))
    except scenarios.Unavailable as exc:
        print(f"polyim bench: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"polyim bench: {exc}", file=sys.stderr)
        return 1
    print(result.table(), flush=True)
    if opts.json_path:
        scenarios.write_json(result, opts.json_path)
    return 0
