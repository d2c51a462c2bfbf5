"""``polyim`` command line: serve, user, group, room, db, bench (design.md §2)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from polyim import config, runtime
from polyim.core.app import Core
from polyim.core.errors import CoreError
from polyim.http.client import AdminClient, AdminError, admin_token, server_url
from polyim.model import Role
from polyim.protocols import registry

LOG_FORMATS = ("text", "json")


def _settings(args: argparse.Namespace) -> config.Settings:
    return config.load(getattr(args, "config", None), registry.sections())


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
        _tell_server(args, acct.uid, not args.enable)
    return 0


def _tell_server(args: argparse.Namespace, uid: int, disabled: bool) -> None:
    """The database changed above, server or not; a running server must also drop the account from its
    cache and kick the sessions it has open, which only it can do."""
    try:
        _admin(args).call("POST", f"/api/v1/users/{uid}/disable", {"disabled": disabled})
    except AdminError as exc:
        print(
            f"note: the running server was not told ({exc}); open sessions stay until they end",
            file=sys.stderr,
        )


def _admin(args: argparse.Namespace) -> AdminClient:
    settings = _settings(args)
    return AdminClient(args.server or server_url(settings), admin_token(settings))


def _print_group(g: dict[str, Any]) -> None:
    flags = [f for f in ("mute_all", "closed") if g[f]]
    print(f"{g['gid']}\t{g['name']}\towner {g['owner']}\tlimit {g['member_limit']}\t{','.join(flags) or '-'}")
    for m in g.get("members", ()):
        print(f"  {m['uid']}\t{m['role']}" + ("\tmuted" if m["muted"] else ""))


def _print_room(r: dict[str, Any]) -> None:
    state = "closed" if r["closed"] else "open"
    print(f"{r['rid']}\t{r['name']}\towner {r['owner']}\t{r['sessions']} sessions\t{state}")
    if r["banned"]:
        print("  banned " + " ".join(map(str, r["banned"])))


def _group_cmd(args: argparse.Namespace) -> int:
    api, cmd = _admin(args), args.group_cmd
    if cmd == "list":
        for g in api.call("GET", f"/api/v1/groups?uid={args.user}")["groups"]:
            _print_group(g)
    elif cmd == "create":
        body = {"name": args.name, "owner": args.owner, "members": args.member or []}
        print(api.call("POST", "/api/v1/groups", body)["gid"])
    elif cmd == "dismiss":
        api.call("DELETE", f"/api/v1/groups/{args.gid}")
    else:
        path = {"show": "", "add": "/members", "remove": "/members/remove"}[cmd]
        uids = None if cmd == "show" else {"uids": args.uids}
        _print_group(api.call("GET" if uids is None else "POST", f"/api/v1/groups/{args.gid}{path}", uids))
    return 0


def _room_cmd(args: argparse.Namespace) -> int:
    api, cmd = _admin(args), args.room_cmd
    if cmd == "list":
        for r in api.call("GET", f"/api/v1/rooms?top={args.top}")["rooms"]:
            print(f"{r['rid']}\t{r['sessions']}")
    elif cmd == "create":
        body: dict[str, Any] = {"owner": args.owner, "name": args.name, "desc": args.desc}
        if args.rid is not None:
            body["rid"] = args.rid
        print(api.call("POST", "/api/v1/rooms", body)["rid"])
    elif cmd == "show":
        _print_room(api.call("GET", f"/api/v1/rooms/{args.rid}"))
    elif cmd == "dismiss":
        api.call("DELETE", f"/api/v1/rooms/{args.rid}")
    else:
        _print_room(api.call("POST", f"/api/v1/rooms/{args.rid}/kick", {"uid": args.uid}))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from polyim import server

    settings = _settings(args)
    if args.log_format:
        settings.server.log_format = args.log_format
    if settings.server.log_format not in LOG_FORMATS:
        raise config.ConfigError(f"[server] log_format must be one of {', '.join(LOG_FORMATS)}")
    runtime.setup_logging(settings.server.log_level, settings.server.log_format, settings.server.node_id)
    if args.nodes != 1:
        from polyim import supervisor

        return supervisor.run(settings, args.nodes)
    runtime.install_loop()
    asyncio.run(server.run(settings))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from polyim.store.factory import make_store

    settings = _settings(args)
    store = make_store(settings.storage.url, settings.server.data_dir)
    version, applied = asyncio.run(store.upgrade())
    print(f"schema version {version}" + (f" (applied {applied})" if applied else " (up to date)"))
    return 0


def _db_copy(args: argparse.Namespace) -> int:
    from polyim.store.copy import CopyError, copy_sqlite_to_postgres

    source = args.source.removeprefix("sqlite:///")
    if source == args.source or not args.target.startswith(("postgresql://", "postgres://")):
        print("usage: polyim db copy sqlite:///PATH postgresql://…", file=sys.stderr)
        return 2
    try:
        checks = asyncio.run(copy_sqlite_to_postgres(source, args.target))
    except CopyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for check in checks:
        print(f"{check.table}\t{check.rows} rows\tchecksum {check.checksum}\tok")
    print(f"copied and verified {len(checks)} tables")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from polyim.bench.cli import run_bench

    return run_bench(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="polyim", description="One IM server, five wire protocols.")
    sub = p.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--config", help="TOML configuration file")
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, help="text or json lines on stderr ([server] log_format)"
    )
    serve.add_argument(
        "--nodes",
        type=int,
        default=1,
        metavar="N",
        help="run N nodes of the scaled cluster on this machine, sharing the listening ports "
        "(SO_REUSEPORT; needs the PostgreSQL url and redis_url; node ids node_id … node_id+N-1)",
    )

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
    dis = us.add_parser("disable", help="disable an account; a running server kicks its sessions")
    dis.add_argument("user")
    dis.add_argument("--enable", action="store_true", help="re-enable instead")
    dis.add_argument(
        "--server", help="admin API URL of the running server (default: [http] listen of the config)"
    )
    for sp in (add, show, pw, dis, us.choices["list"]):
        sp.add_argument("--config", default=argparse.SUPPRESS, help="TOML configuration file")

    _add_group_parser(sub)
    _add_room_parser(sub)

    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("--config", help="TOML configuration file")
    dbs = db.add_subparsers(dest="db_cmd", required=True)
    up = dbs.add_parser("upgrade", help="apply schema migrations")
    up.add_argument("--config", default=argparse.SUPPRESS, help="TOML configuration file")
    cp = dbs.add_parser("copy", help="copy a SQLite database into an empty PostgreSQL one, verified")
    cp.add_argument("source", help="sqlite:///PATH")
    cp.add_argument("target", help="postgresql://user@host:port/database")
    cp.add_argument("--config", default=argparse.SUPPRESS, help="TOML configuration file (unused)")

    from polyim.bench.cli import add_parser as add_bench_parser

    add_bench_parser(sub)
    return p


def _operator_parser(sub: Any, name: str, help_: str) -> Callable[[str, str], Any]:
    """A command that works through the running server's admin API; each subcommand takes --config
    (for the address and the admin token) and --server URL (to name another server)."""
    cmd = sub.add_parser(name, help=help_ + " (through the running server)")
    subs = cmd.add_subparsers(dest=f"{name}_cmd", required=True)

    def add(sub_name: str, sub_help: str) -> Any:
        sp = subs.add_parser(sub_name, help=sub_help)
        sp.add_argument("--config", help="TOML configuration file")
        sp.add_argument("--server", help="admin API URL (default: [http] listen of the config)")
        return sp

    return add


def _add_group_parser(sub: Any) -> None:
    add = _operator_parser(sub, "group", "manage groups")
    add("list", "the groups of a user").add_argument("--user", type=int, required=True, help="uid")
    create = add("create", "create a group and print its gid")
    create.add_argument("name")
    create.add_argument("--owner", type=int, required=True, help="uid of the owner")
    create.add_argument("--member", type=int, action="append", help="uid of a member (repeatable)")
    add("show", "a group and its members").add_argument("gid", type=int)
    add("dismiss", "dismiss a group (its members are told)").add_argument("gid", type=int)
    for name, what in (("add", "add members"), ("remove", "remove members")):
        sp = add(name, f"{what} (as the owner; members are told)")
        sp.add_argument("gid", type=int)
        sp.add_argument("uids", type=int, nargs="+")


def _add_room_parser(sub: Any) -> None:
    add = _operator_parser(sub, "room", "manage chat rooms")
    add("list", "the rooms with the most sessions").add_argument("--top", type=int, default=100)
    create = add("create", "create an open, empty room and print its rid")
    create.add_argument("--owner", type=int, required=True, help="uid of the owner")
    create.add_argument("--name", default="")
    create.add_argument("--desc", default="")
    create.add_argument("--rid", type=int, help="a rid of your choice")
    add("show", "a room: owner, sessions, bans").add_argument("rid", type=int)
    add("dismiss", "dismiss a room (everyone inside is told and removed)").add_argument("rid", type=int)
    kick = add("kick", "ban a user from a room and remove its sessions")
    kick.add_argument("rid", type=int)
    kick.add_argument("uid", type=int)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.cmd == "serve":
            return _serve(args)
        if args.cmd == "db":
            return _db_copy(args) if args.db_cmd == "copy" else _db_upgrade(args)
        if args.cmd == "bench":
            return _bench(args)
        if args.cmd in ("group", "room"):
            return _group_cmd(args) if args.cmd == "group" else _room_cmd(args)
        return asyncio.run(_with_core(args, lambda core: _user_cmd(args, core)))
    except config.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except CoreError as exc:
        print(f"error: {exc.text}", file=sys.stderr)
        return 1
    except AdminError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
