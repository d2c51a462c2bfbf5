#!/usr/bin/env bash
# Offered-load sweep of the chat scenario and of its durable floor, then the plot of docs/performance.md.
#   bash scripts/bench_chat_sweep.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
mkdir -p "$out"
for rate in 500 1000 2000 3000 4000 5000 0; do
    .venv/bin/polyim bench chat --pairs 100 --duration 10 --rate "$rate" --server-cpu 0 --load-cpu 1 \
        --quiet --json "$out/chat-$rate.json"
    # the same load against an echo server that commits each frame to SQLite first: the storage floor
    .venv/bin/polyim bench baseline --of chat --durable --pairs 100 --duration 10 --rate "$rate" \
        --server-cpu 0 --load-cpu 1 --quiet --json "$out/floor-$rate.json"
done
.venv/bin/python scripts/plot_chat.py docs/chat-load.png "$out"/chat-*.json "$out"/floor-*.json
