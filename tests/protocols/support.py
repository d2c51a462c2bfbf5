"""What channel tests share: a core that is only there to be kept."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from polyim.config import AccountSettings
from polyim.core.app import Core
from polyim.core.stats import NodeStats
from polyim.store.sqlite import SqliteStore

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
