"""What a node counts for ``/metrics`` that live state cannot tell afterwards: logins and refused
logins, messages in and out, fan-out sizes and errors, per protocol. Plain dicts of ints, updated in
the loop thread; the message path pays one dict update per message and per recipient protocol, no
lock, no call into a metrics library. ``http/metrics.py`` turns them into Prometheus families."""

from __future__ import annotations

from polyim.histogram import SIZE_BOUNDS, Histogram


def bump(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


class NodeStats:
    __slots__ = ("errors", "fanout", "login_failures", "logins", "messages_in", "messages_out")

    def __init__(self) -> None:
        #: protocol → sessions that logged in
        self.logins: dict[str, int] = {}
        #: (protocol, reason) → refused logins (reason: the core's refusal code, e.g. auth_failed)
        self.login_failures: dict[tuple[str, str], int] = {}
        #: protocol → chat messages its clients sent that were accepted for commit (1:1, group, room)
        self.messages_in: dict[str, int] = {}
        #: protocol → messages handed to its sessions (one per receiving session)
        self.messages_out: dict[str, int] = {}
        #: sessions reached by one message's delivery (a 1:1 counts its sender's other sessions too)
        self.fanout = Histogram(SIZE_BOUNDS)
        #: (protocol, kind) → errors: handler, commit, render, fanout, bad_frame; protocol "" for the core's
        self.errors: dict[tuple[str, str], int] = {}

    def login(self, protocol: str, refusal: str = "") -> None:
        if refusal:
            key = (protocol, refusal)
            self.login_failures[key] = self.login_failures.get(key, 0) + 1
        else:
            bump(self.logins, protocol)

    def error(self, protocol: str, kind: str) -> None:
        key = (protocol, kind)
        self.errors[key] = self.errors.get(key, 0) + 1
