#!/usr/bin/env bash
# The side-by-side runs of docs/performance.md (issue 22): one node on SQLite, one node on PostgreSQL +
# Redis, three nodes on them, the same commands one after the other, two rounds of the unpaced chat.
# Each result goes to OUT/NAME.out (the table) and OUT/NAME.json; OUT/runs.out collects the tables.
set -uo pipefail
OUT=${1:-bench-nodes}
POLYIM=${POLYIM:-polyim}
mkdir -p "$OUT"
run() {
    local name=$1
    shift
    echo "== $name: polyim bench $* ($(date +%H:%M:%S))" >>"$OUT/runs.out"
    timeout 900 "$POLYIM" bench "$@" --json "$OUT/$name.json" >"$OUT/$name.out" 2>&1
    tail -20 "$OUT/$name.out" >>"$OUT/runs.out"
}
for round in 1 2; do
    run "chat-sqlite-$round" chat --pairs 50 --window 8 --duration 10
    run "chat-pg1-$round" chat --pairs 50 --window 8 --duration 10 --nodes 1
    run "chat-pg3-$round" chat --pairs 50 --window 8 --duration 10 --nodes 3
done
run rate-sqlite chat --pairs 50 --rate 1500 --duration 10
run rate-pg1 chat --pairs 50 --rate 1500 --duration 10 --nodes 1
run rate-pg3 chat --pairs 50 --rate 1500 --duration 10 --nodes 3
run idle-sqlite idle --sessions 15000 --duration 20
run idle-pg1 idle --sessions 15000 --duration 20 --nodes 1
run idle-pg3 idle --sessions 15000 --duration 20 --nodes 3
run idle-50k idle --sessions 50000 --duration 20 --nodes 3
