"""Instructions and cache misses per message of ``polyim bench chat``, counted by cachegrind.

On the project's shared machine the wall-clock figures of one build move 10–40 % between two runs a
minute apart; the instructions a message costs do not. This runs the bench twice, 5 s and 20 s, with its
own server under ``valgrind --tool=cachegrind``, and divides the difference of the counts by the
difference of the messages acked: the server's cost per message, its start and the logins cancelled out.
Time in the kernel (system calls, TCP) is not counted. A tree is a directory holding a ``polyim``
package, as for ``scripts/bench_builds.py``; the run is about 20× slower than a native one.

    .venv/bin/python scripts/cachegrind.py --protocol mixed --cache-sim old=/tmp/b-old new=/tmp/b-new

Inside the bench process (``--inside OUT ARGS…``) it starts the server under valgrind, which the bench's
own launcher cannot: that is the only reason it reaches into :mod:`polyim.bench.runner`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DURATIONS = (5, 20)
_COUNTS = {"Ir": r"I\s+refs", "I1 miss": r"I1\s+misses", "D1 miss": r"D1\s+misses"}


def inside(out: str, cache_sim: bool, bench_args: list[str]) -> int:
    """The bench itself, its server launched under cachegrind (writing ``out`` and ``out.log``)."""
    from polyim.bench import runner
    from polyim.cli import main

    launch = runner.launch
    valgrind = ["valgrind", "--tool=cachegrind", f"--cache-sim={'yes' if cache_sim else 'no'}"]
    valgrind += [f"--cachegrind-out-file={out}", f"--log-file={out}.log"]

    def under_valgrind(server: runner.Server, argv: list[str], last: str) -> None:
        launch(server, valgrind + argv if "serve" in argv else argv, last)

    runner.launch = under_valgrind
    runner._START_TIMEOUT = 900.0  # the server's imports alone take a minute under valgrind
    return main(["bench", *bench_args])


def counts(log: Path) -> dict[str, int]:
    text = log.read_text()
    found = {name: re.search(pattern + r"\s*:\s*([\d,]+)", text) for name, pattern in _COUNTS.items()}
    return {name: int(m.group(1).replace(",", "")) for name, m in found.items() if m}


def per_message(label: str, tree: Path, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """The counts' growth between the two runs divided by the messages acked meanwhile. The bench runs
    in the tree (``python -m`` puts the working directory first on the path)."""
    seen: list[tuple[int, dict[str, int]]] = []
    for seconds in DURATIONS:
        out = work / f"{label}-{seconds}"
        bench = [
            "chat",
            "--protocol",
            args.protocol,
            "--pairs",
            str(args.pairs),
            "--window",
            str(args.window),
        ]
        bench += ["--duration", str(seconds), "--quiet", "--json", f"{out}.json"]
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--inside",
            str(out),
            *(["--cache-sim"] if args.cache_sim else []),
        ]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        subprocess.run([*command, "--", *bench], cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
        acked = int(json.loads(Path(f"{out}.json").read_text())["acked"])
        seen.append((acked, counts(Path(f"{out}.log"))))
    (m0, c0), (m1, c1) = seen
    return {name: (c1[name] - c0[name]) / (m1 - m0) for name in c1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", default="omtp")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--cache-sim", action="store_true", help="simulate the caches (about 2× slower)")
    parser.add_argument("--inside", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("trees", nargs="*", metavar="LABEL=TREE")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # the bench's own arguments follow "--"
    args = parser.parse_args(argv[:cut])
    if args.inside:
        return inside(args.inside, args.cache_sim, argv[cut + 1 :])
    with tempfile.TemporaryDirectory(prefix="polyim-cachegrind-") as tmp:
        for label, _, tree in (t.partition("=") for t in args.trees or [f"checkout={Path.cwd()}"]):
            figures = per_message(label, Path(tree).resolve(), args, Path(tmp))
            print(
                label, args.protocol, "  ".join(f"{name}/msg {value:,.0f}" for name, value in figures.items())
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
