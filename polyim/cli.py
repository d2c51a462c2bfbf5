"""``polyim`` command line: serve, user, group, room, db, bench (design.md §2)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from polyim import config, runtime
from polyim.core.errors import CoreError
from polyim.http.client import AdminClient, AdminError, admin_token, server_url
from polyim.model import Role
from polyim.protocols import registry

if TYPE_CHECKING:  # the core is loaded by the commands that open the store, not by every command
    from polyim.core.app import Core

LOG_FORMATS = ("text", "json")

#: Every operator verb of the command line and the admin API call it is (method, path): the two match
#: one to one (tests/test_cli.py holds this table against the OpenAPI document). The verbs that go
#: through the running server make their calls from this table; ``user …`` works on the database
#: directly (no server needed) and names the call that does the same over HTTP.
API_VERBS: dict[str, tuple[str, str]] = {
    "user list": ("GET", "/api/v1/users"),
    "user add": ("POST", "/api/v1/users"),
    "user show": ("GET", "/api/v1/users/{uid}"),
    "user passwd": ("POST", "/api/v1/users/{uid}/password"),
    "user disable": ("POST", "/api/v1/users/{uid}/disable"),
    "token issue": ("POST", "/api/v1/tokens"),
    "group list": ("GET", "/api/v1/groups"),
    "group create": ("POST", "/api/v1/groups"),
    "group show": ("GET", "/api/v1/groups/{gid}"),
    "group dismiss": ("DELETE", "/api/v1/groups/{gid}"),
    "group add": ("POST", "/api/v1/groups/{gid}/members"),
    "group remove": ("POST", "/api/v1/groups/{gid}/members/remove"),
    "room list": ("GET", "/api/v1/rooms"),
    "room create": ("POST", "/api/v1/rooms"),
    "room show": ("GET", "/api/v1/rooms/{rid}"),
    "room dismiss": ("DELETE", "/api/v1/rooms/{rid}"),
    "room kick": ("POST", "/api/v1/rooms/{rid}/kick"),
    "push user": ("POST", "/api/v1/push/user"),
    "push broadcast": ("POST", "/api/v1/push/broadcast"),
    "push room": ("POST", "/api/v1/push/room"),
    "session list": ("GET", "/api/v1/sessions"),
    "session kick": ("DELETE", "/api/v1/sessions/{sid}"),
    "file list": ("GET", "/api/v1/files"),
    "file delete": ("DELETE", "/api/v1/files/{task}"),
    "node stats": ("GET", "/api/v1/stats"),
}
#: The commands made of those verbs (``user`` on the database, the others through the server).
OPERATOR_COMMANDS = ("user", "token", "group", "room", "push", "session", "file", "node")


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
        total, found = await core.accounts.page(args.search, args.offset, args.limit)
        for acct in found:
            _print_account(acct)
        if total > args.offset + len(found):
            print(f"({total} in all; --offset {args.offset + len(found)} for more)", file=sys.stderr)
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
        _call(args, "user disable", {"disabled": disabled}, uid=uid)
    except AdminError as exc:
        print(
            f"note: the running server was not told ({exc}); open sessions stay until they end",
            file=sys.stderr,
        )


def _admin(args: argparse.Namespace) -> AdminClient:
    settings = _settings(args)
    return AdminClient(args.server or server_url(settings), admin_token(settings))


def _call(
    args: argparse.Namespace,
    verb: str,
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
    **path: Any,
) -> Any:
    """Make ``verb``'s admin call (:data:`API_VERBS`) on the running server; query values that are
    None are left out."""
    method, template = API_VERBS[verb]
    given = {k: v for k, v in (query or {}).items() if v is not None}
    url = template.format(**path) + ("?" + urllib.parse.urlencode(given) if given else "")
    return _admin(args).call(method, url, body)


def _paging(args: argparse.Namespace) -> dict[str, Any]:
    return {"offset": args.offset, "limit": args.limit}


def _more(answer: dict[str, Any], key: str) -> None:
    shown = answer["offset"] + len(answer[key])
    if answer["total"] > shown:
        print(f"({answer['total']} in all; --offset {shown} for more)", file=sys.stderr)


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
    cmd = args.group_cmd
    if cmd == "list":
        query = {"uid": args.user, "q": args.search, **_paging(args)}
        answer = _call(args, "group list", query=query)
        for g in answer["groups"]:
            _print_group(g)
        _more(answer, "groups")
    elif cmd == "create":
        body = {"name": args.name, "owner": args.owner, "members": args.member or []}
        print(_call(args, "group create", body)["gid"])
    elif cmd == "dismiss":
        _call(args, "group dismiss", gid=args.gid)
    else:
        uids = None if cmd == "show" else {"uids": args.uids}
        _print_group(_call(args, f"group {cmd}", uids, gid=args.gid))
    return 0


def _room_cmd(args: argparse.Namespace) -> int:
    cmd = args.room_cmd
    if cmd == "list":
        for r in _call(args, "room list", query={"top": args.top})["rooms"]:
            print(f"{r['rid']}\t{r['sessions']}\t" + " ".join(map(str, r["members"])))
    elif cmd == "create":
        body: dict[str, Any] = {"owner": args.owner, "name": args.name, "desc": args.desc}
        if args.rid is not None:
            body["rid"] = args.rid
        print(_call(args, "room create", body)["rid"])
    elif cmd == "show":
        _print_room(_call(args, "room show", rid=args.rid))
    elif cmd == "dismiss":
        _call(args, "room dismiss", rid=args.rid)
    else:
        _print_room(_call(args, "room kick", {"uid": args.uid}, rid=args.rid))
    return 0


def _token_cmd(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"uid": args.uid, "device": args.device}
    if args.ttl is not None:
        body["ttl"] = args.ttl
    print(_call(args, "token issue", body)["token"])
    return 0


def _push_cmd(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"text": args.text} if args.data is None else {"data": args.data}
    cmd = args.push_cmd
    if cmd == "user":
        body.update(uid=args.uid, store=args.store, expire=args.expire)
    elif cmd == "room":
        body.update(rid=args.rid, expire=args.expire)
    else:
        body.update(app=args.app, version=args.version)
    answer = _call(args, f"push {cmd}", body)
    print(f"msgid {answer['msgid']}\t{answer['online']} online")
    return 0


def _session_cmd(args: argparse.Namespace) -> int:
    if args.session_cmd == "kick":
        _call(args, "session kick", sid=args.sid)
        return 0
    query = {"protocol": args.protocol, "node": args.node, "uid": args.user, **_paging(args)}
    answer = _call(args, "session list", query=query)
    for s in answer["sessions"]:
        where = f"node {s['node']}" + (f" {s['peer']}" if "peer" in s else "")
        print(f"{s['sid']}\t{s['uid']}\t{s['protocol']}\t{s['device_class']}\t{s['device_id']}\t{where}")
    _more(answer, "sessions")
    return 0


def _file_cmd(args: argparse.Namespace) -> int:
    if args.file_cmd == "delete":
        _call(args, "file delete", task=args.task)
        return 0
    answer = _call(args, "file list", query={"uid": args.user, **_paging(args)})
    for f in answer["files"]:
        print(f"{f['task']}\t{f['sender']} -> {f['recipient']}\t{f['size']}\t{f['name']}")
    _more(answer, "files")
    return 0


def _node_cmd(args: argparse.Namespace) -> int:
    """``node stats``: what the web console's overview shows, as text."""
    s = _call(args, "node stats")
    print(
        f"node {s['node']}\t{s['sessions']} sessions\t{s['users_online']} users online here\t{s['rooms']} rooms here"
    )
    for n in s["nodes"]:
        print(
            f"  node {n['node']}\t{n['protocol']}\t{n['connections']} connections\t{n['sessions']} sessions"
        )
    rates = s["rates"]
    for name in ("messages", "deliveries"):
        newest = " ".join(map(str, rates[name][-10:]))
        print(f"  {name}/s (every {rates['interval']:g} s, newest last): {newest}")
    return 0


