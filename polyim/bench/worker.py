"""A load process: ``python -m polyim.bench.worker`` runs one :class:`~polyim.bench.load.Plan`.

When one process cannot carry the load (its CPU, or its file-descriptor limit), ``polyim bench`` starts
several of these and talks to each through JSON lines:

* stdin, first line: the plan; the worker logs its sessions in and prints ``{"event": "ready", ...}``;
* stdin: ``{"go": <monotonic t0>}``; the worker runs and prints ``{"event": "progress", ...}`` lines and
  finally ``{"event": "result", "report": {...}}``;
* stdin closed (or ``{"exit": true}``): the worker closes its connections and exits.

``time.monotonic`` is one clock for every process of the machine, so a common ``t0`` and the send times
inside message tags mean the same thing in all of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from polyim.bench.load import Plan, Worker
from polyim.bench.runner import raise_nofile


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def _readline() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def serve() -> int:
    plan = Plan.from_dict(json.loads(await _readline()))
    worker = Worker(plan, progress=lambda snap: _emit({"event": "progress", **snap}))
    try:
        online = await worker.setup()
        _emit({"event": "ready", "online": online})
        line = await _readline()
        if not line.strip():
            return 0
        report = await worker.run(float(json.loads(line)["go"]))
        _emit({"event": "result", "report": report.to_dict()})
        await _readline()
    finally:
        worker.close()
    return 0


def main() -> int:
    from polyim.runtime import install_loop

    raise_nofile()  # the CPU mask is inherited from ``polyim bench`` (--load-cpu)
    install_loop()
    return asyncio.run(serve())


if __name__ == "__main__":
    raise SystemExit(main())
