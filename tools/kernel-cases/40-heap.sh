# Kernel cases for the Win32-style heaps (sourced by tools/kernel-tests.sh).

check_heaptest1() {
  expect '^heaptest1: 1000 bytes at 0x[0-9a-f]+ from the process heap'
  # 1000 bytes of 0FFh shown in hex: 31 full lines of 32 bytes and one of 8.
  local full
  full=$(grep -cE '^[0-9a-f]{4}: (FF){32}$' "$log")
  [ "$full" = 31 ] || problems+=("expected 31 full hex lines of FF, saw $full")
  expect '^03e0: (FF){8}$' "the last 8 bytes"
  expect '^heaptest1: HeapSize was 1000; freed'
}

# heaptest2 must stop at the heap's maximum (512M) or when frames run out (64M),
# cleanly, and give every frame back: MemFree after == MemFree before.
check_heaptest2_common() {
  expect '^Memory allocation failed$'
  local before after
  before=$(field MemFree 1) after=$(field MemFree 2)
  [ -n "$after" ] && [ "$before" = "$after" ] || problems+=("MemFree before heaptest2 $before kB, after $after kB")
  local fb fa
  read -r fb fa < <(sed -n 's/^heaptest2: HeapDestroy ok; free frames \([0-9]*\) before, \([0-9]*\) after/\1 \2/p' "$log")
  [ -n "$fa" ] && [ "$fb" = "$fa" ] || problems+=("HeapDestroy gave back frames $fb -> $fa")
  local dots
  dots=$(grep -E '^\.+$' "$log" | tr -d '\n' | wc -c)
  blocks=$(sed -n 's/^heaptest2: \([0-9]*\) blocks allocated, \([0-9]*\) bytes$/\1/p' "$log")
  bytes=$(sed -n 's/^heaptest2: \([0-9]*\) blocks allocated, \([0-9]*\) bytes$/\2/p' "$log")
  [ -n "$blocks" ] || { problems+=("no closing 'heaptest2: N blocks allocated, B bytes' line"); return; }
  [ "$dots" = "$blocks" ] || problems+=("$dots progress dots for $blocks blocks")
  [ "$bytes" = $((blocks * 500000)) ] || problems+=("$bytes bytes for $blocks blocks of 500000")
  echo "    heaptest2: $blocks blocks, $bytes bytes"
}
check_heaptest2_512() {
  check_heaptest2_common
  # 400000000 bytes = 97657 pages (rounded up); a 500000-byte block takes 123 pages: 97657 / 123 = 793.
  [ "${blocks:-0}" = 793 ] || problems+=("expected exactly 793 blocks at the 400 MB maximum, got ${blocks:-none}")
  expect "^heaptest2: the heap's maximum is reached"
  expect '^heaps? ' ; expect '\(process heap\)'
}
check_heaptest2_64() {
  check_heaptest1
  check_heaptest2_common
  [ "${blocks:-0}" -gt 50 ] && [ "${blocks:-999}" -lt 130 ] || problems+=("at 64M expected 50..130 blocks, got ${blocks:-none}")
  expect "^heaptest2: .*(out of (frames|memory)|frames)" "the reason: memory ran out"
}

run_case heaptest1-128M 128M 60 0 "heaptest1; exit 0" check_heaptest1
run_case heaptest2-512M 512M 180 0 "heaps; meminfo; heaptest2; meminfo; exit 0" check_heaptest2_512
run_case heaptest2-64M  64M  120 0 "meminfo; heaptest2; meminfo; heaptest1; exit 0" check_heaptest2_64
