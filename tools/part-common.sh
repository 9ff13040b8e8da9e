# tools/part-common.sh — sourced by tools/test-parts/*.sh: the frame every test
# part shares (tools/test-all.sh runs each part with KHEAP_RESULT set).
#
#   part_begin NAME                 cd to the top of the tree, zero the counters
#   part_finish                     print "NAME: N passed, M failed", write "N M" to
#                                   $KHEAP_RESULT, exit nonzero if anything failed
#   part_build WHAT TARGET LOG      make TARGET (without the outer make's flags, on
#                                   every core), logging to LOG; on failure count one
#                                   failure, show the end of LOG and finish the part
part_begin() {
  part_name=$1
  cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
  passed=0 failed=0
  mkdir -p build/logs
}

part_finish() {
  echo "$part_name: $passed passed, $failed failed"
  [ -n "${KHEAP_RESULT:-}" ] && echo "$passed $failed" >"$KHEAP_RESULT"
  [ "$failed" = 0 ]
  exit
}

part_build() {
  local what=$1 target=$2 log=$3 t0=$SECONDS
  echo "building $what (log: $log)"
  if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j"$(nproc)" --no-print-directory "$target" >"$log" 2>&1; then
    echo "[ FAIL ] $part_name: the build failed; the end of $log:"
    tail -n 40 "$log"
    failed=$((failed + 1))
    part_finish
  fi
  echo "built in $((SECONDS - t0))s"
}
