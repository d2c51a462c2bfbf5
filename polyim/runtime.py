"""Process-wide runtime choices shared by the server and the load generator: the event loop, the
collector settings and the log format."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import resource
import sys
from datetime import UTC, datetime

from polyim.logctx import FIELDS, ContextFilter

# Young-generation collections every 700 allocations cost a chat message ~11 % of the server's CPU
# (py-spy --native): each message allocates a few dozen short-lived objects, almost none in cycles.
_GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move the long-lived objects made so far (modules, caches, listeners; the load's logged-in
    sessions) out of the collector's sight and collect the young generation less often. Cycles are
    still collected, just in larger batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def raise_nofile() -> int:
    """Raise RLIMIT_NOFILE to the hard limit (children inherit it); returns the new soft limit. A node
    holds one descriptor per connection, and so does a load process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def install_loop() -> None:
    """uvloop when available (design.md §8)."""
    if sys.platform != "win32":
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - uvloop is a pinned dependency
            pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, node, and protocol, conn and uid when the
    line is about a connection (put on the record by :class:`~polyim.logctx.ContextFilter`). Nothing
    else a call passes as ``extra`` reaches a line, so a stray one holding a password or a message body
    is never written."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "node": record.__dict__.get("node", 0),
        }
        for key in FIELDS:
            value = record.__dict__.get(key)
            if value and isinstance(value, (str, int)):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str, node: int) -> None:
    """The root logger on stderr: ``fmt`` "text" for people, "json" for a log pipeline. Either way each
    line names its node and, when it is about a connection, the protocol, the peer and the uid."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter(node))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(context)s]: %(message)s")
        )
    logging.basicConfig(level=level, handlers=[handler])
