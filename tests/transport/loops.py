"""Transport tests run on both event loops: the server runs on uvloop, whose transports differ from
asyncio's in ways that matter here (reads per turn, writes to closed transports)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

both_loops = pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)


def run_on(loop_factory: LoopFactory, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
