// lib/host/lazy_window.h — a light Linux platform for a process-wide malloc
// (build/host/libkheap.so): the same KernelBreak / PageHeap / slab code as
// HostMachine, over one big anonymous window instead of a memfd.
//
// Why not HostMachine: it maps every page with its own mmap(MAP_FIXED) of the
// memfd (~2.4 us per page, and each mapping is a VMA, so vm.max_map_count =
// 65530 caps it at ~256 MiB of scattered pages). Here:
//   - the window is ONE mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|
//     MAP_NORESERVE) of window_bytes (16 GiB by default; halved until the
//     kernel accepts it). Memory appears on first touch, so the window costs
//     no RAM, and the page heap's PageInfo array at its front (32 bytes per
//     page: 128 MiB virtual for 16 GiB) is touched only as far as the heap
//     grows — except the entries describing the array's own pages, which
//     PageHeap::init maps and fills eagerly: 64 KiB per GiB of window, and
//     ~2.5 us per page fault on this VM, so 64 GiB would cost every process
//     4 MiB of RSS and ~4 ms at start (16 GiB: 1 MiB, ~0.5 ms; see README);
//   - "frames" are anonymous: the FrameSource only counts them against
//     frame_limit (Linux supplies the page on first touch). alloc_frame
//     returns a token (kPageSize); translate() reports the identity frame
//     (offset in the window + kPageSize) of a mapped page;
//   - map_page sets a bit in a bitmap (1 bit per window page, lazily touched
//     like everything else): no system call;
//   - unmap_page clears the bit and QUEUES the page: its memory stays
//     resident (stale data) until it is given back with
//     madvise(MADV_DONTNEED) (after which it reads as zeros). A page mapped
//     again while queued is simply taken off the queue: no system call, no
//     page fault. The queue is two bitmaps parallel to the mapped one, the
//     young and the old generation (O(1) to queue and to take off; giving a
//     generation back scans its span and coalesces set bits into ranges, so
//     one madvise covers a run of adjacent pages whatever order they came in).
//
// Release policy (why: a program that frees a lot and allocates it again soon,
// like allocate-a-million-free-all in rounds, would otherwise pay a madvise and
// a page fault per page per round; mimalloc and jemalloc keep freed memory for
// a while too, jemalloc 10 s, mimalloc some ms):
//   - age: pages are queued into the young generation. At the first map or
//     unmap at least purge_delay_ms after the generation started, the old
//     generation is given back and the young one becomes old; if 2 *
//     purge_delay_ms have passed, both are given back. So a queued page is
//     kept at least purge_delay_ms and given back at the first page event
//     2 * purge_delay_ms after it was queued (the clock is only read on page
//     events: a program that frees a lot and then never maps or unmaps a page
//     keeps its queue until malloc_trim or exit — as mimalloc, which also
//     purges only from inside its own calls);
//   - bound: mapped + queued pages never exceed peak_frames + slack, where
//     slack = kSlackPages (2 MiB) + peak_frames / 4, checked whenever a page
//     is mapped that was not queued (the only event that raises mapped +
//     queued). When it is exceeded, queued pages are given back until mapped +
//     queued <= peak_frames + slack / 2 (hysteresis: each such event gives
//     back >= slack / 2 pages): the old generation
//     first, then the young one, each from its highest page down (the page
//     heap is first fit, so the highest free pages are the last to be reused). Resident memory (mapped pages, which the
//     program may touch, plus queued ones) therefore stays below 1.25x the
//     most pages ever mapped at once + 2 MiB. The quarter: a program whose
//     big blocks move as they grow (the realloc workload) maps fresh pages
//     while its old ones sit queued; with 2 MiB of slack alone they were
//     given back and faulted in again at every round (3.2 us per realloc with
//     the quarter, 6.9 us without, the same peak RSS; a page fault costs
//     ~2.5 us on this VM). mimalloc and jemalloc hold more (see README);
//   - flush() (malloc_trim) gives every queued page back now.
// Invariants: a queued page is never mapped (map_page dequeues it first); a
// page is in at most one generation; each generation's count equals its
// bitmap population and its set bits lie in its [lo, hi) span;
// queued_pages == young + old counts; frames_in_use == mapped pages (bitmap
// population); frames_in_use <= frame_limit; unmapped_pages == queued_pages +
// discarded_pages + dequeued_pages (check() verifies them by a full scan).
// Differences from a real MMU, by design: an unmapped page does not fault (it
// reads zeros, or stale data while queued), and a frame number means nothing
// beyond "a page is mapped here".
// Not thread-safe: every call must hold the same lock. In libkheap.so that is
// lib/slab's slab_lock() (the page heap is only entered under it, and the
// malloc shim's malloc_trim and stats take it too).
#pragma once

#include "core/types.h"
#include "platform/frame_source.h"
#include "platform/mapper.h"
#include "vm/kernel_break.h"
#include "vm/page_heap.h"