_THROUGH_SERVER: dict[str, Callable[[argparse.Namespace], int]] = {
    "group": _group_cmd,
    "room": _room_cmd,
    "token": _token_cmd,
    "push": _push_cmd,
    "session": _session_cmd,
    "file": _file_cmd,
    "node": _node_cmd,
}


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
    ls = us.add_parser("list", help="list accounts, by uid")
    ls.add_argument("--search", default="", help="text in the username or nickname, or a uid")
    _add_paging(ls)
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
    _add_token_parser(sub)
    _add_push_parser(sub)
    _add_session_parser(sub)
    _add_file_parser(sub)
    _operator_parser(sub, "node", "this node's live numbers")(
        "stats", "connections and sessions per node and protocol, and message rates"
    )

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


def _add_paging(sp: Any) -> None:
    sp.add_argument("--offset", type=int, default=0, help="skip this many")
    sp.add_argument("--limit", type=int, default=100, help="show at most this many (1 to 1000)")


def _add_group_parser(sub: Any) -> None:
    add = _operator_parser(sub, "group", "manage groups")
    ls = add("list", "the groups of a user (--user), or the groups whose name holds --search")
    ls.add_argument("--user", type=int, help="uid of a member")
    ls.add_argument("--search", help="text in the group's name, or a gid")
    _add_paging(ls)
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


