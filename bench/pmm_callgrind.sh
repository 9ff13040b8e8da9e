#!/bin/bash
# Instructions per order-0 alloc+free pair, counted by callgrind over two
# iteration counts (the difference cancels setup and start-up):
#   "allocator" counts only inside alloc_frame + free_frame (call to ret),
#   "with loop" adds the benchmark loop around them (counter, call setup).
# Usage: bench/pmm_callgrind.sh [binary built from bench/pmm_callgrind.cpp]
set -euo pipefail
bin=${1:-build/host/pmm_callgrind}
. "$(dirname "$0")/callgrind_count.sh"
per_pair() { per_op "$bin" "$@"; }
for mode in warm cold; do
  inner=$(per_pair $mode '*BuddyAllocator::alloc_frame*' '*BuddyAllocator::free_frame*')
  outer=$(per_pair $mode 'run_pairs*')
  echo "$mode: $inner instructions per order-0 alloc+free pair in the allocator, $outer with the loop around them"
done
