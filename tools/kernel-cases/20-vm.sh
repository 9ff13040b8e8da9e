# Kernel cases for the kernel break and page heap (sourced by tools/kernel-tests.sh).

# sbrk +N then sbrk -N: the break moves by N and back, and MemFree is exactly what it was.
check_sbrk_roundtrip() {
  local f1 f2 f3 old1 new1 old2 new2
  f1=$(field MemFree 1) f2=$(field MemFree 2) f3=$(field MemFree 3)
  read -r old1 new1 < <(sed -n 's/^sbrk: old break \(0x[0-9a-f]*\), new break \(0x[0-9a-f]*\).*/\1 \2/p' "$log" | sed -n 1p)
  read -r old2 new2 < <(sed -n 's/^sbrk: old break \(0x[0-9a-f]*\), new break \(0x[0-9a-f]*\).*/\1 \2/p' "$log" | sed -n 2p)
  if [ -z "$new2" ]; then problems+=("two 'sbrk: old break ..., new break ...' lines expected"); return; fi
  [ $((new1 - old1)) = 1048576 ] || problems+=("sbrk +1M moved the break from $old1 to $new1")
  [ "$old2" = "$new1" ] && [ "$new2" = "$old1" ] || problems+=("sbrk -1M did not return the break to $old1 ($old2 -> $new2)")
  [ -n "$f3" ] || { problems+=("three meminfo outputs expected"); return; }
  [ $((f1 - f2)) -ge 1024 ] || problems+=("MemFree dropped only from $f1 to $f2 kB after sbrk +1M")
  [ "$f3" = "$f1" ] || problems+=("MemFree after sbrk -1M is $f3 kB, was $f1 kB before")
  expect '^brk: 0x[0-9a-f]{8}$' "brk prints the break"
  expect '^window +0xc0000000' "vminfo shows the window"
  expect '^sbrk: failed' "an impossible sbrk fails cleanly"
}

check_touch_past_break() {
  expect 'CPU exception 14: page fault'
  expect 'address region: kernel break window: (past the break|inside the break but unmapped)'
}

run_case sbrk-roundtrip 64M 60 0 \
  "meminfo; sbrk +1M; meminfo; sbrk -1M; meminfo; brk; vminfo; sbrk 0x7fffffff; exit 0" check_sbrk_roundtrip
run_case touch-past-break 64M 60 126 "touch 0xd0000000" check_touch_past_break
