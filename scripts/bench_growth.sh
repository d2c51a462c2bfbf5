#!/usr/bin/env bash
# How cost grows (docs/performance.md): every run of its tables, each a `polyim bench … --json` into
# OUT (default /tmp/growth); then `python scripts/plot_growth.py OUT docs/growth.png` draws them.
#   bash scripts/bench_growth.sh [OUT] [SIZES]      SIZES: stored messages, default "0 1000000 3000000 10000000"
# Each scenario runs at every size one after the other, so that the sizes of one row are minutes apart;
# the machine's load average is printed before each run (the figures move with it on a shared machine).
set -euo pipefail
out=${1:-/tmp/growth}
sizes=${2:-"0 1000000 3000000 10000000"}
mkdir -p "$out"
pin=(--server-cpu 0 --load-cpu 1)
bench() { # NAME ARGS...: one run, its table on stdout, its figures in OUT/NAME.json
    local name=$1
    shift
    echo "== $(date +%H:%M:%S) load average $(cut -d' ' -f1-3 /proc/loadavg): polyim bench $* ${pin[*]}"
    polyim bench "$@" "${pin[@]}" --quiet --json "$out/$name.json" || echo "(failed: $?)"
}
# 200 pairs at window 8: with 100 at window 16 the compiled build outruns OMTP's per-connection rate
# limit (100 frames/s, burst 200), and the run measures the limiter
for n in $sizes; do bench "chat-unpaced-$n" chat --pairs 200 --window 8 --duration 10 --prefill "$n"; done
for n in $sizes; do bench "chat-2000-$n" chat --pairs 100 --rate 2000 --duration 10 --prefill "$n"; done
for n in $sizes; do bench "history-$n" history --prefill "$n"; done
for n in $sizes; do bench "catchup-$n" catchup --prefill "$n"; done
for n in $sizes; do bench "manyconv-$n" manyconv --prefill "$n"; done
for k in 100 1000 5000; do bench "convs-$k" manyconv --convs "$k"; done
for pairs in 100 1000 9900; do # 9,900: 19,800 sessions is what one server process's 20,000 fds allow
    bench "pairs-unpaced-$pairs" chat --pairs "$pairs" --window 8 --duration 10
    bench "pairs-2000-$pairs" chat --pairs "$pairs" --rate 2000 --duration 10
done
