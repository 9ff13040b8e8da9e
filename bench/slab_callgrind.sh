#!/bin/bash
# Instructions per kmalloc+kfree pair, counted by callgrind over two iteration
# counts (the difference cancels setup and start-up):
#   "allocator" counts only inside kmalloc + kfree (call to ret, slow paths included),
#   "with loop" adds the loop around them (counter, call setup, argument moves).
# Usage: bench/slab_callgrind.sh [binary built from bench/slab_callgrind.cpp]
set -euo pipefail
bin=${1:-build/host/slab_callgrind}
. "$(dirname "$0")/callgrind_count.sh"
per_pair() { per_op "$bin" "$@"; }
for mode in lifo64 churn; do
  inner=$(per_pair $mode 'kheap::kmalloc*' 'kheap::kfree*')
  outer=$(per_pair $mode "run_pairs_*")
  echo "$mode: $inner instructions per kmalloc+kfree pair in the allocator, $outer with the loop around them"
done
