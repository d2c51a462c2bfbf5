"""What channel tests share: a core that is only there to be kept."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from polyim.core.app import Core
from polyim.core.messaging import Messaging
from polyim.core.stats import NodeStats

#: No core for the channel's calls, only the counters its refusals and failures add to (and a messaging
#: part never called, which every channel keeps at hand).
NO_CORE = cast(Core, SimpleNamespace(stats=NodeStats(), messages=Messaging.__new__(Messaging)))
