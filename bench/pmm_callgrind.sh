#!/bin/bash
# Instructions per order-0 alloc+free pair, counted by callgrind over two
# iteration counts (the difference cancels setup and start-up):
#   "allocator" counts only inside alloc_frame + free_frame (call to ret),
#   "with loop" adds the benchmark loop around them (counter, call setup).
# Usage: bench/pmm_callgrind.sh [binary built from bench/pmm_callgrind.cpp]
set -euo pipefail
bin=${1:-build/host/pmm_callgrind}
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
  echo $(( (b - a) / 100000 ))
}
for mode in warm cold; do
  inner=$(per_pair $mode '*BuddyAllocator::alloc_frame*' '*BuddyAllocator::free_frame*')
  outer=$(per_pair $mode 'run_pairs*')
  echo "$mode: $inner instructions per order-0 alloc+free pair in the allocator, $outer with the loop around them"
done
