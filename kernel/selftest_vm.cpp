// kernel/selftest_vm.cpp — in-kernel tests of lib/vm over the real x86 page
// tables and the buddy allocator.
//
// The break tests use g_break above the page heap's top (the page heap does
// not grow while they run) and put the break back where it was. The page-heap
// tests use a private KernelBreak + PageHeap over a spare 256 MiB of address
// space just past the break window [0xE0000000, 0xF0000000), so they can
// check exact addresses (first fit, coalescing, trimming) whatever the live
// heap looks like, and run the frames out without touching the live heap.
// They shut their heap down at the end (metadata frames back); the page
// tables of that area stay, as all break-window tables do.
//
// Frame accounting: paging.cpp keeps a page table once it has allocated it,
// so "free frames are back exactly" is checked as
//   free_after + (page tables allocated meanwhile) == free_before.
#include "core/report.h"
#include "kernel_memory.h"
#include "ktest.h"
#include "paging.h"

namespace kheap::kernel {

namespace {

constexpr VirtAddr kTestWindowBase = kBreakWindowLimit;            // 0xE0000000
constexpr VirtAddr kTestWindowLimit = kBreakWindowLimit + (256u << 20);
void* const kSbrkFail = reinterpret_cast<void*>(-1);

size_t frames_plus_new_tables(uint32_t tables_before) {
  return g_pmm.free_frame_count() + (page_table_frames() - tables_before);
}

}  // namespace

KTEST(vm_break_grows_until_frames_run_out_and_shrinks_back) {
  KREQUIRE(g_break.current() == g_page_heap.top());
  VirtAddr start = g_break.current();
  size_t free0 = g_pmm.free_frame_count();
  uint32_t tables0 = page_table_frames();
  for (int round = 0; round < 2; ++round) {
    size_t free_before = g_pmm.free_frame_count();
    uint32_t tables_before = page_table_frames();
    // Big steps first (each failing one rolls back part-way), then single pages.
    size_t failed_big_checks = 0;
    for (;;) {
      size_t f = g_pmm.free_frame_count();
      uint32_t t = page_table_frames();
      if (g_break.sbrk(1 << 20) != kSbrkFail) continue;
      if (frames_plus_new_tables(t) != f) ++failed_big_checks;  // a failed grow returned everything
      break;
    }
    size_t pages = 0;
    while (g_break.sbrk(kPageSize) != kSbrkFail) ++pages;
    // Out of frames (one may be left if the last step needed a new page table).
    size_t left = g_pmm.free_frame_count();
    VirtAddr top = g_break.current();
    // No printing until the frames are back: nothing else may need memory now.
    volatile uint32_t* first = reinterpret_cast<volatile uint32_t*>(start);
    volatile uint32_t* last = reinterpret_cast<volatile uint32_t*>(top - kPageSize);
    *first = 0x1234u;
    *last = 0x5678u;
    bool contents_ok = *first == 0x1234u && *last == 0x5678u;
    VirtAddr back = g_break.brk(start);
    KCHECK_EQ(failed_big_checks, 0u);
    KCHECK(left <= 1 || top + kPageSize > g_break.limit());
    KCHECK(top > start);
    KCHECK(contents_ok);
    KCHECK_EQ(back, start);
    KCHECK(!is_mapped(start));
    KCHECK_EQ(frames_plus_new_tables(tables_before), free_before);
    (void)pages;
  }
  KCHECK_EQ(frames_plus_new_tables(tables0), free0);
  KCHECK(g_page_heap.check());
}

KTEST(vm_break_sbrk_pairs_return_every_frame) {
  VirtAddr start = g_break.current();
  KREQUIRE(g_break.sbrk(3 * kPageSize) != kSbrkFail);  // page tables for this area now exist
  KREQUIRE(g_break.sbrk(-3 * static_cast<intptr_t>(kPageSize)) != kSbrkFail);
  size_t free0 = g_pmm.free_frame_count();
  const intptr_t sizes[] = {1, 4096, 4097, 3 * 4096};
  for (intptr_t n : sizes) {
    void* old = g_break.sbrk(n);
    KCHECK_EQ(reinterpret_cast<uintptr_t>(old), start);
    KCHECK_EQ(g_break.current(), start + n);
    KCHECK_EQ(g_pmm.free_frame_count() + (n + kPageSize - 1) / kPageSize, free0);
    KCHECK(is_mapped(start + ((n - 1) & ~static_cast<intptr_t>(kPageSize - 1))));
    KCHECK_EQ(reinterpret_cast<uintptr_t>(g_break.sbrk(-n)), start + n);
    KCHECK_EQ(g_pmm.free_frame_count(), free0);
  }
  KCHECK_EQ(g_break.current(), start);
}

KTEST(vm_break_bounds_and_overflow) {
  VirtAddr cur = g_break.current();
  size_t free0 = g_pmm.free_frame_count();
  KCHECK_EQ(g_break.brk(0), cur);
  KCHECK_EQ(g_break.brk(g_break.base() - 1), cur);
  KCHECK_EQ(g_break.brk(kBreakWindowBase), cur);  // the metadata prefix is not the break's
  KCHECK_EQ(g_break.brk(g_break.limit() + 1), cur);
  KCHECK_EQ(g_break.brk(0xFFFFFFFFu), cur);
  KCHECK(g_break.sbrk(INT32_MIN) == kSbrkFail);
  KCHECK(g_break.sbrk(INT32_MAX) == kSbrkFail);  // wraps past 4 GiB
  KCHECK(g_break.sbrk(-static_cast<intptr_t>(cur - g_break.base()) - 1) == kSbrkFail);
  KCHECK(g_break.sbrk(static_cast<intptr_t>(g_break.limit() - cur) + 1) == kSbrkFail);
  KCHECK_EQ(g_break.current(), cur);
  KCHECK_EQ(g_pmm.free_frame_count(), free0);
}

KTEST(vm_page_heap_runs_reuse_coalesce_trim) {
  vm::KernelBreak brk;
  brk.init(kTestWindowBase, kTestWindowLimit, &kernel_frame_source(), &kernel_mapper());
  uint32_t tables0 = page_table_frames();
  size_t free0 = g_pmm.free_frame_count();
  vm::PageHeap heap;
  KREQUIRE(heap.init(&brk));
  KCHECK(heap.check());
  VirtAddr d = heap.data_start();
  auto at = [&](size_t page) { return reinterpret_cast<void*>(d + page * kPageSize); };

  int owner = 0;
  void* a = heap.alloc_run(2, vm::RunOwner::Test, &owner, 1);
  void* b = heap.alloc_run(3, vm::RunOwner::Test, &owner, 2);
  void* c = heap.alloc_run(1, vm::RunOwner::Test, &owner, 3);
  void* e = heap.alloc_run(1, vm::RunOwner::Test, &owner, 4);
  KREQUIRE(a && b && c && e);
  KCHECK(a == at(0) && b == at(2) && c == at(5) && e == at(6));
  for (size_t p = 0; p < 7; ++p) {
    KCHECK(is_mapped(d + p * kPageSize));
    *reinterpret_cast<volatile uint32_t*>(d + p * kPageSize) = static_cast<uint32_t>(p);
  }
  vm::RunInfo r;
  KCHECK(heap.run_of(static_cast<char*>(b) + 2 * kPageSize + 100, &r));
  KCHECK(r.start == b && r.pages == 3 && r.owner == vm::RunOwner::Test && r.owner_ptr == &owner);
  KCHECK(heap.lookup(at(3))->tag == 2);
  KCHECK(heap.lookup(at(7)) == nullptr);

  // Free b: unmapped, frames back, then reused first fit.
  size_t f = g_pmm.free_frame_count();
  KCHECK(heap.free_run(b));
  KCHECK_EQ(g_pmm.free_frame_count(), f + 3);
  KCHECK(!is_mapped(d + 2 * kPageSize) && !is_mapped(d + 4 * kPageSize));
  KCHECK(heap.check());
  void* x = heap.alloc_run(1, vm::RunOwner::Test, nullptr);
  KCHECK(x == at(2));
  // Coalescing: free a and x; with the 2 free pages after x, one 5-page range.
  KCHECK(heap.free_run(a));
  KCHECK(heap.free_run(x));
  vm::PageHeapStats s = heap.stats();
  KCHECK_EQ(s.free_ranges, 1u);
  KCHECK_EQ(s.free_pages, 5u);
  KCHECK(heap.check());
  // Bad frees are reported and refused.
  set_report_echo(false);
  uint32_t reports = report_count();
  KCHECK(!heap.free_run(a));
  KCHECK(last_report().bug_class == BugClass::DoubleFree);
  KCHECK(!heap.free_run(static_cast<char*>(c) + 16));
  KCHECK(last_report().bug_class == BugClass::InvalidFree);
  KCHECK(!heap.free_run(at(100)));
  KCHECK(last_report().bug_class == BugClass::InvalidFree);
  KCHECK_EQ(report_count(), reports + 3);
  set_report_echo(true);
  KCHECK(heap.check());
  // Trimming: free the top run, then the one below it; everything goes back.
  KCHECK(heap.free_run(e));
  KCHECK_EQ(heap.top(), d + 6 * kPageSize);
  KCHECK(heap.free_run(c));
  KCHECK_EQ(heap.top(), d);
  KCHECK_EQ(brk.current(), d);
  KCHECK(heap.check());
  heap.release_unused_metadata();
  // The metadata page mapped at init is the only frame still held.
  KCHECK_EQ(frames_plus_new_tables(tables0) + heap.metadata_pages_mapped(), free0);
  KCHECK(heap.shutdown());
  KCHECK_EQ(frames_plus_new_tables(tables0), free0);
  KCHECK(!is_mapped(kTestWindowBase));
}

KTEST(vm_page_heap_runs_out_of_frames_cleanly) {
  vm::KernelBreak brk;
  brk.init(kTestWindowBase, kTestWindowLimit, &kernel_frame_source(), &kernel_mapper());
  vm::PageHeap heap;
  uint32_t tables0 = page_table_frames();
  size_t free0 = g_pmm.free_frame_count();
  KREQUIRE(heap.init(&brk));
  // Runs of 64 pages until the frames (or the 256 MiB) run out. Nothing may
  // print while the frames are exhausted, so results are checked afterwards.
  static void* runs[(256u << 20) / (64 * kPageSize)];
  size_t n = 0, free_before_fail = 0, free_after_fail = 0;
  uint32_t tables_before_fail = 0;
  for (;;) {
    free_before_fail = g_pmm.free_frame_count();
    tables_before_fail = page_table_frames();
    void* r = n < sizeof runs / sizeof runs[0] ? heap.alloc_run(64, vm::RunOwner::Test, nullptr) : nullptr;
    if (!r) break;
    runs[n++] = r;
  }
  free_after_fail = frames_plus_new_tables(tables_before_fail);
  vm::PageHeapStats full = heap.stats();
  VirtAddr top_full = heap.top();
  bool ok_full = heap.check();
  for (size_t i = 0; i < n; i += 2) heap.free_run(runs[i]);  // holes first, then the rest
  vm::PageHeapStats holes = heap.stats();
  bool ok_holes = heap.check();
  for (size_t i = 1; i < n; i += 2) heap.free_run(runs[i]);
  KCHECK(n > 0);
  KCHECK_EQ(free_after_fail, free_before_fail);  // the failed alloc took nothing
  // It failed for lack of frames (64 data pages, perhaps a metadata page and a page table), or of window.
  KCHECK(free_before_fail < 64 + 2 || top_full + 64 * kPageSize > brk.limit());
  KCHECK_EQ(full.runs_in_use, n);
  KCHECK(ok_full && ok_holes);
  KCHECK_EQ(holes.free_ranges, n / 2);
  KCHECK(heap.check());
  KCHECK_EQ(heap.top(), heap.data_start());
  KCHECK(heap.shutdown());
  KCHECK_EQ(frames_plus_new_tables(tables0), free0);
}

KTEST(vm_live_page_heap_is_consistent) {
  KCHECK(g_page_heap.check());
  KCHECK(g_page_heap.data_start() == g_break.base());
  KCHECK(g_page_heap.top() <= g_break.mapped_end());
}

}  // namespace kheap::kernel