def _add_token_parser(sub: Any) -> None:
    add = _operator_parser(sub, "token", "login tokens")
    issue = add("issue", "print a signed login token for a user (an app server's login)")
    issue.add_argument("uid", type=int)
    issue.add_argument("--device", default="", help="the device the token is for")
    issue.add_argument("--ttl", type=int, help="seconds it is valid")


def _add_push_parser(sub: Any) -> None:
    add = _operator_parser(sub, "push", "push to sessions in every protocol")
    for name, what in (("user", "a user's sessions"), ("broadcast", "every session"), ("room", "a room")):
        sp = add(name, f"push to {what}")
        if name != "broadcast":
            sp.add_argument("uid" if name == "user" else "rid", type=int)
        payload = sp.add_mutually_exclusive_group(required=True)
        payload.add_argument("--text", help="UTF-8 text")
        payload.add_argument("--data", help="bytes, base64")
        if name == "user":
            sp.add_argument("--store", action="store_true", help="keep it for the user's later syncs")
        if name != "broadcast":
            sp.add_argument("--expire", type=int, default=0 if name == "room" else 86400, help="seconds")
        else:
            sp.add_argument("--app", default="", help="only sessions of this client application")
            sp.add_argument("--version", default="", help="and of this version")


def _add_session_parser(sub: Any) -> None:
    add = _operator_parser(sub, "session", "live sessions of every node")
    ls = add("list", "live sessions, by id")
    ls.add_argument("--protocol", help="only this protocol's")
    ls.add_argument("--node", type=int, help="only this node's")
    ls.add_argument("--user", type=int, help="only this uid's")
    _add_paging(ls)
    add("kick", "end a session with its protocol's kick").add_argument("sid", type=int)


def _add_file_parser(sub: Any) -> None:
    add = _operator_parser(sub, "file", "offline files")
    ls = add("list", "offline files kept, oldest first")
    ls.add_argument("--user", type=int, help="only the files for this recipient")
    _add_paging(ls)
    add("delete", "delete an offline file and its bytes").add_argument("task")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.cmd == "serve":
            return _serve(args)
        if args.cmd == "db":
            return _db_copy(args) if args.db_cmd == "copy" else _db_upgrade(args)
        if args.cmd == "bench":
            return _bench(args)
        if args.cmd in _THROUGH_SERVER:
            return _THROUGH_SERVER[args.cmd](args)
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
