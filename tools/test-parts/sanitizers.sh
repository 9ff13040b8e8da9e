#!/usr/bin/env bash
# tools/test-parts/sanitizers.sh — the host test suites under AddressSanitizer and
# UndefinedBehaviorSanitizer (a part of `make test`; alone: `make check-asan`).
#
# 1. Builds build/host-asan/*_test (mk/sanitize.mk: the same sources as
#    build/host/, g++ -fsanitize=address,undefined -fno-sanitize-recover=undefined).
# 2. Runs every suite twice, each test exactly once between the two runs:
#    - all tests but the death tests, with ASan's defaults (leak checking on);
#    - the death tests (*DeathTest*), with ASAN_OPTIONS handle_segv=0:
#      allow_user_segv_handler=1. Some of them expect the child to be KILLED BY
#      SIGSEGV (touching a PROT_NONE page of the simulated machine: a freed run,
#      past the break, unmapped page-heap metadata). ASan's own SEGV handler
#      would instead print a report and exit(1), which is not what they test.
#      With handle_segv=0 the signal takes its default action, as without ASan.
#      Nothing else changes for them (heap checks, UBSan stay on).
# Nothing is excluded. A suite that dies (a sanitizer report aborts it) or fails
# fails the part; its log is in build/logs/asan-<suite>.log.
# Writes "PASSED FAILED" to $KHEAP_RESULT, prints "sanitizers: N passed, M failed".
set -uo pipefail
. "$(dirname "$0")/../part-common.sh"
part_begin sanitizers
t0=$SECONDS

if ! tools/install-deps.sh host; then
  echo "[ FAIL ] sanitizers: could not install g++ / GoogleTest"; failed=1; part_finish
fi

part_build "the host tests with ASan+UBSan" asan-tests build/logs/asan-build.log

base_asan="detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

run() {  # run LABEL ASAN_OPTIONS BIN FILTER
  local label=$1 opts=$2 bin=$3 filter=$4
  local log=build/logs/asan-$label.log
  local ts=$SECONDS
  ASAN_OPTIONS="$opts" timeout 300 "$bin" --gtest_brief=1 --gtest_filter="$filter" >"$log" 2>&1
  local status=$?
  local p f
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$log" | tail -1)
  p=${p:-0} f=${f:-0}
  [ $status -ne 0 ] && [ "$f" = 0 ] && f=1   # died (a sanitizer report) or timed out without a summary
  passed=$((passed + p)) failed=$((failed + f))
  if [ $status -ne 0 ]; then
    echo "--- $label failed (status $status); its log ($log), the sanitizer report or last 60 lines:"
    if grep -q -E '^(==[0-9]+==ERROR|SUMMARY: (Address|UndefinedBehavior|Leak)Sanitizer)|runtime error:' "$log"; then
      grep -E -A25 '==[0-9]+==ERROR|runtime error:' "$log" | head -60
    else
      tail -n 60 "$log"
    fi
  else
    echo "    $label: $p passed ($((SECONDS - ts))s)"
  fi
}

for bin in build/host-asan/*_test; do
  name=$(basename "$bin")
  echo "=== $name"
  run "$name" "$base_asan" "$bin" '-*DeathTest*'
  if "$bin" --gtest_list_tests --gtest_filter='*DeathTest*' 2>/dev/null | grep -q '^  '; then
    run "$name-death" "$base_asan:handle_segv=0:allow_user_segv_handler=1" "$bin" '*DeathTest*'
  fi
done
echo "sanitizers: $((SECONDS - t0))s in all"
part_finish
