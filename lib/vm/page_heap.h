// lib/vm/page_heap.h — page-granular runs of virtual memory inside the break.
//
// The layers above (slab, large kmalloc blocks, Win32-style heaps) get whole
// pages here: alloc_run(n) hands out n contiguous mapped pages; free_run()
// takes them back, unmaps them (their frames return to the frame allocator) and
// coalesces the free virtual range with free neighbours. When the topmost run
// is free the break is trimmed down.
//
// One PageInfo per virtual page of the window (an array placed at the start of
// the window, mapped up front) answers "which run, which owner is this
// address in" in O(1): the slab allocator frees objects without headers
// through lookup().
//
// Invariants (check()): runs and free ranges tile [data_start, break) exactly;
// no two free ranges are adjacent (they would have been coalesced); every page
// of an in-use run is mapped and points at its head; free-range pages are unmapped.
#pragma once

#include "core/types.h"
#include "vm/kernel_break.h"

namespace kheap::vm {

enum class PageKind : uint8_t {
  Unused = 0,   // past the break, or a page of a free range
  Metadata,     // the PageInfo array itself
  RunHead,      // first page of an in-use run
  RunTail,      // any other page of an in-use run
  FreeHead,     // first page of a free (unmapped) range
};

// Who owns an in-use run (set by alloc_run, shown by `block`, gdb and reports).
enum class RunOwner : uint8_t {
  None = 0,
  Slab,         // owner_ptr: the SlabPage at the run's start
  Large,        // a large kmalloc block; owner_ptr: nullptr or the caller's record
  Heap,         // a Win32-style heap's large block or reserve; owner_ptr: the heap
  Test,
};
const char* run_owner_name(RunOwner o);

struct PageInfo {
  void* owner_ptr;     // for every page of a run: the run's owner object
  uint32_t head;       // for every page of a run (and a free range): page index of its head
  uint32_t pages;      // for a head: length of the run / free range in pages
  PageKind kind;
  RunOwner owner;
  uint16_t tag;        // free for the owner to use (e.g. a size class index)
};

struct RunInfo {
  void* start;
  size_t pages;
  RunOwner owner;
  void* owner_ptr;
};

struct PageHeapStats {
  size_t runs_in_use;
  size_t pages_in_use;       // pages of in-use runs
  size_t free_ranges;
  size_t free_pages;         // pages of free ranges (unmapped, below the break)
  size_t metadata_pages;
  size_t largest_free_range; // in pages
};

class PageHeap {
 public:
  // Place the PageInfo array at the start of the break's window (growing the
  // break to hold it). Returns false if that cannot be mapped.
  bool init(KernelBreak* brk);

  // n contiguous mapped pages, or nullptr (out of frames, or the window is full).
  // Reuses the lowest free range that fits (first fit), else grows the break.
  void* alloc_run(size_t pages, RunOwner owner, void* owner_ptr, uint16_t tag = 0);
  // Free a run by its start address. Reports (invalid free / double free) and
  // returns false for anything that is not the start of an in-use run.
  bool free_run(void* start);
  // Try to grow or shrink an in-use run where it stands (growing needs the
  // following pages to be a free range or past the break). Returns false, with
  // nothing changed, if it cannot.
  bool resize_run_in_place(void* start, size_t new_pages);

  // The PageInfo of the page containing `addr`, or nullptr if it is outside the
  // data part of the window (not an error: callers decide what to report).
  const PageInfo* lookup(const void* addr) const;
  // The in-use run containing `addr`; false if `addr` is not inside one.
  bool run_of(const void* addr, RunInfo* out) const;
  void set_owner(void* run_start, RunOwner owner, void* owner_ptr, uint16_t tag);

  bool check() const;
  PageHeapStats stats() const;
  KernelBreak* kernel_break() const { return brk_; }
  VirtAddr data_start() const { return data_start_; }
  size_t window_pages() const { return window_pages_; }
  const PageInfo* page_info_array() const { return info_; }

  // Free ranges by size, for vminfo: calls fn(start, pages) for each, lowest address first.
  template <typename Fn>
  void for_each_free_range(Fn fn) const;

 private:
  size_t index_of(VirtAddr a) const { return (a - brk_->base()) >> kPageShift; }
  VirtAddr addr_of(size_t index) const { return brk_->base() + (index << kPageShift); }

  KernelBreak* brk_ = nullptr;
  PageInfo* info_ = nullptr;
  size_t window_pages_ = 0;
  VirtAddr data_start_ = 0;   // first page after the PageInfo array
  // free ranges are found through a list of their heads kept in PageInfo
  // (see page_heap.cpp for the free-range index)
  uint32_t free_list_head_ = 0xFFFFFFFFu;
  size_t runs_in_use_ = 0;
  size_t pages_in_use_ = 0;
};

template <typename Fn>
void PageHeap::for_each_free_range(Fn fn) const {
  if (!brk_) return;
  size_t end = index_of(brk_->mapped_end());
  for (size_t i = index_of(data_start_); i < end;) {
    const PageInfo& p = info_[i];
    size_t n = p.pages ? p.pages : 1;
    if (p.kind == PageKind::FreeHead) fn(reinterpret_cast<void*>(addr_of(i)), static_cast<size_t>(p.pages));
    i += n;
  }
}

}  // namespace kheap::vm
