"""What channel tests share: a core that is only there to be kept, and a connection with no socket."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from polyim.config import AccountSettings
from polyim.core.app import Core
from polyim.core.sessions import Sink
from polyim.core.stats import NodeStats
from polyim.store.sqlite import SqliteStore
from polyim.transport.connection import ConnBase

#: No core for the channel's calls, only the counters its refusals and failures add to, and the
#: messaging part that every channel keeps at hand: a never-started core's (its store never opens the
#: file; a compiled ``Messaging`` cannot be made without a context).
NO_CORE = cast(
    Core,
    SimpleNamespace(
        stats=NodeStats(),
        messages=Core(
            SqliteStore("/nonexistent/never-opened.sqlite"), AccountSettings(), secret=b"k"
        ).messages,
    ),
)


#: The sink of a session that is never delivered to (a channel's own session, in tests that deliver to
#: the channel directly).
NO_SINK = Sink()


class FakeConn(ConnBase):
    """A connection with no transport under it that keeps what its channel writes. A ``ConnBase``, as
    every transport's connection is: a compiled channel holds its connection as one, and refuses any
    other object."""

    def __init__(self) -> None:
        self.peer = "127.0.0.1:1"
        self._closing = self._logged_in = False
        self._ticket = self._deadline = self._handler = self.log_context = None
        self.idle_timeout = self.login_timeout = 60.0
        self.opened = self.last_rx = 0.0
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self._closing = True

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass
