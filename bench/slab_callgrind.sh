#!/bin/bash
# Instructions per kmalloc+kfree pair, counted by callgrind over two iteration
# counts (the difference cancels setup and start-up):
#   "allocator" counts only inside kmalloc + kfree (call to ret, slow paths included),
#   "with loop" adds the loop around them (counter, call setup, argument moves).
# Usage: bench/slab_callgrind.sh [binary built from bench/slab_callgrind.cpp]
set -euo pipefail
bin=${1:-build/host/slab_callgrind}
ir() {  # mode iterations toggle-patterns...
  local mode=$1 n=$2; shift 2
  local out; out=$(mktemp)
  local toggles=()
  for t in "$@"; do toggles+=(--toggle-collect="$t"); done
  valgrind --tool=callgrind --callgrind-out-file="$out" "${toggles[@]}" "$bin" "$mode" "$n" >/dev/null 2>&1
  callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$out"
}
per_pair() {  # mode patterns...
  local mode=$1; shift
  local a b; a=$(ir "$mode" 100000 "$@"); b=$(ir "$mode" 200000 "$@")
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 100000 }'
}
for mode in lifo64 churn; do
  inner=$(per_pair $mode 'kheap::kmalloc*' 'kheap::kfree*')
  outer=$(per_pair $mode "run_pairs_*")
  echo "$mode: $inner instructions per kmalloc+kfree pair in the allocator, $outer with the loop around them"
done
