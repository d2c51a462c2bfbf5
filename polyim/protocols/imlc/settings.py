"""``[imlc]``: the imlc listener's settings (imlc.md §1), every key with the page's default."""

from __future__ import annotations

from dataclasses import dataclass

from polyim.config import ListenerLimits


@dataclass
class ImlcSettings(ListenerLimits):
    enabled: bool = True
    listen: str = "127.0.0.1:7300"
    login_timeout: float = 10  # s from accept to a successful LOGIN (§1.2)
    heartbeat: int = 30  # s; announced as LoginReply.heartbeat_s
    idle_timeout: float = 90  # s without a received frame (3 × heartbeat)
    max_body_bytes: int = 1_048_576  # largest body, both directions (§2.4)
    max_content_bytes: int = 65_536  # largest encoded MessageContent in MS (§2.4)
    token_ttl: int = 2_592_000  # s a LoginReply token stays valid (30 days)
    recall_window: int = 0  # s after the commit during which MR is allowed; 0 = no limit (§3.1 MR)
    require_friend: bool = False  # 1:1 messages only between friends (the core's SendPolicy)
    rate_limit: float = 50  # frames per second per connection, averaged (§2.4), then THROTTLED
    rate_burst: float = 100
