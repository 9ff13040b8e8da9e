#!/usr/bin/env bash
# tools/kernel-tests.sh — boot the real ISO in QEMU (GRUB loads the kernel) with
# boot-time commands and check what the kernel prints and how it exits.
#
# Each case: memory size, commands, expected exit code, and checks on the
# serial log (build/logs/kernel-<case>.log, shown when the case fails). Every
# run has a timeout; a hang, triple fault or reset fails the case.
# Writes "PASSED FAILED" to $KHEAP_RESULT if set (selftest counts included).
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 failures=()
self_passed=0 self_failed=0
only=${KHEAP_KERNEL_CASE:-}

log=""
problems=()
expect() {  # expect REGEX [what] — a line of the log matches
  grep -Eq -- "$1" "$log" || problems+=("expected a line matching /$1/${2:+ ($2)}")
}
expect_not() {
  grep -Eq -- "$1" "$log" && problems+=("unexpected line matching /$1/${2:+ ($2)}: $(grep -Em1 -- "$1" "$log")")
}
field() {  # field LABEL [n] — the number after "LABEL:" on its n-th occurrence (default 1)
  grep -E "^$1:" "$log" | sed -n "${2:-1}p" | awk '{print $2}'
}
require() {  # require "description" CONDITION...
  local what=$1; shift
  "$@" || problems+=("$what")
}

run_case() {  # run_case NAME MEM TIMEOUT EXPECTED_EXIT CMDS CHECK_FUNCTION  (case_kargs=... run_case: kernel options)
  local name=$1 mem=$2 timeout_s=$3 want=$4 cmds=$5 check=$6
  [ -n "$only" ] && [[ $name != *$only* ]] && return
  log=build/logs/kernel-$name.log
  problems=()
  local t0=$SECONDS
  tools/qemu-run.sh --quiet --mem "$mem" --timeout "$timeout_s" --log "$log" --cmds "$cmds" \
    ${case_kargs:+--kargs "$case_kargs"} 2>"$log.err"
  local status=$?
  tr -d '\r' <"$log" >"$log.tmp" && mv "$log.tmp" "$log"
  cat "$log.err" >>"$log"
  [ "$status" = "$want" ] || problems+=("exit code $status, expected $want (100 = timeout, 101 = triple fault/reset)")
  $check
  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1))
    printf '[  OK  ] %-28s (%s, %ds)\n' "$name" "$mem" $((SECONDS - t0))
  else
    failed=$((failed + 1)); failures+=("$name")
    printf '[ FAIL ] %-28s (%s, %ds)\n' "$name" "$mem" $((SECONDS - t0))
    printf '    %s\n' "${problems[@]}"
    echo "    ----- serial log $log (last 60 lines) -----"
    tail -n 60 "$log" | sed 's/^/    | /'
  fi
}

# --- checks -----------------------------------------------------------------

check_selftest() {
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
  if [ -z "$line" ]; then problems+=("no 'N passed, M failed' line from selftest"); return; fi
  local p=${line%% passed*} f
  f=${line#*, }; f=${f%% failed}
  self_passed=$((self_passed + p)) self_failed=$((self_failed + f))
  echo "    selftest: $line"
  [ "$f" = 0 ] || problems+=("selftest: $line: $(grep -E '^\[ FAIL \]' "$log" | tr '\n' ' ')")
  [ "$p" -gt 0 ] || problems+=("selftest ran no test")
}

check_boot_and_help() {
  expect '^kheap: booting' "boot banner"
  expect '^kheap> help$' "the boot script echo"
  expect '^  exit \[code\] +leave QEMU' "help lists exit"
  expect "^unknown command 'frobnicate'" "unknown command error"
  expect '^exit: bad number' "bad numeric argument"
}

check_crash_pf() {
  expect 'CPU exception 14: page fault' ; expect 'CR2 0xdffff000: write, page not present'
  expect 'address region: kernel break window'
}
check_crash_ud() { expect 'CPU exception 6: invalid opcode'; expect 'EIP 0x'; }
check_touch_null() { expect 'CR2 0x00000000: read'; expect 'null page'; }

# --- cases ------------------------------------------------------------------

run_case boot-help-exit   64M  60 5   "help; frobnicate; exit 12x; exit 5" check_boot_and_help
run_case selftest-128M    128M 300 0  "selftest; exit 0" check_selftest
run_case crash-page-fault 64M  60 126 "crash" check_crash_pf
run_case crash-ud         64M  60 126 "crash ud" check_crash_ud
run_case touch-null       64M  60 126 "touch 0" check_touch_null

for f in tools/kernel-cases/*.sh; do
  [ -e "$f" ] && source "$f"
done

echo "kernel cases: $passed passed, $failed failed${failures:+ (${failures[*]})}"
echo "kernel selftests: $self_passed passed, $self_failed failed"
[ -n "${KHEAP_RESULT:-}" ] && echo "$((passed + self_passed)) $((failed + self_failed))" >"$KHEAP_RESULT"
[ "$failed" = 0 ] && [ "$self_failed" = 0 ]
