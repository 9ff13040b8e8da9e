# Kernel cases for the slab debug mode (sourced by tools/kernel-tests.sh):
# booted with slub_debug on the kernel command line (before ` -- `).

# A one-byte overflow of a kmalloc object, written at the monitor: kfree
# reports the overwritten redzone (naming the object, its cache and size, the
# offending bytes and the allocation site as a symbol) and refuses; `leaks`
# lists the object, `validate` finds it again; with the byte put back it is
# freed; a write after kfree is a use-after-free write for `validate`; a second
# kfree is a double free; `debug -` switches it off (the quarantine is given
# back) and the selftests pass (those of selftest_debug.cpp switch it on for
# themselves; the others assume the normal layout).
check_debug_overflow() {
  expect '^kheap: [0-9]+ function symbols for reports$' 'symbols from the multiboot ELF section headers'
  expect '^kheap: slub_debug: FZPUQ$' 'the boot option parsed'
  expect '^slub_debug: FZPUQ$' 'debug shows the setting'
  expect '^poke: \[0x[0-9a-f]{8}\] = 0x00 \(was 0xbb\)$' 'the byte after the object was redzone'
  expect '^kheap: redzone overwritten$'
  expect '^  kfree\(0x[0-9a-f]+\): right redzone of a 64-byte object of kmalloc-64 written: 1 byte\(s\) past its end, from offset 64 to 64$'
  expect '^  bytes at 0x[0-9a-f]+ \(object offset \+64\): 00 bb bb' 'the offending bytes'
  expect '^  debug block 0x[0-9a-f]+: object [0-9]+ of cache kmalloc-[0-9]+' 'the block, its cache and index'
  expect '^  allocated at 0x[0-9a-f]+ <kheap::kernel::monitor_cmd_kmalloc\+0x[0-9a-f]+>$' 'the allocation site as a symbol'
  expect '^  0x[0-9a-f]+ +64 bytes  kmalloc-64 +seq [0-9]+ +allocated at 0x[0-9a-f]+ <kheap::kernel::monitor_cmd_kmalloc' 'leaks lists it'
  expect '^leaks: 1 live debug object, 64 bytes \(seq > 0\)$'
  expect '^  validate\(0x[0-9a-f]+\): right redzone of a 64-byte object of kmalloc-64' 'validate finds it'
  expect '^validate: 1 live and 0 quarantined debug objects: 1 problem; slab caches ok$'
  expect '^poke: \[0x[0-9a-f]{8}\] = 0x00 \(was 0x6b\)$' 'a freed object is poisoned'
  expect '^kheap: use-after-free write$'
  expect '^  freed at 0x[0-9a-f]+ <kheap::kernel::monitor_cmd_kfree\+0x[0-9a-f]+>$' 'the free site'
  expect '^validate: 0 live and 2 quarantined debug objects: 1 problem; slab caches ok$'
  expect '^kheap: double free$'
  expect '^  freed again at 0x[0-9a-f]+ <kheap::kernel::monitor_cmd_kfree' 'the second free site'
  expect '^kfree: freed 0x' 'freed once its redzone is back'
  expect '^leaks: 0 live debug objects, 0 bytes \(seq > 0\)$' 'nothing left'
  check_selftest
}

case_kargs="slub_debug" run_case debug-overflow 64M 300 0 \
  "debug; kmalloc 64; poke last+64 0; kfree last; leaks; validate; poke last+64 0xbb; kfree last; kmalloc 32; kfree last; poke last+5 0; validate; kfree last; poke last+5 0x6b; leaks; debug -; selftest; exit 0" \
  check_debug_overflow

# kheap_panic_on_bug: the first report stops the machine (failing status).
check_debug_panic() {
  expect '^kheap: heap-misuse reports panic \(kheap_panic_on_bug\)$'
  expect '^kheap: slub_debug: FZ,kmalloc-24$'
  expect '^kheap: redzone overwritten$'
  expect_not '^not reached$' 'the machine stopped at the report'
}

case_kargs="slub_debug=FZ,kmalloc-24 kheap_panic_on_bug" run_case debug-panic 64M 60 126 \
  "kmalloc 20; poke last-1 7; kfree last; echo not reached; exit 0" \
  check_debug_panic
