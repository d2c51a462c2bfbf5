#!/usr/bin/env bash
# Offered-load sweep of the chat scenario and of its durable floor, then the plot of docs/performance.md.
#   bash scripts/bench_chat_sweep.sh [OUTDIR [LABEL=TREE ...]]
# Without trees the checkout's own build runs. A TREE is a directory holding a polyim package (as for
# scripts/bench_builds.py: a copy with or without its compiled .so files): every rate runs against each
# tree in turn and then against the floor, so the curves of one plot come from the same minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$(realpath -m "${1:-bench-results}")
shift || true
trees=("$@")
[ ${#trees[@]} -gt 0 ] || trees=("polyim=$root")
mkdir -p "$out"
files=()
for rate in ${RATES:-500 1000 2000 3000 4000 5000 0}; do
    for tree in "${trees[@]}"; do
        label=${tree%%=*}
        (cd "${tree#*=}" && "$root/.venv/bin/python" -m polyim.cli bench chat --pairs 100 --duration 10 \
            --rate "$rate" --server-cpu 0 --load-cpu 1 --quiet --json "$out/chat-$label-$rate.json")
        files+=("$label=$out/chat-$label-$rate.json")
    done
    # the same load against an echo server that commits each frame to SQLite first: the storage floor
    (cd "${trees[0]#*=}" && "$root/.venv/bin/python" -m polyim.cli bench baseline --of chat --durable \
        --pairs 100 --duration 10 --rate "$rate" --server-cpu 0 --load-cpu 1 --quiet --json "$out/floor-$rate.json")
    files+=("$out/floor-$rate.json")
done
.venv/bin/python scripts/plot_chat.py docs/chat-load.png "${files[@]}"
