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
import re
# The first `kmalloc 64` printed its address first on its line; the object two
# slots on is still free.
serial = open("build/logs/debug-qemu.log", errors="replace").read()
m = re.search(r"^(0x[0-9a-f]+) kmalloc\(64\)", serial, re.M)
first = int(m.group(1), 16) if m else 0
for c in ["kheap meminfo", "kheap slabinfo", "kheap buddy lists", "kheap brk", "kheap pagemap",
          "kheap cache kmalloc-64", "kheap block 0x%x" % (first + 8), "kheap block 0x%x" % (first + 128),
          "kheap heaps", "kheap block 0x1000"]:
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
expect_in kernel-pagemap-slab "$klog" '^0x[0-9a-f]{8}  [A-Za-z]*S'
expect_in kernel-cache "$klog" '^  slab 0x[0-9a-f]{8} \[cpu\] objects at 0x[0-9a-f]{8}: 2/64 in use; cache freelist: 0x'
expect_in kernel-block-allocated "$klog" ': object 0 of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 8, allocated'
expect_in kernel-block-free "$klog" ': object 2 of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 0, free'
expect_in kernel-block-outside "$klog" '^0x00001000: not in the kernel heap'
expect_in kernel-heaps "$klog" '\(process heap\)$'
grep -q '^ERROR' "$klog" && { failed=$((failed + 1)); echo "[ FAIL ] gdb kernel: a kheap command failed:"; grep '^ERROR' "$klog"; }

# --- the README walkthrough: an object leaves the free list and comes back ----------
wlog=build/logs/gdb-walkthrough.out
timeout 120 tools/debug.sh --mem 64M --batch tools/gdb/walkthrough.gdb \
  --cmds "cache_create things 200; cache_alloc things; cache_alloc things; cache_free things last" >"$wlog" 2>&1
heads=($(sed -n 's/.*cache freelist: \(0x[0-9a-f]*\).*/\1/p' "$wlog"))
returned=$(sed -n 's/^Value returned is \$2 = (void \*) \(0x[0-9a-f]*\)$/\1/p' "$wlog")
if [ ${#heads[@]} = 3 ] && [ "$returned" = "${heads[0]}" ] && [ "${heads[1]}" != "$returned" ] && [ "${heads[2]}" = "$returned" ]; then
  passed=$((passed + 1)); echo "[  OK  ] gdb walkthrough (object $returned left the free list and came back)"
else
  failed=$((failed + 1)); echo "[ FAIL ] gdb walkthrough: free-list heads ${heads[*]}, returned '$returned'"; tail -n 30 "$wlog" | sed 's/^/    | /'
fi
expect_in walkthrough-block-free "$wlog" ': object 1 of cache things .*, free; slab run'
expect_in walkthrough-pretty "$wlog" '^\$3 = SlabPage\{cache things, cpu, '

# --- host -------------------------------------------------------------------
hlog=build/logs/gdb-host.out
cat >build/logs/gdb-host.gdb <<'G'
break gdb_checkpoint
run >build/logs/gdb-host-program.out 2>&1
python
import re
out = open("build/logs/gdb-host-program.out", errors="replace").read()
first = int(re.search(r"^(0x[0-9a-f]+) kmalloc\(64\)", out, re.M).group(1), 16)
freed = int(re.search(r"^(0x[0-9a-f]+) things\[1\]", out, re.M).group(1), 16)
for c in ["kheap meminfo", "kheap slabinfo", "kheap buddy", "kheap brk", "kheap pagemap", "kheap cache things",
          "kheap block 0x%x" % first, "kheap block 0x%x" % freed, "kheap heaps"]:
    print("==== " + c)
    try:
        gdb.execute(c)
    except gdb.error as e:
        print("ERROR: %s" % e)
print("==== end")
end
kill
G
timeout 120 gdb -q -batch -x tools/gdb/kheap.py -x build/logs/gdb-host.gdb build/host/gdb_target >"$hlog" 2>&1
prog=build/logs/gdb-host-program.out
section "$prog" '^MemTotal:' 7 >build/logs/gdb-host-meminfo.expected
section "$hlog" '^MemTotal:' 7 >build/logs/gdb-host-meminfo.actual
compare host-meminfo build/logs/gdb-host-meminfo.expected build/logs/gdb-host-meminfo.actual
sed -n '/^slabinfo - version: 2.1/,$p' "$prog" >build/logs/gdb-host-slabinfo.expected
sed -n '/^slabinfo - version: 2.1/,/^====/p' "$hlog" | grep -v '^====' >build/logs/gdb-host-slabinfo.actual
compare host-slabinfo build/logs/gdb-host-slabinfo.expected build/logs/gdb-host-slabinfo.actual
expect_in host-cache "$hlog" '^cache things at 0x[0-9a-f]+: slot size 20[08]'
expect_in host-cache-slab "$hlog" '^  slab 0x[0-9a-f]+ \[cpu\] objects at 0x[0-9a-f]+: 4/[0-9]+ in use'
expect_in host-block-allocated "$hlog" ': object 0 of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]+, offset 0, allocated'
expect_in host-block-freed "$hlog" ': object 1 of cache things \(object size 20[08]\) at 0x[0-9a-f]+, offset 0, free'
expect_in host-heaps "$hlog" '^2 heaps$'
expect_in host-pagemap "$hlog" '^legend: '
grep -q '^ERROR' "$hlog" && { failed=$((failed + 1)); echo "[ FAIL ] gdb host: a kheap command failed:"; grep '^ERROR' "$hlog"; }

echo "gdb: $passed passed, $failed failed"
[ -n "${KHEAP_RESULT:-}" ] && echo "$passed $failed" >"$KHEAP_RESULT"
[ "$failed" = 0 ]
