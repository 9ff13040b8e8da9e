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
//   - unmap_page clears the bit and queues the page for madvise(MADV_DONTNEED)
//     (which gives the memory back to the kernel and makes the page read as
//     zeros), in ranges coalesced as they come (the page heap unmaps a run
//     page by page, top down), flushed once kFlushPages are queued or the
//     range table is full. A page mapped again while still queued is taken
//     off the queue (its memory is simply reused: no system call, no fault).
// Invariants: a queued page is never mapped (map_page dequeues it first);
// frames_in_use == mapped pages (bitmap population); frames_in_use <=
// frame_limit. Differences from a real MMU, by design: an unmapped page does
// not fault (it reads zeros, or stale data until the queue is flushed), and a
// frame number means nothing beyond "a page is mapped here".
// Not thread-safe: the caller serializes (the malloc shim holds its lock).
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
};

struct LazyWindowStats {
  size_t frames_in_use;   // pages mapped now (page-heap runs and its metadata)
  size_t peak_frames;     // most pages mapped at once
  size_t frame_limit;
  size_t queued_pages;    // unmapped, not yet given back to the kernel
  size_t discard_calls;   // madvise(MADV_DONTNEED) calls made
  size_t discarded_pages; // pages given back through them
  size_t dequeued_pages;  // pages mapped again while queued (no system call)
};

class LazyWindow final : public platform::FrameSource, public platform::Mapper {
 public:
  static constexpr size_t kFlushPages = 512;  // 2 MiB queued -> madvise
  static constexpr size_t kMaxQueued = 128;   // ranges in the queue

  // Reserve the window and bitmap, bring up KernelBreak + PageHeap over it. No
  // allocation through malloc: only mmap. False on failure (nothing held).
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

  // FrameSource
  PhysAddr alloc_frame() override;
  bool free_frame(PhysAddr frame) override;
  size_t free_frame_count() const override { return frame_limit_ - frames_in_use_; }
  // Mapper
  bool map_page(VirtAddr virt, PhysAddr frame) override;
  PhysAddr unmap_page(VirtAddr virt) override;
  PhysAddr translate(VirtAddr virt) const override;

 private:
  struct Range {
    size_t first;  // window page index
    size_t count;
  };
  size_t page_of(VirtAddr virt) const { return (virt - window_base_) >> kPageShift; }
  bool bit(size_t page) const { return (bitmap_[page / 64] >> (page % 64)) & 1; }
  void enqueue(size_t page);
  bool dequeue(size_t page);  // false: page was not queued
  void discard(const Range& r);

  VirtAddr window_base_ = 0;
  size_t window_bytes_ = 0;
  uint64_t* bitmap_ = nullptr;
  size_t bitmap_bytes_ = 0;
  size_t frame_limit_ = 0;
  size_t frames_in_use_ = 0;
  size_t peak_frames_ = 0;
  Range queue_[kMaxQueued] = {};
  size_t queued_ranges_ = 0;
  size_t queued_pages_ = 0;
  size_t queue_lo_ = 0;  // [lo, hi): page span covering every queued range (fast "not queued" test)
  size_t queue_hi_ = 0;
  size_t discard_calls_ = 0;
  size_t discarded_pages_ = 0;
  size_t dequeued_pages_ = 0;
  vm::KernelBreak break_;
  vm::PageHeap page_heap_;
};

}  // namespace kheap::host
