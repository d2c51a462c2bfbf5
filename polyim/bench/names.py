"""The scenarios' names, apart from the scenarios: the command line lists them on every start, and
importing the load generators for that cost every ``polyim`` command a fifth of a second."""

from __future__ import annotations

from typing import Final

#: How cost grows with what is stored (:mod:`polyim.bench.growth`).
GROWTH: Final = ("history", "catchup", "manyconv")
SCENARIOS: Final = ("chat", "group", "room", "idle", "login", "baseline", "file", *GROWTH)
