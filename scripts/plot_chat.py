"""Plot `polyim bench chat --json` results: throughput and p99 send→ack latency against offered load.

    python scripts/plot_chat.py OUT.png [LABEL=]RESULT.json [[LABEL=]RESULT.json ...]

Each JSON file is one run; its offered rate is read from ``offered_per_s`` (0 or missing = unpaced,
plotted at the right edge as "max"). Runs of ``baseline --durable`` (the echo server that commits each
frame to SQLite before echoing it) are drawn as a grey set of curves: the storage floor. The other runs
are grouped by the ``LABEL=`` before their file name ("polyim" without one), one set of curves per
label: the pure-Python and the compiled build side by side, say.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _series(runs: list[dict[str, Any]]) -> tuple[list[float], list[dict[str, Any]]]:
    """Paced runs by offered rate, then the unpaced ones at the right edge."""
    paced = sorted((r for r in runs if r.get("offered_per_s")), key=lambda r: r["offered_per_s"])
    unpaced = [r for r in runs if not r.get("offered_per_s")]
    xs = [float(r["offered_per_s"]) for r in paced]
    return xs, paced + unpaced


def main(out: str, files: list[str]) -> None:
    labelled = [f.split("=", 1) if "=" in f else ["polyim", f] for f in files]
    runs = [(label, json.loads(Path(f).read_text())) for label, f in labelled]
    groups: dict[str, list[dict[str, Any]]] = {}
    for label, r in runs:
        groups.setdefault("floor" if r.get("durable") else label, []).append(r)
    top = max((float(r["offered_per_s"]) for _, r in runs if r.get("offered_per_s")), default=1000.0) * 1.15
    fig, ax1 = plt.subplots(figsize=(7.5, 4.6))
    ax2 = ax1.twinx()
    colours = iter(["tab:blue", "tab:orange", "tab:green", "tab:purple"])
    for name, group in groups.items():
        xs, ordered = _series(group)
        xs += [top] * (len(ordered) - len(xs))
        colour = "grey" if name == "floor" else next(colours)
        ax1.plot(xs, [r["acked_per_s"] for r in ordered], "o-", color=colour, label=f"{name}: acked msg/s")
        ax2.plot(
            xs,
            [r["p99_ack_ms"] for r in ordered],
            "^:",
            color=colour,
            label=f"{name}: p99 send→ack (ms)",
        )
    ax1.set_xlabel("offered load (msg/s; rightmost point = unpaced)")
    ax1.set_ylabel("messages per second")
    ax2.set_yscale("log")
    ax2.set_ylabel("p99 send→ack latency (ms, log)")
    ax2.axhline(10, color="red", linewidth=0.6, alpha=0.5, label="p99 target at 5,000 msg/s")
    lines = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax1.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax1.legend(lines, labels, loc="upper left", fontsize=7)
    ax1.set_title(
        "polyim bench chat (OMTP, server on one core, SQLite synchronous=FULL)\n"
        "floor: echo server committing each frame to SQLite first",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
