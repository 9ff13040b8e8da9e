# tools/test-parts/gdb.sh — the gdb extension against the real thing (a part of `make test`).
#
# 1. QEMU boots the ISO with a known sequence of allocations on the command line,
#    stopped for gdb; gdb (batch) breaks at monitor_loop, after the boot script,
#    and runs every kheap command. Its `kheap meminfo` / `kheap slabinfo` /
#    `kheap tcache` must equal what the kernel's own meminfo / slabinfo / tcache
#    printed for the same state (gdb's extra lines aside), and the magazine
#    contents and object states must be what the thread-cache design implies.
# 2. The README walkthrough (tools/gdb/walkthrough.gdb): an object through
#    kmalloc and kfree, watched in the thread cache's magazines.
# 3. The same against a host binary (build/host/gdb_target), stopped in
#    gdb_checkpoint() after known allocations, with a second thread and its own
#    thread cache.
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
# The sequence, and what the thread cache design (lib/slab/thread_cache.h) makes
# of it on i386: the first kmalloc(64) misses (the CPU has no thread cache yet),
# creates the cache and fills its kmalloc-64 alloc magazine (capacity 61:
# object 0..60 of a fresh cpu slab, pushed in that order); kmalloc pops the
# top: object 60 (`first`), then object 59 (`second`); kfree pushes `second`
# back onto the alloc magazine (it has room). So: 60 in alloc (top object 59,
# `second`, then 58), none in freed; the slab counts 61 in use, 60 of them in
# magazines. kmalloc(5000) fills kmalloc-5120's (capacity 8) and pops 1.
klog=build/logs/gdb-kernel.out
cat >build/logs/gdb-kernel.gdb <<'G'
break kheap::kernel::monitor_loop
continue
python
import re
serial = open("build/logs/debug-qemu.log", errors="replace").read()
objs = [int(a, 16) for a in re.findall(r"^(0x[0-9a-f]+) kmalloc\(64\)", serial, re.M)] + [0, 0]
first, second = objs[0], objs[1]
for c in ["kheap meminfo", "kheap slabinfo", "kheap buddy lists", "kheap brk", "kheap pagemap",
          "kheap cache kmalloc-64", "kheap tcache", "kheap block 0x%x" % (first + 8), "kheap block 0x%x" % (first + 128),
          "kheap block 0x%x" % (first - 128), "kheap block 0x%x" % second, "kheap heaps", "kheap block 0x1000"]:
    print("==== " + c)
    try:
        gdb.execute(c)
    except gdb.error as e:
        print("ERROR: %s" % e)
print("==== end")
end
G
cmds="kmalloc 64; kmalloc 64; kfree last; block last; kmalloc 5000; kmalloc 100000; tcache; meminfo; slabinfo"
timeout 120 tools/debug.sh --mem 128M --cmds "$cmds" --batch build/logs/gdb-kernel.gdb >"$klog" 2>&1
serial=build/logs/debug-qemu.log
tr -d '\r' <"$serial" >"$serial.txt"
kaddrs=($(sed -n 's/^\(0x[0-9a-f]*\) kmalloc(64).*/\1/p' "$serial.txt"))
first=${kaddrs[0]:-0x0} second=${kaddrs[1]:-0x0}
hex() { printf '0x%08x' $(($1)); }
section "$serial.txt" '^MemTotal:' 7 >build/logs/gdb-kernel-meminfo.expected
section "$klog" '^MemTotal:' 7 >build/logs/gdb-kernel-meminfo.actual
compare kernel-meminfo build/logs/gdb-kernel-meminfo.expected build/logs/gdb-kernel-meminfo.actual
# kheap slabinfo = the monitor's slabinfo, plus one line of its own (the magazines).
sed -n '/^slabinfo - version: 2.1/,/^kheap>/p' "$serial.txt" | grep -v '^kheap>' >build/logs/gdb-kernel-slabinfo.expected
sed -n '/^slabinfo - version: 2.1/,/^====/p' "$klog" | grep -v '^====' | grep -v '^# in thread-cache magazines' \
  >build/logs/gdb-kernel-slabinfo.actual
compare kernel-slabinfo build/logs/gdb-kernel-slabinfo.expected build/logs/gdb-kernel-slabinfo.actual
expect_in kernel-slabinfo-magazines "$klog" \
  '^# in thread-cache magazines \(free, but counted in <active_objs>; 1 thread cache\): kmalloc-64 60, kmalloc-5120 7$'
