"""``[xmmep]``: XMMEP's listeners and timers (xmmep.md §1.1, §1.4), every key with the page's default."""

from __future__ import annotations

from dataclasses import dataclass

from polyim.config import ListenerLimits


@dataclass
class XmmepSettings(ListenerLimits):
    enabled: bool = True
    tcp: str = "127.0.0.1:7100"  # empty: no TCP listener (§9 #19)
    udp: str = "127.0.0.1:7100"  # empty: no UDP listener
    udp_require_token: bool = False  # UDP logins must negotiate ``ext=tok`` (§8.3)
    idle_timeout: float = 90  # s without a valid message from a logged-in peer (§1.4)
    login_timeout: float = 30  # s a TCP connection may stay NEW (§1.3)
    ready_timeout: float = 30  # s after 127 until the session is treated as READY (§1.4)
    rate_limit: float = 50  # messages per second per peer (§8.5), then 900 result 20
    rate_burst: float = 100
    require_friend: bool = False  # 1:1 messages only between friends (the core's SendPolicy)
