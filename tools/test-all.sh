#!/usr/bin/env bash
# tools/test-all.sh TEST_BIN... -- LIB_OBJ... — what `make test` runs once
# everything is built: the host tests, the lib/ symbol check, and the kernel in
# QEMU. Prints one summary line per part and, last, the total as
# "N passed, M failed". Exit status nonzero if any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bins=() objs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do bins+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
objs=("$@")

mkdir -p build/test-results build/logs
rm -f build/test-results/*
start=$SECONDS
declare -A took
part() {  # part NAME COMMAND...
  local name=$1; shift
  local t0=$SECONDS
  echo
  echo "######## $name"
  KHEAP_RESULT=build/test-results/$name "$@"
  took[$name]=$((SECONDS - t0))
}

part host-tests   tools/run-host-tests.sh "${bins[@]}"
part lib-symbols  tools/check-lib-symbols.sh "${objs[@]}"
part kernel       tools/kernel-tests.sh
for extra in tools/test-parts/*.sh; do
  [ -e "$extra" ] || continue
  n=$(basename "$extra" .sh)
  part "$n" bash "$extra"
done

echo
echo "######## summary"
total_p=0 total_f=0 bad=0
for r in host-tests lib-symbols kernel $(ls tools/test-parts 2>/dev/null | sed -n 's/\.sh$//p'); do
  if [ -f "build/test-results/$r" ]; then read -r p f <"build/test-results/$r"; else p=0 f=1; fi
  [ "$f" = 0 ] || bad=1
  total_p=$((total_p + p)) total_f=$((total_f + f))
  printf '%-14s %4d passed, %d failed  (%ss)\n' "$r:" "$p" "$f" "${took[$r]:-?}"
done
echo "total time: $((SECONDS - start))s"
echo "$total_p passed, $total_f failed"
exit $bad
