#!/usr/bin/env bash
# tools/run-benches.sh BENCH... — run each Google Benchmark program with
# repetitions and report medians (aggregates only). Results also go to
# build/bench/<name>.json. Reports the machine's load, since it colours every number.
# The repetitions of a program's benchmarks run in random order, interleaved,
# so that a drift of the machine's speed (20-30% over tens of seconds on the
# VMs seen so far) spreads over all of them instead of landing on whichever
# ran last — the side-by-side ratios compare benchmarks of one program.
set -uo pipefail
mkdir -p build/bench
reps=${KHEAP_BENCH_REPS:-5}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (noisy if well above 0)"
for b in "$@"; do
  name=$(basename "$b")
  echo "=== $name"
  "$b" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true \
       --benchmark_out="build/bench/$name.json" --benchmark_out_format=json 2>&1 | grep -Ev '_(mean|stddev|cv) '
done
