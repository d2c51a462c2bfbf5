"""Draw docs/growth.png from the JSON files of `bash scripts/bench_growth.sh OUT`.

    python scripts/plot_growth.py OUT docs/growth.png

Four panels, each against what grows: chat throughput and p99 send→ack against the messages already
stored; history, catch-up and conversation-list latencies against the messages stored; chat against
concurrent pairs; login and conversation list against a user's conversations. A run missing from OUT
is left out of its curve.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

SIZES = (0, 1_000_000, 3_000_000, 10_000_000)
PAIRS = (100, 1000, 9900)
CONVS = (100, 1000, 5000)


def _runs(out: Path, prefix: str, keys: tuple[int, ...]) -> list[tuple[int, dict[str, Any]]]:
    found = []
    for key in keys:
        path = out / f"{prefix}-{key}.json"
        if path.exists():
            found.append((key, json.loads(path.read_text())))
    return found


def _label(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n:,}"


def _chat_panel(
    ax: Axes, unpaced: list[tuple[int, dict[str, Any]]], paced: list[tuple[int, dict[str, Any]]], what: str
) -> None:
    keys = sorted({k for k, _ in unpaced + paced})
    xs = {k: i for i, k in enumerate(keys)}
    ax.bar(
        [xs[k] for k, _ in unpaced],
        [r["acked_per_s"] for _, r in unpaced],
        color="#9ecae1",
        label="msgs/s, unpaced",
    )
    ax.set_ylabel("acked msgs/s (unpaced)")
    ax.set_xticks(range(len(keys)), [_label(k) for k in keys])
    ax.set_xlabel(what)
    twin = ax.twinx()
    twin.plot(
        [xs[k] for k, _ in paced],
        [r["p99_ack_ms"] for _, r in paced],
        "o-",
        color="#d62728",
        label="p99 send→ack at 2,000/s",
    )
    twin.set_ylabel("p99 send→ack ms at 2,000 msgs/s")
    twin.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(lines, [str(line.get_label()) for line in lines], fontsize=7, loc="lower left")


def _latency_panel(
    ax: Axes, series: dict[str, list[tuple[int, float]]], what: str, keys: tuple[int, ...]
) -> None:
    present = sorted({k for points in series.values() for k, _ in points})
    xs = {k: i for i, k in enumerate(k for k in keys if k in present)}
    for name, points in series.items():
        if points:
            ax.plot([xs[k] for k, _ in points], [v for _, v in points], "o-", label=name)
    ax.set_xticks(range(len(xs)), [_label(k) for k in xs])
    ax.set_xlabel(what)
    ax.set_ylabel("ms")
    ax.set_yscale("log")
    ax.legend(fontsize=7)


def _timing(runs: list[tuple[int, dict[str, Any]]], name: str, pct: str) -> list[tuple[int, float]]:
    return [(k, r["timings"][name][pct]) for k, r in runs if name in r.get("timings", {})]


def main(out: Path, png: Path) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    _chat_panel(
        axes[0][0],
        _runs(out, "chat-unpaced", SIZES),
        _runs(out, "chat-2000", SIZES),
        "messages already stored",
    )
    axes[0][0].set_title("chat, 100 pairs, against the store's size", fontsize=9)
    history, catchup, many = (_runs(out, p, SIZES) for p in ("history", "catchup", "manyconv"))
    _latency_panel(
        axes[0][1],
        {
            "history page, random depth, p99": _timing(history, "history, random depth", "p99_ms"),
            "history page, newest, p50": _timing(history, "history, newest page", "p50_ms"),
            "catch-up of 1,000 unread, p50": _timing(catchup, "catch-up, all unread", "p50_ms"),
            "conversation list (10 convs), p50": _timing(catchup, "conversation list", "p50_ms"),
            "5,000-conversation list, p50": _timing(many, "conversation list", "p50_ms"),
        },
        "messages already stored",
        SIZES,
    )
    axes[0][1].set_title("reads against the store's size", fontsize=9)
    _chat_panel(
        axes[1][0], _runs(out, "pairs-unpaced", PAIRS), _runs(out, "pairs-2000", PAIRS), "concurrent pairs"
    )
    axes[1][0].set_title("chat against concurrent pairs (empty store)", fontsize=9)
    convs = _runs(out, "convs", CONVS)
    _latency_panel(
        axes[1][1],
        {
            "login, p50": _timing(convs, "login", "p50_ms"),
            "conversation list, p50": _timing(convs, "conversation list", "p50_ms"),
            "conversation list, p99": _timing(convs, "conversation list", "p99_ms"),
        },
        "conversations of the user logging in",
        CONVS,
    )
    axes[1][1].set_title("login and conversation list against a user's conversations", fontsize=9)
    fig.suptitle("How cost grows: polyim bench on 2 shared cores (server pinned to one)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
