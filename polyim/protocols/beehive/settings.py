"""``[beehive]``: the beehive listeners' settings, declared by the package (its ``ENTRY`` names them)."""

from __future__ import annotations

from dataclasses import dataclass

from polyim.config import ListenerLimits


@dataclass
class BeehiveSettings(ListenerLimits):
    """``[beehive]`` (beehive.md §1.1); every key has the page's default.

    ``iplist_without_auth`` is a compatibility switch, **off by default**: when on, ``/im/iplist`` hands a
    login token to any caller who names an existing uid, without password or admin token, as the
    original beehive did (its C SDK sends no password). Risk: anyone who can reach the HTTP listener can
    then log in as any user — read their messages, send in their name. Turn it on only with the HTTP
    listener on loopback or a closed test network; the server logs a warning at start when it is on.

    ``ws_request_timeout``: the WebSocket listener's upgrade request must arrive within this many
    seconds of its first byte; the whole time before the upgrade and the login is bounded by
    ``login_timeout`` from the moment of connecting. The other limits are :class:`ListenerLimits`'.
    """

    enabled: bool = True
    tcp: str = "127.0.0.1:9002"
    ws: str = "127.0.0.1:8002"
    advertise_tcp: str = ""
    advertise_ws: str = ""
    login_timeout: float = 10
    idle_timeout: float = 360
    kick_close_delay: float = 5
    max_frame: int = 65536
    max_message_bytes: int = 16384
    token_ttl: int = 86400
    iplist_without_auth: bool = False  # RISK when on: tokens for anyone (see the class docstring)
    room_autocreate: bool = True
    room_group_capacity: int = 10000
    room_count_interval: float = 5.0  # seconds between ROOM-USR-NUM pushes (beehive.md §1.3)
    nation: str = "CN"
    require_friend: bool = False  # 1:1 CHAT only between friends (the core's SendPolicy)
    ws_request_timeout: float = 10
