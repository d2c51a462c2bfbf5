"""``polyim`` command line: serve, user, db, bench (design.md §2)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from polyim import config, runtime
from polyim.core.app import Core
from polyim.core.errors import CoreError
from polyim.core.model import Role


def _settings(args: argparse.Namespace) -> config.Settings:
    return config.load(getattr(args, "config", None))


async def _with_core(args: argparse.Namespace, fn: Callable[[Core], Awaitable[int]]) -> int:
    from polyim.server import make_core

    core = make_core(_settings(args))
    await core.start()
    try:
        return await fn(core)
    finally:
        await core.stop()


def _print_account(acct: Any) -> None:
    role = "operator" if acct.role is Role.OPERATOR else "user"
    state = "disabled" if acct.disabled else ("active" if acct.activated else "not-activated")
    print(f"{acct.uid}\t{acct.username}\t{acct.nickname}\t{acct.email}\t{role}\t{state}")


async def _user_add(args: argparse.Namespace, core: Core) -> int:
    acct = await core.accounts.create(
        args.username,
        args.password,
        uid=args.uid,
        nickname=args.nickname or "",
        email=args.email or "",
        role=Role.OPERATOR if args.operator else Role.USER,
    )
    print(acct.uid)
    return 0


async def _find(core: Core, who: str) -> Any:
    acct = await core.accounts.by_name(who)
    if acct is None and who.isdigit():
        acct = await core.store.get_account(int(who))
    if acct is None:
        print(f"no such user: {who}", file=sys.stderr)
    return acct


async def _user_cmd(args: argparse.Namespace, core: Core) -> int:
    if args.user_cmd == "add":
        return await _user_add(args, core)
    if args.user_cmd == "list":
        for acct in await core.store.list_accounts():
            _print_account(acct)
        return 0
    acct = await _find(core, args.user)
    if acct is None:
        return 1
    if args.user_cmd == "show":
        _print_account(acct)
    elif args.user_cmd == "passwd":
        await core.accounts.set_password(acct.uid, args.password)
    elif args.user_cmd == "disable":
        await core.accounts.set_disabled(acct.uid, not args.enable)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from polyim import server

    settings = _settings(args)
    logging.basicConfig(
        level=settings.server.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    runtime.install_loop()
    asyncio.run(server.run(settings))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from pathlib import Path

    from polyim.store.dbthread import connect
    from polyim.store.migrate import current_version, migrate

    path = _settings(args).db_path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        applied = migrate(conn)
        print(
            f"schema version {current_version(conn)}"
            + (f" (applied {applied})" if applied else " (up to date)")
        )
    finally:
        conn.close()
    return 0


def _bench(args: argparse.Namespace) -> int:
    from polyim.bench.cli import run_bench

    return run_bench(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polyim", description="One IM server, five wire protocols.")
    sub = p.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--config", help="TOML configuration file")

    user = sub.add_parser("user", help="manage accounts")
    user.add_argument("--config", help="TOML configuration file")
    us = user.add_subparsers(dest="user_cmd", required=True)
    add = us.add_parser("add", help="create an activated account and print its uid")
    add.add_argument("username")
    add.add_argument("--password", required=True)
    add.add_argument("--uid", type=int)
    add.add_argument("--nickname")
    add.add_argument("--email")
    add.add_argument("--operator", action="store_true", help="give the operator role")
    us.add_parser("list", help="list accounts")
    show = us.add_parser("show", help="show one account")
    show.add_argument("user", help="username or uid")
    pw = us.add_parser("passwd", help="set a password")
    pw.add_argument("user")
    pw.add_argument("--password", required=True)
    dis = us.add_parser("disable", help="disable an account (kicks its sessions)")
    dis.add_argument("user")
    dis.add_argument("--enable", action="store_true", help="re-enable instead")
    for sp in (add, show, pw, dis, us.choices["list"]):
        sp.add_argument("--config", default=argparse.SUPPRESS, help="TOML configuration file")

    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("--config", help="TOML configuration file")
    dbs = db.add_subparsers(dest="db_cmd", required=True)
    up = dbs.add_parser("upgrade", help="apply schema migrations")
    up.add_argument("--config", default=argparse.SUPPRESS, help="TOML configuration file")

    from polyim.bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.cmd == "serve":
            return _serve(args)
        if args.cmd == "db":
            return _db_upgrade(args)
        if args.cmd == "bench":
            return _bench(args)
        return asyncio.run(_with_core(args, lambda core: _user_cmd(args, core)))
    except config.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except CoreError as exc:
        print(f"error: {exc.text}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
