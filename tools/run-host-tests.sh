#!/usr/bin/env bash
# tools/run-host-tests.sh BIN... — run GoogleTest binaries, one after another,
# and total their results. Writes "PASSED FAILED" to $KHEAP_RESULT if set.
# Exit status: nonzero if any test (or binary) failed.
set -uo pipefail
passed=0 failed=0 broken=()
mkdir -p build/logs
for bin in "$@"; do
  name=$(basename "$bin")
  log=build/logs/$name.log
  echo "=== $name"
  "$bin" --gtest_brief=1 >"$log" 2>&1
  status=$?
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$log" | tail -1)
  p=${p:-0} f=${f:-0}
  if [ $status -ne 0 ] && [ "$f" = 0 ]; then f=1; broken+=("$name (exit status $status)"); fi
  passed=$((passed + p)) failed=$((failed + f))
  if [ $status -ne 0 ]; then
    echo "--- $name failed (status $status); its log ($log), last 60 lines:"
    tail -n 60 "$log"
  else
    echo "    $p passed"
  fi
done
[ ${#broken[@]} -gt 0 ] && printf 'binary failed without a GoogleTest summary: %s\n' "${broken[@]}"
echo "host tests: $passed passed, $failed failed"
[ -n "${KHEAP_RESULT:-}" ] && echo "$passed $failed" > "$KHEAP_RESULT"
[ "$failed" = 0 ]
