// kernel/commands_vm.cpp — monitor commands for the kernel break and the page heap:
//   brk [ADDR]   the current break, or move it to ADDR
//   sbrk N       move the break by N bytes (N may be negative)
//   vminfo       the window, the break, mapped pages, page-heap runs and free ranges
// The page heap owns the break below its top (g_page_heap.top()): these
// commands refuse to move the break below it, so they can never unmap memory
// the slab layer or a heap is using. Memory sbrk'd above the top is the
// user's; give it back with `sbrk -N` (or `brk`) before expecting the page
// heap to grow again.
#include "core/format.h"
#include "kernel_memory.h"
#include "monitor.h"
#include "paging.h"

namespace kheap::kernel {

namespace {

uint32_t u32(uintptr_t v) { return static_cast<uint32_t>(v); }

size_t pages_mapped_total() {
  vm::PageHeapStats s = g_page_heap.stats();
  return s.pages_in_use + s.metadata_pages + ((g_break.mapped_end() - g_page_heap.top()) >> kPageShift);
}

void print_break_state(const char* cmd) {
  print("%s: break 0x%08x, %zu pages mapped in the window, %zu frames free\n", cmd, u32(g_break.current()),
        pages_mapped_total(), g_pmm.free_frame_count());
}

bool below_page_heap(const char* cmd, VirtAddr target) {
  if (target >= g_page_heap.top()) return false;
  print("%s: refusing to move the break to 0x%08x: the page heap's runs reach 0x%08x\n", cmd, u32(target),
        u32(g_page_heap.top()));
  return true;
}

}  // namespace

MONITOR_COMMAND(brk, "[ADDR]", "print the kernel break, or move it to ADDR (brk(2) semantics)") {
  if (argc < 2) {
    print("brk: 0x%08x\n", u32(g_break.brk(0)));
    return 0;
  }
  int64_t a;
  if (!parse_arg("brk", argv[1], &a)) return 1;
  if (a < 0 || a > 0xFFFFFFFFll) {
    print("brk: address out of range\n");
    return 1;
  }
  VirtAddr target = static_cast<VirtAddr>(a);
  if (target != 0 && target >= g_break.base() && below_page_heap("brk", target)) return 1;
  VirtAddr result = g_break.brk(target);
  print("brk: 0x%08x\n", u32(result));
  if (target != 0 && result != target) {
    print("brk: cannot move the break to 0x%08x (window [0x%08x, 0x%08x), %zu frames free); it stays\n", u32(target),
          u32(g_break.base()), u32(g_break.limit()), g_pmm.free_frame_count());
    return 1;
  }
  return 0;
}

MONITOR_COMMAND(sbrk, "N", "move the kernel break by N bytes (may be negative); shows old/new break and frames") {
  if (argc < 2) {
    print("usage: sbrk N\n");
    return 1;
  }
  int64_t n;
  if (!parse_arg("sbrk", argv[1], &n)) return 1;
  if (n < INT32_MIN || n > INT32_MAX) {
    print("sbrk: %lld does not fit an intptr_t\n", static_cast<long long>(n));
    return 1;
  }
  VirtAddr old = g_break.current();
  if (n < 0 && static_cast<uint64_t>(-n) <= old - g_break.base() && below_page_heap("sbrk", old + static_cast<intptr_t>(n)))
    return 1;
  void* r = g_break.sbrk(static_cast<intptr_t>(n));
  if (r == reinterpret_cast<void*>(-1)) {
    print("sbrk: failed (%s); break stays at 0x%08x\n",
          n > 0 ? "past the window or out of frames" : "below the window's base", u32(old));
    print_break_state("sbrk");
    return 1;
  }
  print("sbrk: old break 0x%08x, new break 0x%08x\n", u32(reinterpret_cast<uintptr_t>(r)), u32(g_break.current()));
  print_break_state("sbrk");
  return 0;
}

MONITOR_COMMAND(vminfo, "", "the break window, the break, mapped pages, page-heap runs and free ranges by size") {
  vm::PageHeapStats s = g_page_heap.stats();
  VirtAddr wb = g_break.window_base(), lim = g_break.limit();
  print("window      0x%08x-0x%08x (%u MiB, %zu pages)\n", u32(wb), u32(lim), u32((lim - wb) >> 20),
        g_page_heap.window_pages());
  print("metadata    0x%08x-0x%08x: %zu pages reserved, %zu mapped (PageInfo array, mapped as the heap grows)\n",
        u32(wb), u32(g_page_heap.data_start()), g_page_heap.metadata_pages_reserved(), s.metadata_pages);
  print("page heap   0x%08x-0x%08x (%zu pages)\n", u32(g_page_heap.data_start()), u32(g_page_heap.top()),
        (g_page_heap.top() - g_page_heap.data_start()) >> kPageShift);
  print("break       0x%08x (mapped end 0x%08x; %zu pages above the page heap)\n", u32(g_break.current()),
        u32(g_break.mapped_end()), (g_break.mapped_end() - g_page_heap.top()) >> kPageShift);
  print("mapped      %zu pages: %zu in runs, %zu metadata, %zu above the page heap; %u page tables\n",
        pages_mapped_total(), s.pages_in_use, s.metadata_pages, (g_break.mapped_end() - g_page_heap.top()) >> kPageShift,
        page_table_frames());
  print("runs        %zu in use, %zu pages\n", s.runs_in_use, s.pages_in_use);
  print("free ranges %zu, %zu pages (unmapped), largest %zu pages\n", s.free_ranges, s.free_pages,
        s.largest_free_range);

  // By size: buckets of 1, 2-3, 4-7, ... pages.
  constexpr unsigned kBuckets = 20;
  size_t count[kBuckets] = {}, pages[kBuckets] = {};
  g_page_heap.for_each_free_range([&](void*, size_t n) {
    unsigned b = 0;
    while (b + 1 < kBuckets && (size_t{2} << b) <= n) ++b;
    ++count[b];
    pages[b] += n;
  });
  for (unsigned b = 0; b < kBuckets; ++b) {
    if (!count[b]) continue;
    size_t lo = size_t{1} << b, hi = (size_t{2} << b) - 1;
    if (lo == hi) print("  %6zu page%s       %5zu ranges, %zu pages\n", lo, lo == 1 ? " " : "s", count[b], pages[b]);
    else print("  %6zu-%-6zu pages %5zu ranges, %zu pages\n", lo, hi, count[b], pages[b]);
  }
  size_t shown = 0;
  g_page_heap.for_each_free_range([&](void* start, size_t n) {
    if (shown++ < 8) print("  free 0x%08x +%zu pages\n", u32(reinterpret_cast<uintptr_t>(start)), n);
  });
  if (shown > 8) print("  ... %zu more\n", shown - 8);
  print("frames      %zu free\n", g_pmm.free_frame_count());
  return 0;
}

}  // namespace kheap::kernel
