"""Alternate ``polyim bench`` scenarios between several source trees, and print one table of ratios.

Only figures from the same run mean anything on a shared machine, so each round runs every scenario
against every tree in turn (old/new code, pure-Python/compiled build). A tree is a directory holding
a ``polyim`` package: a ``git archive`` of an older commit, or a copy of this checkout with or without
its compiled ``.so`` files. The server runs from the tree (the bench starts it with ``python -m``
from the working directory); the load generator too. The interpreter is this one.

    .venv/bin/python scripts/bench_builds.py --out bench-results/builds --rounds 2 \\
        main=/tmp/b-main pure=/tmp/b-pure compiled=/tmp/b-comp
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
from pathlib import Path

PINNED = ["--server-cpu", "0", "--load-cpu", "1", "--quiet"]
SCENARIOS: dict[str, list[str]] = {
    "chat-omtp": ["chat", "--pairs", "100", "--window", "16", "--duration", "10"],
    "chat-beehive": ["chat", "--pairs", "100", "--window", "16", "--duration", "10", "--protocol", "beehive"],
    "chat-mixed": ["chat", "--pairs", "100", "--window", "16", "--duration", "10", "--protocol", "mixed"],
    "chat-5000": ["chat", "--pairs", "50", "--rate", "5000", "--duration", "10"],
    "group": ["group", "--duration", "10"],
    "room": ["room", "--duration", "10"],
}
#: The storage floor: run once per round (it is the same code for every tree), from the first tree.
FLOORS: dict[str, list[str]] = {
    "floor": [
        "baseline",
        "--of",
        "chat",
        "--durable",
        "--pairs",
        "100",
        "--window",
        "16",
        "--duration",
        "10",
    ],
    "floor-5000": [
        "baseline",
        "--of",
        "chat",
        "--durable",
        "--pairs",
        "50",
        "--rate",
        "5000",
        "--duration",
        "10",
    ],
}


def run(tree: Path, args: list[str], out: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "polyim.cli", "bench", *args, *PINNED, "--json", str(out)]
    subprocess.run(cmd, cwd=tree, check=True)
    figures: dict[str, float] = json.loads(out.read_text())
    return figures


def _column(runs: list[dict[str, float]], field: str, fmt: str) -> str:
    """Every run's figure, in run order: the spread is part of the result."""
    values = [f[field] for f in runs if f.get(field) is not None]
    return " / ".join(format(v, fmt) for v in values) if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("trees", nargs="+", help="LABEL=DIR")
    args = parser.parse_args()
    trees = [(label, Path(d)) for label, d in (t.split("=", 1) for t in args.trees)]
    args.out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else set(SCENARIOS) | set(FLOORS)
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(args.rounds):
        for name, scenario in {**FLOORS, **SCENARIOS}.items():
            if name not in wanted:
                continue
            for label, tree in trees[:1] if name in FLOORS else trees:
                key = (name, "floor" if name in FLOORS else label)
                print(f"round {r + 1}: {name} on {key[1]}", flush=True)
                figures = run(tree, scenario, args.out / f"{name}-{key[1]}-{r + 1}.json")
                results.setdefault(key, []).append(figures)
    print(
        f"\n{'scenario':<14}{'tree':<10}{'acked/s':>22}{'delivered/s':>24}{'p99 ack ms':>22}{'cpu-s/1k':>18}{'lost':>6}"
    )
    for (name, label), runs in results.items():
        col = functools.partial(_column, runs)
        lost = sum(int(f.get("lost", 0)) for f in runs)
        print(
            f"{name:<14}{label:<10}{col('acked_per_s', ',.0f'):>22}{col('delivered_per_s', ',.0f'):>24}"
            f"{col('p99_ack_ms', '.1f'):>22}{col('server_cpu_s_per_1k', '.3f'):>18}{lost:>6}"
        )


if __name__ == "__main__":
    main()
