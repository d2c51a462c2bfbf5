"""TeamTalk, the old 12-byte-header protocol (``../shared/protocols/teamtalk.md``): a login server that
hands out a message server, the message server, and a file server, all three in this process. The
package declares its ``[teamtalk]`` section and its three listeners; the wire layer is ``codec.py``, the
session logic ``adapter.py`` (modules 1–4 and 7) and ``groups.py`` (module 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from polyim.protocols.entry import ProtocolEntry, serve_listener
from polyim.protocols.teamtalk.settings import TeamTalkSettings
from polyim.transport.listener import Listener

if TYPE_CHECKING:
    from aiohttp import web

    from polyim.config import Settings
    from polyim.core.app import Core
    from polyim.transport.connection import Connection


def local_host(conn: Connection) -> str:
    """The host the client reached: the accepted socket's local address (§1.2)."""
    transport = conn.transport
    name = transport.get_extra_info("sockname") if transport is not None else None
    return str(name[0]) if name else "127.0.0.1"


async def start(core: Core, settings: Settings) -> list[Listener]:
    """The msg and file listeners first, so that the login server knows their ports (1/2)."""
    # Modules 5 and 6 register on the command table here, not at the package's import: the command line
    # reads the package's settings section, and needs none of the session code.
    from polyim.protocols.teamtalk import files, groups  # noqa: F401
    from polyim.protocols.teamtalk.adapter import Endpoints, TeamTalkChannel

    cfg = settings.protocol("teamtalk", TeamTalkSettings)
    core.accounts.widen_watchers(cfg.presence_group_max)  # 1:1 peers and small groups' members (§4.7)
    ends = Endpoints(advertise=settings.server.advertise)

    def channel(role: str) -> Callable[[Connection], TeamTalkChannel]:
        return lambda conn: TeamTalkChannel(core, conn, cfg, role, ends, local_host(conn))

    listeners = []
    if cfg.msg:
        listeners.append(await serve_listener("teamtalk", "msg", cfg.msg, cfg, channel("msg")))
        ends.msg_port = listeners[-1].port
    if cfg.file:
        file = await serve_listener(
            "teamtalk", "file", cfg.file, cfg, channel("file"), idle_timeout=cfg.file_idle_timeout
        )
        listeners.append(file)
        ends.file_port = file.port
    if cfg.login:
        listeners.append(await serve_listener("teamtalk", "login", cfg.login, cfg, channel("login")))
    files.expire_regularly(core, ends, cfg)
    return listeners


def routes(core: Core, settings: Settings) -> list[web.RouteDef]:
    """The download links of offline files sent to users of other protocols."""
    from polyim.protocols.teamtalk import files

    return files.http_routes(core, settings.protocol("teamtalk", TeamTalkSettings))


# the msg server names its own node's file server for a task it made (6/11, 6/12)
ENTRY = ProtocolEntry("teamtalk", TeamTalkSettings, start, routes, node_bound=("file",))
