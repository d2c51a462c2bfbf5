"""Plot `polyim bench chat --json` results: throughput and p99 send→ack latency against offered load.

    python scripts/plot_chat.py OUT.png RESULT.json [RESULT.json ...]

Each JSON file is one run; its offered rate is read from ``offered_per_s`` (0 or missing = unpaced,
plotted at the right edge as "max").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(out: str, files: list[str]) -> None:
    runs = [json.loads(Path(f).read_text()) for f in files]
    paced = sorted((r for r in runs if r.get("offered_per_s")), key=lambda r: r["offered_per_s"])
    unpaced = [r for r in runs if not r.get("offered_per_s")]
    xs = [r["offered_per_s"] for r in paced]
    top = max(xs, default=1000) * 1.15
    xs_all = xs + [top] * len(unpaced)
    ordered = paced + unpaced
    fig, ax1 = plt.subplots(figsize=(7, 4.2))
    ax1.plot(xs_all, [r["acked_per_s"] for r in ordered], "o-", label="acked msg/s")
    ax1.plot(xs_all, [r["delivered_per_s"] for r in ordered], "s--", label="delivered msg/s")
    ax1.set_xlabel("offered load (msg/s; rightmost point = unpaced)")
    ax1.set_ylabel("messages per second")
    ax2 = ax1.twinx()
    ax2.plot(xs_all, [r["p99_ack_ms"] for r in ordered], "r^:", label="p99 send→ack (ms)")
    ax2.set_yscale("log")
    ax2.set_ylabel("p99 send→ack latency (ms, log)")
    lines = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax1.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax1.legend(lines, labels, loc="upper left", fontsize=8)
    ax1.set_title("polyim bench chat (OMTP, server on one core, SQLite synchronous=FULL)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
