#!/usr/bin/env bash
# tools/test-parts/fuzz.sh — the libFuzzer harness for a bounded time (a part of
# `make test`; for longer runs: `make fuzz FUZZ_SECONDS=600`).
#
# 1. Installs clang + libclang-rt if missing (tools/install-deps.sh fuzz) and
#    builds build/fuzz/heap_fuzz (mk/fuzz.mk; lib/ compiled with clang -Werror).
# 2. Replays every saved input in host_tests/fuzz/regressions/ (if any): one
#    test each.
# 3. Fuzzes for KHEAP_FUZZ_SECONDS (default 60) from a fresh corpus seeded with
#    random inputs (build/fuzz/ci-corpus): one test, failed by any crash, check
#    failure, sanitizer report or hang (-timeout=30 per input). The crashing
#    input is kept under build/fuzz/artifacts/; the part prints how to replay it.
# Prints the number of inputs (executions) and operations run.
# Writes "PASSED FAILED" to $KHEAP_RESULT, prints "fuzz: N passed, M failed".
set -uo pipefail
. "$(dirname "$0")/../part-common.sh"
part_begin fuzz
seconds=${KHEAP_FUZZ_SECONDS:-60}
mkdir -p build/logs build/fuzz/artifacts

if ! tools/install-deps.sh fuzz; then
  echo "[ FAIL ] fuzz: could not install clang / libclang-rt"; failed=1; part_finish
fi

part_build "build/fuzz/heap_fuzz with clang" fuzz-build build/logs/fuzz-build.log
bin=build/fuzz/heap_fuzz

# --- saved inputs that once failed ------------------------------------------------
for input in host_tests/fuzz/regressions/*; do
  [ -f "$input" ] || continue
  log=build/logs/fuzz-regression-$(basename "$input").log
  if "$bin" "$input" >"$log" 2>&1; then
    passed=$((passed + 1)); echo "[  OK  ] fuzz regression $(basename "$input")"
  else
    failed=$((failed + 1)); echo "[ FAIL ] fuzz regression $input:"; grep -A8 'heap_fuzz: FAILED\|ERROR:' "$log" | head -30
  fi
done

# --- the bounded run ----------------------------------------------------------------
corpus=build/fuzz/ci-corpus
rm -rf "$corpus"
mkdir -p "$corpus"
for i in 1 2 3 4 5 6 7 8; do head -c $((512 * i)) /dev/urandom >"$corpus/seed-$i"; done
log=build/logs/fuzz-run.log
echo "fuzzing for ${seconds}s (log: $log)"
timeout $((seconds + 120)) "$bin" -max_total_time="$seconds" -max_len=8192 -timeout=30 -print_final_stats=1 \
  -artifact_prefix=build/fuzz/artifacts/ "$corpus" >"$log" 2>&1
status=$?
grep -E '^INFO: Seed:' "$log"
stats=$(grep -E '^heap_fuzz: [0-9]+ inputs' "$log" | tail -1)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
if [ $status -eq 0 ] && [ -n "$stats" ]; then
  passed=$((passed + 1))
  echo "[  OK  ] fuzz: ${runs:-?} executions in ${seconds}s, no failure"
  echo "$stats"
else
  failed=$((failed + 1))
  echo "[ FAIL ] fuzz: status $status; the failure ($log):"
  if grep -q 'heap_fuzz: FAILED' "$log"; then
    grep -A12 'heap_fuzz: FAILED' "$log" | head -30
  else
    grep -E -A30 '==[0-9]+==ERROR|runtime error:|ERROR: libFuzzer' "$log" | head -50
  fi
  crash=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
  [ -n "$crash" ] && echo "replay it with: KHEAP_FUZZ_TRACE=1 $bin $crash"
  [ -n "$stats" ] && echo "$stats"
fi
part_finish
