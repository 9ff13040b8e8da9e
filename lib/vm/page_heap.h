// lib/vm/page_heap.h — page-granular runs of virtual memory inside the break.
//
// The layers above (slab, large kmalloc blocks, Win32-style heaps) get whole
// pages here: alloc_run(n) hands out n contiguous mapped pages; free_run()
// takes them back, unmaps them (their frames return to the frame allocator) and
// coalesces the free virtual range with free neighbours. When the topmost run
// is free the break is trimmed down.
//
// One PageInfo per virtual page of the window answers "which run, which owner
// is this address in" in O(1): the slab allocator frees objects without
// headers through lookup(). The PageInfo array sits at the start of the
// window, in a prefix carved off the break (KernelBreak::carve_front), and is
// mapped LAZILY: only the metadata pages holding the entries of pages below
// top() are mapped (a 512 MiB window needs 4 MiB of entries; mapping
// them up front would cost that much RAM at boot). The entries of the
// metadata pages themselves are implicit — every lookup starts at
// data_start() — so the leading metadata pages that hold nothing else are
// never mapped (1 MiB for the drop-in malloc's 16 GiB window). Metadata pages are mapped
// before the break grows and unmapped again when it is trimmed, keeping at
// most one spare page (hysteresis: an alloc/free pair at the top that crosses
// a metadata page boundary would otherwise map, zero and unmap a page every
// time). release_unused_metadata() gives the spare back, for exact frame
// accounting. A failed operation always leaves the metadata exactly as it was.
//
// The page heap owns [data_start, top()). Normally top() == the break; if
// someone moves the break directly (the `sbrk` monitor command, selftests),
// the pages between top() and the break are theirs: the page heap then does
// not grow (alloc_run fails unless a free range fits) and does not trim.
//
// Free ranges are kept on a doubly linked list in address order (links in
// their head entries), so alloc_run's first fit costs O(free ranges), not
// O(runs), and freeing is O(1) plus the run's pages when it coalesces with a
// neighbour (O(free ranges) to find its list position when it does not).
// A free range's entries are boundary tags: its first page is FreeHead (head =
// itself, pages = length, list links), its last page is Unused with head set to
// the first page; any pages in between have all-zero entries.
//
// Invariants (check()): runs and free ranges tile [data_start, top) exactly;
// top <= align_up(break); no two free ranges are adjacent (they would have been
// coalesced); no free range ends at top while top == the break (it would have
// been trimmed); every page of an in-use run is mapped and its entry names its
// head, owner, owner_ptr, tag and owner words (the same on every page); free-range pages are unmapped; the free list
// holds exactly the free ranges, in address order; the metadata pages covering
// entries [reserved, top) are mapped, plus at most one more, and no others; the
// entries of metadata pages that lie on mapped pages are Metadata; entries past top are all zero; the counters agree.
//
// Misuse (freeing something that is not the start of an in-use run, resizing
// or re-owning a non-run, a zero-page request) is reported through
// core/report.h and refused. Running out of frames or window returns
// failure and reports nothing. Not thread-safe: the caller serializes.
#pragma once

#include "core/types.h"
#include "vm/kernel_break.h"

