"""``[omtp]``: the OMTP listener's settings, declared by the package (its ``ENTRY`` names them)."""

from __future__ import annotations

from dataclasses import dataclass

from polyim.config import ListenerLimits


@dataclass
class OmtpSettings(ListenerLimits):
    enabled: bool = True
    listen: str = "127.0.0.1:19000"
    idle_timeout: float = 90
    login_timeout: float = 30
    require_friend: bool = False  # 1:1 messages only between friends (the core's SendPolicy)
