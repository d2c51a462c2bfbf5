"""``[teamtalk]``: the login, msg and file listeners and the keys of teamtalk.md §1.2, every key with the
page's default."""

from __future__ import annotations

from dataclasses import dataclass

from polyim.config import ListenerLimits


@dataclass
class TeamTalkSettings(ListenerLimits):
    enabled: bool = True
    login: str = "127.0.0.1:8008"  # login server role ("" = off)
    msg: str = "127.0.0.1:8300"  # message server role
    file: str = "127.0.0.1:8500"  # file server role
    idle_timeout: float = 30  # s without a received byte, PC msg connection (§1.4)
    idle_timeout_mobile: float = 300  # s, mobile msg connection (client_type & 0x10)
    login_timeout: float = 15  # s from connect to an OPEN session (msg) or a complete 1/1 (login)
    kick_close_delay: float = 1  # s between 1/7 and the close (§4.3)
    max_msgs_per_second: int = 20  # 3/1 per connection per second (§1.4)
    unread_fetch_limit: int = 100  # messages per 3/14 (§4.5)
    group_unread_fetch_limit: int = 150  # messages per 5/8
    all_user_max: int = 10_000  # entries in 2/15
    presence_group_max: int = 500  # groups up to this size make their members watchers (§4.7)
    file_token_required: bool = False  # 6/1 only with a valid token (§8.3)
    file_max_size: int = 100 * 1024 * 1024  # one offline file
    file_user_quota: int = 1024 * 1024 * 1024  # all offline files waiting from one uploader
    file_task_timeout: float = 3600  # s of task inactivity
    file_idle_timeout: float = 300  # s without a received byte on a file connection
    offline_file_days: int = 7  # offline file retention
    max_login_frame: int = 4096  # frame bounds of §2.5
    max_msg_frame: int = 262_144
    max_file_frame: int = 1_048_576 + 4096
    require_friend: bool = False  # 1:1 messages only between friends (the core's SendPolicy)