namespace kheap::vm {

enum class PageKind : uint8_t {
  Unused = 0,   // past the break, or a page of a free range other than its first
  Metadata,     // the PageInfo array itself
  RunHead,      // first page of an in-use run
  RunTail,      // any other page of an in-use run
  FreeHead,     // first page of a free (unmapped) range
};
const char* page_kind_name(PageKind k);

// Who owns an in-use run (set by alloc_run, shown by `block`, gdb and reports).
enum class RunOwner : uint8_t {
  None = 0,
  Slab,         // owner_ptr: the SlabPage at the run's start
  Large,        // a large kmalloc block; owner_ptr: nullptr or the caller's record
  Heap,         // a Win32-style heap's large block or reserve; owner_ptr: the heap
  Test,
};
const char* run_owner_name(RunOwner o);

inline constexpr uint32_t kNoPage = 0xFFFFFFFFu;

struct alignas(32) PageInfo {  // (32 bytes on i386 too: alignas pads its 28)
  void* owner_ptr;     // for every page of a run: the run's owner object
  uint32_t head;       // for every page of a run, and the first and last page of a free range: page index of its head
  uint32_t pages;      // for a head: length of the run / free range in pages
  PageKind kind;
  RunOwner owner;      // for every page of a run
  uint16_t tag;        // for every page of a run: free for the owner to use (e.g. a size class index)
  // FreeHead: the previous / next free range in address order (page index or
  // kNoPage). Pages of a run: instead, the first two of three words the
  // run's owner may keep in every page of the run (set_owner_words; 0 until
  // then, and again once the run is freed or re-owned; pages a run grows by
  // get them too). A reader that looks at any page (kfree's inline path)
  // may read words 0 and 1 of a FreeHead (its links; reading the other union
  // member is defined by GCC and Clang) — harmless, as word 2 is 0 there.
  union { uint32_t free_prev; uint32_t owner_word0; };
  union { uint32_t free_next; uint32_t owner_word1; };
  // The owner's third word: 0 on every page that is not part of a run whose
  // owner set it (free ranges included), so an owner that must recognise its
  // own pages from a bare lookup keeps it nonzero and tests it. The slab
  // layer's kfree keeps a kmalloc slab's object check in the three words.
  uint32_t owner_word2;
};
static_assert(sizeof(PageInfo) == 32, "one shift indexes the array, on i386 and x86-64");

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
  size_t metadata_pages;     // metadata pages currently mapped
  size_t largest_free_range; // in pages
};

class PageHeap {
 public:
  // Carve the PageInfo array off the start of the break's window (the break
  // must not have been moved yet) and map its first page(s). Returns false if
  // that cannot be done.
  bool init(KernelBreak* brk);
  // Give the metadata pages back and detach from the break (which keeps its
  // carved base). Refused (reported as BadArgument) while runs are in use or
  // someone else holds the break above top. Afterwards the heap is unusable
  // until init (with a fresh break).
  bool shutdown();

  // n contiguous mapped pages, or nullptr (out of frames, or the window is full).
  // Reuses the lowest free range that fits (first fit), else grows the break
  // (extending the topmost free range, if one ends at top(), by the missing pages).
  void* alloc_run(size_t pages, RunOwner owner, void* owner_ptr, uint16_t tag = 0);
  // Free a run by its start address. Reports (InvalidFree: unaligned, outside
  // the page heap or inside a run; DoubleFree: inside a free range) and
  // returns false for anything that is not the start of an in-use run.
  bool free_run(void* start);
  // Try to grow or shrink an in-use run where it stands (growing needs the
  // following pages to be a free range or past the break). Returns false, with
  // nothing changed, if it cannot (reports if `start` is not a run start or
  // new_pages is 0).
  bool resize_run_in_place(void* start, size_t new_pages);

  // The PageInfo of the page containing `addr`, or nullptr if it is outside
  // [data_start, top) (not an error: callers decide what to report).
  const PageInfo* lookup(const void* addr) const;
  // The in-use run containing `addr`; false if `addr` is not inside one.
  bool run_of(const void* addr, RunInfo* out) const;
  // Re-own a run (every page's entry). Reports BadArgument if run_start is not a run start.
  void set_owner(void* run_start, RunOwner owner, void* owner_ptr, uint16_t tag);  // (owner words back to 0)
  // Every page of the run at run_start gets these owner words (PageInfo),
  // until the run is freed or re-owned. Reports BadArgument if run_start is
  // not a run start.
  void set_owner_words(void* run_start, uint32_t word0, uint32_t word1, uint32_t word2);

  bool check() const;
  PageHeapStats stats() const;
  KernelBreak* kernel_break() const { return brk_; }
  VirtAddr data_start() const { return data_start_; }
  VirtAddr top() const { return top_; }               // end of the page heap's part of the break
  // top() - data_start(), kept with top_: kfree's inline path tests
  // `a - data_start() < top_offset()` (one compare for both ends).
  size_t top_offset() const { return top_offset_; }
  // Also keep *mirror == top_offset() from now on (0 after shutdown); nullptr
  // stops. The slab layer keeps its copy next to the other values kfree's
  // inline path reads, one load fewer than through this object.
  void publish_top_offset(size_t* mirror) {
    top_offset_mirror_ = mirror;
    if (mirror) *mirror = top_offset_;
  }
  // The PageInfo of the page at data_start() (the entries before it, the
  // metadata pages', are implicit: not necessarily mapped).
  const PageInfo* data_info() const { return info_ + index_of(data_start_); }
  size_t window_pages() const { return window_pages_; }
  size_t metadata_pages_reserved() const { return metadata_reserved_; }
  size_t metadata_pages_mapped() const { return metadata_mapped_ - metadata_skipped_; }
  // Unmap the spare metadata page kept for hysteresis, if any; returns the pages given back.
  size_t release_unused_metadata();
  const PageInfo* page_info_array() const { return info_; }