namespace kheap::host {

struct LazyWindowConfig {
  size_t window_bytes = size_t{16} << 30;  // virtual size asked for (halved on failure, down to min_window_bytes)
  size_t min_window_bytes = size_t{1} << 30;
  size_t frame_limit = 0;                  // pages that may be mapped at once; 0: the whole window
  uint32_t purge_delay_ms = 250;           // a queued page is kept >= this, given back after 2x (see above)
  uint64_t (*clock_ms)() = nullptr;        // milliseconds, monotonic; nullptr: CLOCK_MONOTONIC_COARSE (tests: a fake)
};

struct LazyWindowStats {
  size_t frames_in_use;   // pages mapped now (page-heap runs and its metadata)
  size_t peak_frames;     // most pages mapped at once
  size_t frame_limit;
  size_t queued_pages;    // unmapped, not yet given back to the kernel (still resident)
  size_t discard_calls;   // madvise(MADV_DONTNEED) calls made
  size_t discarded_pages; // pages given back through them
  size_t dequeued_pages;  // pages mapped again while queued (no system call)
  size_t unmapped_pages;  // pages ever queued: == queued + discarded + dequeued
  size_t aged_pages;      // of discarded_pages: given back because they aged (the rest: bound or flush)
  size_t bound_pages;     // of discarded_pages: given back to keep mapped + queued under the bound
};

class LazyWindow final : public platform::FrameSource, public platform::Mapper {
 public:
  // mapped + queued may exceed the peak by slack_pages(): 2 MiB plus a
  // quarter of the peak (see the release policy above).
  static constexpr size_t kSlackPages = 512;
  static constexpr unsigned kSlackPeakShift = 2;
  size_t slack_pages() const { return kSlackPages + (peak_frames_ >> kSlackPeakShift); }

  // Reserve the window and bitmaps, bring up KernelBreak + PageHeap over it.
  // No allocation through malloc: only mmap. False on failure (nothing held).
  bool create(const LazyWindowConfig& config = {});
  void destroy();
  bool created() const { return window_base_ != 0; }

  vm::KernelBreak& kernel_break() { return break_; }
  vm::PageHeap& page_heap() { return page_heap_; }
  VirtAddr window_base() const { return window_base_; }
  size_t window_bytes() const { return window_bytes_; }
  bool in_window(const void* p) const {
    return reinterpret_cast<VirtAddr>(p) - window_base_ < window_bytes_;
  }

  // Give every queued page back to the kernel now.
  void flush();
  LazyWindowStats stats() const;
  bool queued(VirtAddr virt) const;  // unmapped and not yet given back
  // The invariants above, by a full scan of the bitmaps' spans (tests).
  bool check() const;

  // FrameSource
  PhysAddr alloc_frame() override;
  bool free_frame(PhysAddr frame) override;
  size_t free_frame_count() const override { return frame_limit_ - frames_in_use_; }
  // Mapper
  bool map_page(VirtAddr virt, PhysAddr frame) override;
  PhysAddr unmap_page(VirtAddr virt) override;
  PhysAddr translate(VirtAddr virt) const override;

 private:
  // One generation of queued pages: a bitmap (1 bit per window page) and the
  // span [lo, hi) of pages its set bits lie in (empty: count == 0, lo == hi == 0).
  struct Generation {
    uint64_t* bits;
    size_t count;
    size_t lo, hi;
  };
  enum class Why { Aged, Bound, Flush };

  size_t page_of(VirtAddr virt) const { return (virt - window_base_) >> kPageShift; }
  static bool test(const uint64_t* bits, size_t page) { return (bits[page / 64] >> (page % 64)) & 1; }
  bool bit(size_t page) const { return test(bitmap_, page); }
  bool take(Generation& g, size_t page);  // off the queue if it is in g
  void age();                             // the clock's part of the policy
  void enforce_bound();                   // the bound's part
  // Give up to `budget` pages of g back, highest first (first fit reuses low
  // addresses first), one madvise per run of adjacent pages. Returns the count.
  size_t discard(Generation& g, Why why, size_t budget = ~size_t{0});
  void discard_range(size_t first, size_t count, Why why);

  VirtAddr window_base_ = 0;
  size_t window_bytes_ = 0;
  uint64_t* bitmap_ = nullptr;  // mapped pages; the two generations' bitmaps follow it in one mapping
  size_t bitmap_bytes_ = 0;     // of one bitmap
  size_t frame_limit_ = 0;
  size_t frames_in_use_ = 0;
  size_t peak_frames_ = 0;
  Generation young_ = {};
  Generation old_ = {};
  size_t queued_pages_ = 0;
  uint64_t epoch_start_ms_ = 0;  // when young_ started collecting
  uint32_t purge_delay_ms_ = 0;
  uint64_t (*clock_ms_)() = nullptr;
  size_t discard_calls_ = 0;
  size_t discarded_pages_ = 0;
  size_t dequeued_pages_ = 0;
  size_t unmapped_pages_ = 0;
  size_t aged_pages_ = 0;
  size_t bound_pages_ = 0;
  vm::KernelBreak break_;
  vm::PageHeap page_heap_;
};

}  // namespace kheap::host