# kheap tcache = the monitor's tcache, plus lines of its own (indented by four).
sed -n '/^kheap> tcache/,/objects cached/p' "$serial.txt" | grep -v '^kheap>' >build/logs/gdb-kernel-tcache.expected
sed -n '/^==== kheap tcache/,/objects cached/p' "$klog" | grep -v '^====' | grep -v '^    ' >build/logs/gdb-kernel-tcache.actual
compare kernel-tcache build/logs/gdb-kernel-tcache.expected build/logs/gdb-kernel-tcache.actual
expect_in kernel-tcache-numbers build/logs/gdb-kernel-tcache.actual '^  kmalloc-64     alloc 60/61  freed  0/61$'
expect_in kernel-tcache-alloc-top "$klog" "^    alloc, top first \(the next kmalloc\): $second $(hex "$first - 128") $(hex "$first - 192") "
expect_in kernel-tcache-current "$klog" '^    the current thread.s \(kheap::slab::t_thread_cache\); magic ok; live thread caches: 0x[0-9a-f]{8}$'
expect_in kernel-buddy "$klog" '^order 10 \( 4096 KiB blocks\): +[0-9]+ free'
expect_in kernel-brk "$klog" '^window +0xc0000000-0xe0000000'
expect_in kernel-pagemap "$klog" '^legend: '
expect_in kernel-pagemap-slab "$klog" '^0x[0-9a-f]{8}  [A-Za-z]*S'
# (the slab's next object out: 61, the first one the refill left)
expect_in kernel-cache "$klog" "^  slab 0x[0-9a-f]{8} \\[private\\] objects at 0x[0-9a-f]{8}: 61/64 in use \\(60 of them in magazines\\); 3 free, next out first: $(hex "$first + 64") $(hex "$first + 128") "
expect_in kernel-cache-magazines "$klog" '^  of those in use, 60 are free in thread-cache magazines \(60 in alloc, 0 in freed magazines\): 1 allocated by callers$'
expect_in kernel-block-allocated "$klog" ': object 60 of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 8, allocated;'
expect_in kernel-block-free "$klog" ': object 62 of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 0, free; slab run'
expect_in kernel-block-alloc-magazine "$klog" "^$second: object 59 of cache kmalloc-64 .*, offset 0, free \(in the alloc magazine of thread cache 0x[0-9a-f]{8}, slot 59 of 60: the top, the next kmalloc of its size takes it\); slab run"
expect_in kernel-block-alloc-magazine-below "$klog" "^$(hex "$first - 128"): object 58 of cache kmalloc-64 .*, offset 0, free \(in the alloc magazine of thread cache 0x[0-9a-f]{8}, slot 58 of 60\); slab run"
expect_in kernel-block-monitor-agrees "$serial.txt" "^$second: object 59 of cache kmalloc-64 .*, offset 0, free \(in the CPU's thread cache\); slab run"
expect_in kernel-block-outside "$klog" '^0x00001000: not in the kernel heap'
expect_in kernel-heaps "$klog" '\(process heap\)$'
grep -q '^ERROR' "$klog" && { failed=$((failed + 1)); echo "[ FAIL ] gdb kernel: a kheap command failed:"; grep '^ERROR' "$klog"; }