  // Free ranges for vminfo: calls fn(start, pages) for each, lowest address first.
  template <typename Fn>
  void for_each_free_range(Fn fn) const;

 private:
  size_t index_of(VirtAddr a) const { return (a - window_base_) >> kPageShift; }
  VirtAddr addr_of(size_t index) const { return window_base_ + (index << kPageShift); }
  size_t top_index() const { return index_of(top_); }
  void set_top(VirtAddr t) {
    top_ = t;
    top_offset_ = t - data_start_;
    if (top_offset_mirror_) *top_offset_mirror_ = top_offset_;
  }
  size_t metadata_pages_for(size_t entries) const;

  bool ensure_metadata(size_t entries);   // map metadata pages so entries [0, entries) are reachable
  void release_metadata(size_t entries);  // unmap metadata pages not needed for entries [0, entries), but one
  void release_metadata_pages(size_t keep);
  bool map_pages(size_t first, size_t count);    // all or nothing
  void unmap_pages(size_t first, size_t count);  // frames go back
  bool grow_top(size_t pages);            // move top (and the break) up by `pages`, mapped
  void shrink_top(size_t new_top_index);  // move top (and the break) down; pages already unmapped

  void mark_run(size_t first, size_t count, RunOwner owner, void* owner_ptr, uint16_t tag);
  void clear_entries(size_t first, size_t count);
  void set_free_tags(size_t head, size_t count);  // boundary tags of a free range (links untouched)
  void list_insert(size_t head);                  // by address
  void list_remove(size_t head);
  void list_replace(size_t old_head, size_t new_head);
  size_t take_front(size_t head, size_t count);   // shorten a free range from the front; returns the remainder
  void release_range(size_t first, size_t count);  // an unmapped range becomes free: coalesce, trim

  void extend_run(size_t head, size_t from, size_t count);
  // Is `start` the first page of an in-use run? If not, report (as a bad free
  // when op is "free_run", else as a bad argument) and return false.
  bool validate_run_start(const char* op, const void* start) const;
  void write_owner_words(size_t head, uint32_t word0, uint32_t word1, uint32_t word2);  // every page of the run at head
  bool fail_check(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

  KernelBreak* brk_ = nullptr;
  PageInfo* info_ = nullptr;
  VirtAddr window_base_ = 0;
  size_t window_pages_ = 0;
  size_t metadata_reserved_ = 0;  // pages carved off the window for the PageInfo array
  size_t metadata_skipped_ = 0;   // leading metadata pages holding only entries of metadata pages: never mapped
  size_t metadata_mapped_ = 0;    // pages [metadata_skipped_, metadata_mapped_) are mapped
  // The first entry (a metadata page's) that lies wholly on a mapped page.
  size_t first_metadata_entry_mapped() const {
    return ((metadata_skipped_ << kPageShift) + sizeof(PageInfo) - 1) / sizeof(PageInfo);
  }
  VirtAddr data_start_ = 0;       // first page after the PageInfo array
  VirtAddr top_ = 0;              // end of [data_start, top): runs and free ranges
  size_t top_offset_ = 0;         // top_ - data_start_ (0 while detached)
  size_t* top_offset_mirror_ = nullptr;  // publish_top_offset
  uint32_t free_list_head_ = kNoPage;
  uint32_t free_list_tail_ = kNoPage;
  size_t free_ranges_ = 0;
  size_t free_pages_ = 0;
  size_t runs_in_use_ = 0;
  size_t pages_in_use_ = 0;
};

template <typename Fn>
void PageHeap::for_each_free_range(Fn fn) const {
  if (!brk_) return;
  for (uint32_t i = free_list_head_; i != kNoPage; i = info_[i].free_next)
    fn(reinterpret_cast<void*>(addr_of(i)), static_cast<size_t>(info_[i].pages));
}

}  // namespace kheap::vm