# --- the README walkthrough: a kmalloc object leaves the alloc magazine and comes back through kfree ---
# (tools/gdb/walkthrough.gdb: `kheap tcache` before the first kmalloc(64), after it, after the
# second — whose result is $obj — and after kfree($obj).)
wlog=build/logs/gdb-walkthrough.out
timeout 120 tools/debug.sh --mem 64M --batch tools/gdb/walkthrough.gdb --cmds "kmalloc 64; kmalloc 64; kfree last" >"$wlog" 2>&1
counts=($(sed -n 's/^  kmalloc-64     alloc \([0-9]*\)\/61  freed  *\([0-9]*\)\/61$/\1:\2/p' "$wlog"))
tops=($(sed -n 's/^    alloc, top first (the next kmalloc): \(0x[0-9a-f]*\) .*/\1/p' "$wlog"))
freed_top=$(sed -n 's/^    freed, top first (the latest kfree): \(0x[0-9a-f]*\)$/\1/p' "$wlog")
returned=$(sed -n 's/^Value returned is \$2 = (void \*) \(0x[0-9a-f]*\)$/\1/p' "$wlog")
if grep -q '^thread cache: none yet' "$wlog" && [ "${counts[*]}" = "60:0 59:0 60:0" ] && [ ${#tops[@]} = 3 ] &&
   [ "${tops[0]}" = "$returned" ] && [ "${tops[1]}" != "$returned" ] && [ "${tops[2]}" = "$returned" ] &&
   [ -z "$freed_top" ]; then
  passed=$((passed + 1)); echo "[  OK  ] gdb walkthrough (object $returned left the alloc magazine's top and came back onto it)"
else
  failed=$((failed + 1))
  echo "[ FAIL ] gdb walkthrough: counts '${counts[*]}', alloc tops '${tops[*]}', freed top '$freed_top', returned '$returned'"
  tail -n 30 "$wlog" | sed 's/^/    | /'
fi
expect_in walkthrough-block-allocated "$wlog" "^$returned: object 59 of cache kmalloc-64 .*, allocated; slab run"
expect_in walkthrough-block-free "$wlog" "^$returned: object 59 of cache kmalloc-64 .*, free \(in the alloc magazine of thread cache 0x[0-9a-f]{8}, slot 59 of 60: the top, the next kmalloc of its size takes it\); slab run"
expect_in walkthrough-slab-counts "$wlog" '^  of those in use, 60 are free in thread-cache magazines \(60 in alloc, 0 in freed magazines\): 1 allocated by callers$'
marks=($(sed -n 's/^first word of \$obj: \([0-9a-fx]*\) (the free mark: \(0x[0-9a-f]*\))$/\1 \2/p' "$wlog"))
if [ ${#marks[@]} = 4 ] && [ "${marks[0]}" = 0 ] && [ "${marks[2]}" = "${marks[3]}" ] && [ "${marks[1]}" = "${marks[3]}" ]; then
  passed=$((passed + 1)); echo "[  OK  ] gdb walkthrough-free-mark (0 while allocated, ${marks[3]} after kfree)"
else
  failed=$((failed + 1)); echo "[ FAIL ] gdb walkthrough-free-mark: '${marks[*]}'"
fi
expect_in walkthrough-pretty "$wlog" '^\$3 = SlabPage\{cache kmalloc-64, private, 64 in use, '

# --- host -------------------------------------------------------------------
# gdb_target: main's kmalloc(64) x2 as in the kernel (magazines of 61, filled
# full: 59 left); a worker thread's kmalloc(128) x62 (its alloc magazine
# emptied once and refilled: 60 left), kfree of the first (back on the alloc
# magazine: full) and of the second (object 59, onto the freed one): 61 in
# its alloc magazine, 1 in its freed one. The worker's
# cache is read in thread 2 (gdb reads the thread_local t_thread_cache through
# libthread_db), then by address with t_thread_cache made unreadable (the
# fallback: the caches on g_thread_caches), and the list of live caches again
# by scanning kmem_thread's objects (the fallback when that symbol is missing).
hlog=build/logs/gdb-host.out
cat >build/logs/gdb-host.gdb <<'G'
break gdb_checkpoint
run >build/logs/gdb-host-program.out 2>&1
python
import re
out = open("build/logs/gdb-host-program.out", errors="replace").read()
first = int(re.search(r"^(0x[0-9a-f]+) kmalloc\(64\)", out, re.M).group(1), 16)
freed = int(re.search(r"^(0x[0-9a-f]+) things\[1\]", out, re.M).group(1), 16)
wfreed = int(re.search(r"^(0x[0-9a-f]+) kmalloc\(128\) \(worker", out, re.M).group(1), 16)
def run(c):
    print("==== " + c)
    try:
        gdb.execute(c)
    except gdb.error as e:
        print("ERROR: %s" % e)
for c in ["kheap meminfo", "kheap slabinfo", "kheap buddy", "kheap brk", "kheap pagemap", "kheap cache things",
          "kheap block 0x%x" % first, "kheap block 0x%x" % freed, "kheap block 0x%x" % wfreed, "kheap heaps",
          "kheap cache kmalloc-128", "kheap tcache", "thread 2", "kheap tcache", "thread 1"]:
    run(c)
live = [u(t) for t in thread_caches()]
print("==== live (g_thread_caches): " + " ".join("0x%x" % a for a in live))
print("==== live (g_thread_caches, sorted): " + " ".join("0x%x" % a for a in sorted(live)))
real_current = current_thread_cache
current_thread_cache = lambda: (None, "simulated: no libthread_db")
print("==== fallback")
run("kheap tcache")
for a in live:
    run("kheap tcache 0x%x" % a)
current_thread_cache = real_current
THREAD_CACHES_SYMBOL = "kheap::slab::no_such_symbol"
print("==== live (kmem_thread scan, sorted): " + " ".join("0x%x" % a for a in sorted(u(t) for t in thread_caches())))
# A use-after-free write into the worker's freed object (its free mark goes): kheap block says so.
gdb.execute("set var *(uintptr_t*)0x%x = 0x41414141" % wfreed)
run("kheap block 0x%x" % wfreed)
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
sed -n '/^slabinfo - version: 2.1/,/^====/p' "$hlog" | grep -v '^====' | grep -v '^# in thread-cache magazines' \
  >build/logs/gdb-host-slabinfo.actual
compare host-slabinfo build/logs/gdb-host-slabinfo.expected build/logs/gdb-host-slabinfo.actual
expect_in host-slabinfo-magazines "$hlog" \
  '^# in thread-cache magazines \(free, but counted in <active_objs>; 2 thread caches\): kmalloc-64 59, kmalloc-128 62$'
expect_in host-cache "$hlog" '^cache things at 0x[0-9a-f]+: slot size 20[08]'
# things: objects 0..4 allocated, 1 freed (into cache->cur_freed): next out are 5, 6, ... (cur_bits)
# and object 1 only once the current group's cur_bits run out.
t1=$(sed -n 's/^\(0x[0-9a-f]*\) things\[1\].*/\1/p' "$prog")
t_size=$(sed -n 's/^cache things at 0x[0-9a-f]*: slot size \([0-9]*\) .*/\1/p' "$hlog")
t_next=$(printf '0x%x' $((t1 + 4 * ${t_size:-0})))
expect_in host-cache-slab "$hlog" "^  slab 0x[0-9a-f]+ \\[cpu\\] objects at 0x[0-9a-f]+: 4/78 in use; 74 free, next out first: $t_next "
expect_in host-cache-kmalloc "$hlog" '^  slab 0x[0-9a-f]+ \[private\] objects at 0x[0-9a-f]+: 58/64 in use \(57 of them in magazines\); '
expect_in host-cache-kmalloc-magazines "$hlog" '^  of those in use, 62 are free in thread-cache magazines \(61 in alloc, 1 in freed magazines\): 60 allocated by callers$'
expect_in host-block-allocated "$hlog" ': object 60 of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]+, offset 0, allocated'
expect_in host-block-freed "$hlog" ': object 1 of cache things \(object size 20[08]\) at 0x[0-9a-f]+, offset 0, free; slab run'
# The two thread caches, each read in its own thread.
tcs=($(sed -n 's/^thread cache \(0x[0-9a-f]*\): magazines with objects.*/\1/p' "$hlog"))
live=$(sed -n 's/^==== live (g_thread_caches): //p' "$hlog")
wtc=${tcs[1]:-none}
if [ ${#tcs[@]} = 4 ] && [ "${tcs[0]}" != "${tcs[1]}" ] && [ "$live" = "${tcs[0]} ${tcs[1]}" ] &&
   [ "${tcs[2]}" = "${tcs[0]}" ] && [ "${tcs[3]}" = "${tcs[1]}" ]; then
  passed=$((passed + 1)); echo "[  OK  ] gdb host-tcache-threads (main's ${tcs[0]}, the worker's ${tcs[1]}; by address too)"
else
  failed=$((failed + 1)); echo "[ FAIL ] gdb host-tcache-threads: caches shown '${tcs[*]}', live '$live'"
fi
sed -n '/^==== kheap tcache/,/objects cached/p' "$hlog" >build/logs/gdb-host-tcache.out
expect_in host-tcache-main build/logs/gdb-host-tcache.out '^  kmalloc-64     alloc 59/61  freed  0/61$'
expect_in host-tcache-worker build/logs/gdb-host-tcache.out '^  kmalloc-128    alloc 61/61  freed  1/61$'
expect_in host-tcache-worker-freed "$hlog" "^    freed, top first \\(the latest kfree\\): $(sed -n 's/^\(0x[0-9a-f]*\) kmalloc(128) (worker.*/\1/p' "$prog")\$"
expect_in host-block-worker-magazine "$hlog" ": object 59 of cache kmalloc-128 .*, offset 0, free \\(in the freed magazine of thread cache $wtc, slot 0 of 1: the top, the latest kfree\\); slab run"
expect_in host-tcache-fallback "$hlog" "^ERROR: kheap: cannot read t_thread_cache \\(simulated: no libthread_db\\); live thread caches: $live: use kheap tcache ADDR\$"
sorted_live=$(sed -n 's/^==== live (g_thread_caches, sorted): //p' "$hlog")
expect_in host-tcache-kmem-thread-scan "$hlog" "^==== live \\(kmem_thread scan, sorted\\): ${sorted_live:-none}\$"
expect_in host-block-uaf-write "$hlog" ": object 59 of cache kmalloc-128 .*, free \\(in the freed magazine of thread cache $wtc, slot 0 of 1: the top, the latest kfree; but its free mark is gone: written after it was freed"
expect_in host-heaps "$hlog" '^2 heaps$'
expect_in host-pagemap "$hlog" '^legend: '
grep '^ERROR' "$hlog" | grep -v 'simulated: no libthread_db' | grep -q . &&
  { failed=$((failed + 1)); echo "[ FAIL ] gdb host: a kheap command failed:"; grep '^ERROR' "$hlog"; }

echo "gdb: $passed passed, $failed failed"
[ -n "${KHEAP_RESULT:-}" ] && echo "$passed $failed" >"$KHEAP_RESULT"
[ "$failed" = 0 ]
