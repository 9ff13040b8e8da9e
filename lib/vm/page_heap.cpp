// lib/vm/page_heap.cpp — page-granular runs inside the kernel break.
//
// See page_heap.h for the layout (lazily mapped PageInfo array at the window
// base, boundary-tagged free ranges on an address-ordered list) and the
// invariants that check() verifies. Every operation that can fail for lack of
// frames is all or nothing: it maps first and changes metadata only after
// every mapping succeeded.
#include "vm/page_heap.h"

#include <cstdarg>

#include "core/assert.h"
#include "core/bitops.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/report.h"
#include "platform/platform.h"

namespace kheap::vm {

const char* page_kind_name(PageKind k) {
  switch (k) {
    case PageKind::Unused: return "unused";
    case PageKind::Metadata: return "metadata";
    case PageKind::RunHead: return "run head";
    case PageKind::RunTail: return "run tail";
    case PageKind::FreeHead: return "free head";
  }
  return "?";
}

const char* run_owner_name(RunOwner o) {
  switch (o) {
    case RunOwner::None: return "none";
    case RunOwner::Slab: return "slab";
    case RunOwner::Large: return "large";
    case RunOwner::Heap: return "heap";
    case RunOwner::Test: return "test";
  }
  return "?";
}

/* --- Metadata and mapping helpers ------------------------------------------ */

size_t PageHeap::metadata_pages_for(size_t entries) const { return pages_for(entries * sizeof(PageInfo)); }

bool PageHeap::ensure_metadata(size_t entries) {
  size_t need = metadata_pages_for(entries);
  KHEAP_ASSERT(need <= metadata_reserved_);
  size_t old = metadata_mapped_;
  while (metadata_mapped_ < need) {
    VirtAddr v = window_base_ + (metadata_mapped_ << kPageShift);
    PhysAddr frame = brk_->frame_source()->alloc_frame();
    if (frame == 0 || !brk_->mapper()->map_page(v, frame)) {
      if (frame != 0) brk_->frame_source()->free_frame(frame);
      release_metadata_pages(old);
      return false;
    }
    memset(reinterpret_cast<void*>(v), 0, kPageSize);  // fresh entries are Unused
    ++metadata_mapped_;
  }
  return true;
}

void PageHeap::release_metadata(size_t entries) {
  // Keep one spare page: an alloc/free pair at a metadata page boundary would
  // otherwise map, zero and unmap a metadata page every time.
  size_t keep = metadata_pages_for(entries) + 1;
  release_metadata_pages(keep < metadata_reserved_ ? keep : metadata_reserved_);
}

size_t PageHeap::release_unused_metadata() {
  if (!brk_) return 0;
  size_t before = metadata_mapped_;
  release_metadata_pages(metadata_pages_for(top_index()));
  return before - metadata_mapped_;
}

void PageHeap::release_metadata_pages(size_t keep) {
  while (metadata_mapped_ > keep && metadata_mapped_ > metadata_skipped_) {
    --metadata_mapped_;
    PhysAddr frame = brk_->mapper()->unmap_page(window_base_ + (metadata_mapped_ << kPageShift));
    KHEAP_ASSERT(frame != 0);
    brk_->frame_source()->free_frame(frame);
  }
}

bool PageHeap::map_pages(size_t first, size_t count) {
  for (size_t k = 0; k < count; ++k) {
    PhysAddr frame = brk_->frame_source()->alloc_frame();
    if (frame == 0 || !brk_->mapper()->map_page(addr_of(first + k), frame)) {
      if (frame != 0) brk_->frame_source()->free_frame(frame);
      unmap_pages(first, k);
      return false;
    }
  }
  return true;
}

void PageHeap::unmap_pages(size_t first, size_t count) {
  for (size_t k = count; k > 0; --k) {
    PhysAddr frame = brk_->mapper()->unmap_page(addr_of(first + k - 1));
    KHEAP_ASSERT(frame != 0);
    brk_->frame_source()->free_frame(frame);
  }
}

bool PageHeap::grow_top(size_t pages) {
  // Someone else moved the break (pages above top_ are theirs): do not grow over them.
  if (brk_->current() != top_) return false;
  size_t top = top_index();
  if (pages > window_pages_ - top) return false;
  size_t new_top = top + pages;
  size_t meta_before = metadata_mapped_;
  if (!ensure_metadata(new_top)) return false;
  if (brk_->brk(addr_of(new_top)) != addr_of(new_top)) {
    release_metadata_pages(meta_before);  // exactly as before: a failed grow changes nothing
    return false;
  }
  set_top(addr_of(new_top));
  return true;
}

void PageHeap::shrink_top(size_t new_top_index) {
  KHEAP_ASSERT(brk_->current() == top_ && new_top_index <= top_index());
  VirtAddr new_top = addr_of(new_top_index);
  VirtAddr got = brk_->brk(new_top);
  KHEAP_ASSERT(got == new_top);
  set_top(new_top);
  release_metadata(new_top_index);
}

/* --- Entries ----------------------------------------------------------------- */

void PageHeap::mark_run(size_t first, size_t count, RunOwner owner, void* owner_ptr, uint16_t tag) {
  for (size_t k = 0; k < count; ++k) {
    info_[first + k] = PageInfo{owner_ptr, static_cast<uint32_t>(first), k == 0 ? static_cast<uint32_t>(count) : 0u,
                                k == 0 ? PageKind::RunHead : PageKind::RunTail, owner, tag, {0}, {0}, 0};
  }
}

void PageHeap::extend_run(size_t head, size_t from, size_t count) {
  const PageInfo& h = info_[head];
  for (size_t k = 0; k < count; ++k)
    info_[from + k] = PageInfo{h.owner_ptr, static_cast<uint32_t>(head), 0, PageKind::RunTail, h.owner, h.tag,
                               {h.owner_word0}, {h.owner_word1}, h.owner_word2};  // (the owner's words go with the run)
  info_[head].pages += static_cast<uint32_t>(count);
}

void PageHeap::clear_entries(size_t first, size_t count) { memset(&info_[first], 0, count * sizeof(PageInfo)); }

void PageHeap::set_free_tags(size_t head, size_t count) {
  PageInfo& h = info_[head];
  h.owner_ptr = nullptr;
  h.head = static_cast<uint32_t>(head);
  h.pages = static_cast<uint32_t>(count);
  h.kind = PageKind::FreeHead;
  h.owner = RunOwner::None;
  h.tag = 0;
  h.owner_word2 = 0;  // (free_prev/free_next, where words 0 and 1 were, are set by the caller)
  if (count > 1)
    info_[head + count - 1] = PageInfo{nullptr, static_cast<uint32_t>(head), 0, PageKind::Unused, RunOwner::None, 0, {0}, {0}, 0};
}

/* --- The free list (address order) ------------------------------------------- */

void PageHeap::list_insert(size_t head) {
  uint32_t h = static_cast<uint32_t>(head);
  uint32_t next = kNoPage;
  // Freed runs usually lie above every free range: append without walking.
  if (free_list_tail_ != kNoPage && free_list_tail_ > h) {
    next = free_list_head_;
    while (next < h) next = info_[next].free_next;
  }
  uint32_t prev = next == kNoPage ? free_list_tail_ : info_[next].free_prev;
  info_[h].free_prev = prev;
  info_[h].free_next = next;
  if (prev == kNoPage) free_list_head_ = h; else info_[prev].free_next = h;
  if (next == kNoPage) free_list_tail_ = h; else info_[next].free_prev = h;
}

void PageHeap::list_remove(size_t head) {
  PageInfo& e = info_[head];
  if (e.free_prev == kNoPage) free_list_head_ = e.free_next; else info_[e.free_prev].free_next = e.free_next;
  if (e.free_next == kNoPage) free_list_tail_ = e.free_prev; else info_[e.free_next].free_prev = e.free_prev;
  e.free_prev = e.free_next = 0;
}

void PageHeap::list_replace(size_t old_head, size_t new_head) {
  uint32_t n = static_cast<uint32_t>(new_head);
  uint32_t prev = info_[old_head].free_prev, next = info_[old_head].free_next;
  info_[n].free_prev = prev;
  info_[n].free_next = next;
  if (prev == kNoPage) free_list_head_ = n; else info_[prev].free_next = n;
  if (next == kNoPage) free_list_tail_ = n; else info_[next].free_prev = n;
  info_[old_head].free_prev = info_[old_head].free_next = 0;
}

size_t PageHeap::take_front(size_t head, size_t count) {
  size_t len = info_[head].pages;
  KHEAP_ASSERT(count >= 1 && count <= len);
  free_pages_ -= count;
  if (count == len) {
    list_remove(head);
    --free_ranges_;
    return 0;
  }
  // The remainder keeps the range's place in the address-ordered list. Its
  // new head was an interior (all-zero) entry or the last page's tag.
  size_t rest = head + count;
  list_replace(head, rest);
  set_free_tags(rest, len - count);
  return len - count;
}

void PageHeap::release_range(size_t first, size_t count) {
  // [first, first+count) is unmapped and its entries are zero. Coalesce with
  // the free ranges on either side, then trim if it ends at the top.
  size_t top = top_index(), data = index_of(data_start_);
  size_t head = first, len = count;
  bool merged_prev = false;
  if (first > data && (info_[first - 1].kind == PageKind::FreeHead || info_[first - 1].kind == PageKind::Unused)) {
    size_t ph = info_[first - 1].kind == PageKind::FreeHead ? first - 1 : info_[first - 1].head;
    size_t plen = info_[ph].pages;
    KHEAP_ASSERT(info_[ph].kind == PageKind::FreeHead && ph + plen == first);
    if (plen > 1) clear_entries(ph + plen - 1, 1);  // its last page becomes interior
    head = ph;
    len += plen;
    merged_prev = true;
  }
  size_t next = first + count;
  if (next < top && info_[next].kind == PageKind::FreeHead) {
    size_t nlen = info_[next].pages;
    if (merged_prev) {
      list_remove(next);
      --free_ranges_;
    } else {
      list_replace(next, head);
    }
    clear_entries(next, 1);  // set_free_tags below rewrites it if it is also the last page
    len += nlen;
    set_free_tags(head, len);
  } else {
    set_free_tags(head, len);
    if (!merged_prev) {
      list_insert(head);
      ++free_ranges_;
    }
  }
  free_pages_ += count;

  if (head + len == top && brk_->current() == top_) {
    list_remove(head);
    --free_ranges_;
    free_pages_ -= len;
    clear_entries(head, 1);
    if (len > 1) clear_entries(head + len - 1, 1);
    shrink_top(head);
  }
}

/* --- Public operations ----------------------------------------------------- */

bool PageHeap::init(KernelBreak* brk) {
  KHEAP_ASSERT(brk != nullptr);
  if (brk->current() != brk->base() || brk->base() != brk->window_base()) return false;
  size_t window_pages = (brk->limit() - brk->base()) >> kPageShift;
  if (window_pages >= kNoPage) return false;  // page indices are 32-bit
  size_t bytes;
  if (!checked_mul(window_pages, sizeof(PageInfo), &bytes)) return false;
  size_t reserved = pages_for(bytes);
  if (!brk->carve_front(reserved)) return false;

  brk_ = brk;
  window_base_ = brk->window_base();
  window_pages_ = window_pages;
  info_ = reinterpret_cast<PageInfo*>(window_base_);
  metadata_reserved_ = reserved;
  // The entries of the metadata pages themselves are implicit (every lookup
  // starts at data_start): the pages holding only such entries are never
  // mapped — 1 MiB of RAM for a 16 GiB window on x86-64.
  metadata_skipped_ = (reserved * sizeof(PageInfo)) >> kPageShift;
  metadata_mapped_ = metadata_skipped_;
  data_start_ = brk->base();
  set_top(data_start_);
  free_list_head_ = free_list_tail_ = kNoPage;
  free_ranges_ = free_pages_ = runs_in_use_ = pages_in_use_ = 0;

  // Only the page holding the first data entry (if it also holds the last
  // metadata entries) is needed now; the metadata entries on mapped pages
  // say Metadata.
  if (!ensure_metadata(reserved)) {
    brk_ = nullptr;
    return false;
  }
  for (size_t i = first_metadata_entry_mapped(); i < reserved; ++i) {
    info_[i] = PageInfo{};
    info_[i].kind = PageKind::Metadata;
  }
  return true;
}

bool PageHeap::shutdown() {
  if (!brk_) return true;
  if (runs_in_use_ != 0 || brk_->current() != top_) {
    report_bug(BugClass::BadArgument, "page heap: shutdown with %zu runs (%zu pages) in use, break %p, top %p\n",
               runs_in_use_, pages_in_use_, reinterpret_cast<void*>(brk_->current()), reinterpret_cast<void*>(top_));
    return false;
  }
  KHEAP_ASSERT(top_ == data_start_ && free_ranges_ == 0);
  release_metadata_pages(0);
  if (top_offset_mirror_) *top_offset_mirror_ = 0;
  *this = PageHeap{};
  return true;
}

void* PageHeap::alloc_run(size_t pages, RunOwner owner, void* owner_ptr, uint16_t tag) {
  if (!brk_) return nullptr;
  if (pages == 0) {
    report_bug(BugClass::BadArgument, "page heap: alloc_run of 0 pages (owner %s)\n", run_owner_name(owner));
    return nullptr;
  }
  if (pages > window_pages_) return nullptr;

  for (uint32_t i = free_list_head_; i != kNoPage; i = info_[i].free_next) {
    if (info_[i].pages < pages) continue;
    if (!map_pages(i, pages)) return nullptr;
    take_front(i, pages);
    mark_run(i, pages, owner, owner_ptr, tag);
    ++runs_in_use_;
    pages_in_use_ += pages;
    return reinterpret_cast<void*>(addr_of(i));
  }

  // Nothing fits: grow at the top, starting inside the topmost free range if
  // one ends at top (possible only after someone else held the break).
  size_t start = top_index(), have = 0;
  uint32_t tail = free_list_tail_;
  if (tail != kNoPage && tail + info_[tail].pages == top_index()) {
    start = tail;
    have = info_[tail].pages;
  }
  if (!map_pages(start, have)) return nullptr;
  if (!grow_top(pages - have)) {
    unmap_pages(start, have);
    return nullptr;
  }
  if (have) take_front(start, have);
  mark_run(start, pages, owner, owner_ptr, tag);
  ++runs_in_use_;
  pages_in_use_ += pages;
  return reinterpret_cast<void*>(addr_of(start));
}

bool PageHeap::validate_run_start(const char* op, const void* start) const {
  VirtAddr a = reinterpret_cast<VirtAddr>(start);
  bool freeing = op[0] == 'f';
  BugClass bad = freeing ? BugClass::InvalidFree : BugClass::BadArgument;
  if (!brk_) {
    report_bug(bad, "page heap: %s(%p): the page heap is not initialised\n", op, start);
    return false;
  }
  if (!is_aligned(a, kPageSize)) {
    report_bug(bad, "page heap: %s(%p): not page aligned, so not the start of a run\n", op, start);
    return false;
  }
  if (a < data_start_ || a >= top_) {
    report_bug(bad, "page heap: %s(%p): outside the page heap [%p, %p)\n", op, start,
               reinterpret_cast<void*>(data_start_), reinterpret_cast<void*>(top_));
    return false;
  }
  const PageInfo& p = info_[index_of(a)];
  if (p.kind == PageKind::RunHead) return true;
  if (p.kind == PageKind::RunTail) {
    const PageInfo& h = info_[p.head];
    report_bug(bad, "page heap: %s(%p): inside the run at %p (page %zu of %u, owner %s %p), not its start\n", op,
               start, reinterpret_cast<void*>(addr_of(p.head)), index_of(a) - p.head, h.pages,
               run_owner_name(h.owner), h.owner_ptr);
    return false;
  }
  // Inside a free range: find it for the message (error path, O(free ranges)).
  size_t i = index_of(a), fh = kNoPage, flen = 0;
  for (uint32_t r = free_list_head_; r != kNoPage; r = info_[r].free_next) {
    if (i >= r && i < r + info_[r].pages) {
      fh = r;
      flen = info_[r].pages;
      break;
    }
  }
  report_bug(freeing ? BugClass::DoubleFree : BugClass::BadArgument,
             "page heap: %s(%p): already free (inside the free range at %p, %zu pages)\n", op, start,
             fh == kNoPage ? nullptr : reinterpret_cast<void*>(addr_of(fh)), flen);
  return false;
}

bool PageHeap::free_run(void* start) {
  if (!validate_run_start("free_run", start)) return false;
  size_t head = index_of(reinterpret_cast<VirtAddr>(start));
  size_t n = info_[head].pages;
  unmap_pages(head, n);
  clear_entries(head, n);
  --runs_in_use_;
  pages_in_use_ -= n;
  release_range(head, n);
  return true;
}

bool PageHeap::resize_run_in_place(void* start, size_t new_pages) {
  if (!validate_run_start("resize_run_in_place", start)) return false;
  if (new_pages == 0) {
    report_bug(BugClass::BadArgument, "page heap: resize_run_in_place(%p, 0): use free_run to free a run\n", start);
    return false;
  }
  size_t head = index_of(reinterpret_cast<VirtAddr>(start));
  size_t n = info_[head].pages;
  if (new_pages == n) return true;

  if (new_pages < n) {
    size_t cut = head + new_pages, count = n - new_pages;
    unmap_pages(cut, count);
    clear_entries(cut, count);
    info_[head].pages = static_cast<uint32_t>(new_pages);
    pages_in_use_ -= count;
    release_range(cut, count);
    return true;
  }

  if (new_pages > window_pages_) return false;
  size_t need = new_pages - n, next = head + n, top = top_index();
  if (next == top) {
    if (!grow_top(need)) return false;
  } else if (info_[next].kind == PageKind::FreeHead) {
    size_t len = info_[next].pages;
    if (len >= need) {
      if (!map_pages(next, need)) return false;
      take_front(next, need);
    } else if (next + len == top) {
      if (!map_pages(next, len)) return false;
      if (!grow_top(need - len)) {
        unmap_pages(next, len);
        return false;
      }
      take_front(next, len);
    } else {
      return false;
    }
  } else {
    return false;  // the next page belongs to another run
  }
  extend_run(head, next, need);
  pages_in_use_ += need;
  return true;
}

const PageInfo* PageHeap::lookup(const void* addr) const {
  VirtAddr a = reinterpret_cast<VirtAddr>(addr);
  if (!brk_ || a < data_start_ || a >= top_) return nullptr;
  return &info_[index_of(a)];
}

bool PageHeap::run_of(const void* addr, RunInfo* out) const {
  const PageInfo* p = lookup(addr);
  if (!p || (p->kind != PageKind::RunHead && p->kind != PageKind::RunTail)) return false;
  const PageInfo& h = info_[p->head];
  *out = RunInfo{reinterpret_cast<void*>(addr_of(p->head)), h.pages, h.owner, h.owner_ptr};
  return true;
}

void PageHeap::set_owner(void* run_start, RunOwner owner, void* owner_ptr, uint16_t tag) {
  if (!validate_run_start("set_owner", run_start)) return;
  size_t head = index_of(reinterpret_cast<VirtAddr>(run_start));
  for (size_t k = 0, n = info_[head].pages; k < n; ++k) {
    info_[head + k].owner = owner;
    info_[head + k].owner_ptr = owner_ptr;
    info_[head + k].tag = tag;
  }
  write_owner_words(head, 0, 0, 0);  // (a new owner's words are its own to set)
}

void PageHeap::set_owner_words(void* run_start, uint32_t word0, uint32_t word1, uint32_t word2) {
  if (!validate_run_start("set_owner_words", run_start)) return;
  write_owner_words(index_of(reinterpret_cast<VirtAddr>(run_start)), word0, word1, word2);
}

void PageHeap::write_owner_words(size_t head, uint32_t word0, uint32_t word1, uint32_t word2) {
  for (size_t k = 0, n = info_[head].pages; k < n; ++k) {
    info_[head + k].owner_word0 = word0;
    info_[head + k].owner_word1 = word1;
    info_[head + k].owner_word2 = word2;
  }
}

PageHeapStats PageHeap::stats() const {
  PageHeapStats s{runs_in_use_, pages_in_use_, free_ranges_, free_pages_, metadata_pages_mapped(), 0};
  if (!brk_) return s;
  for (uint32_t i = free_list_head_; i != kNoPage; i = info_[i].free_next)
    if (info_[i].pages > s.largest_free_range) s.largest_free_range = info_[i].pages;
  return s;
}

/* --- Validation -------------------------------------------------------------- */

bool PageHeap::fail_check(const char* fmt, ...) const {
  char text[512];
  va_list args;
  va_start(args, fmt);
  vformat(text, sizeof text, fmt, args);
  va_end(args);
  report_bug(BugClass::FreeListCorruption, "page heap check failed: %s\n", text);
  return false;
}

namespace {
bool entry_is_zero(const PageInfo& e) {
  static const PageInfo zero{};
  return memcmp(&e, &zero, sizeof e) == 0;
}
}  // namespace

bool PageHeap::check() const {
  if (!brk_) return true;
  const platform::Mapper* m = brk_->mapper();
  if (!is_aligned(top_, kPageSize) || top_ < data_start_ || top_ > brk_->mapped_end())
    return fail_check("top %p outside [data_start %p, mapped end %p]", reinterpret_cast<void*>(top_),
                      reinterpret_cast<void*>(data_start_), reinterpret_cast<void*>(brk_->mapped_end()));
  if (top_offset_ != top_ - data_start_)
    return fail_check("top offset %#zx does not match top %p", top_offset_, reinterpret_cast<void*>(top_));
  if (data_start_ != brk_->base() || window_base_ != brk_->window_base())
    return fail_check("data start %p is not the break's base %p", reinterpret_cast<void*>(data_start_),
                      reinterpret_cast<void*>(brk_->base()));
  size_t top = top_index(), data = index_of(data_start_);

  size_t meta_need = metadata_pages_for(top);
  if (metadata_mapped_ < meta_need || metadata_mapped_ > meta_need + 1 || metadata_mapped_ > metadata_reserved_ ||
      metadata_skipped_ != (metadata_reserved_ * sizeof(PageInfo)) >> kPageShift)
    return fail_check("metadata pages [%zu, %zu) mapped, [%zu, %zu) needed for %zu entries (one spare allowed)",
                      metadata_skipped_, metadata_mapped_, metadata_skipped_, meta_need, top);
  for (size_t p = 0; p < metadata_reserved_; ++p) {
    bool mapped = m->translate(window_base_ + (p << kPageShift)) != 0;
    if (mapped != (p >= metadata_skipped_ && p < metadata_mapped_))
      return fail_check("metadata page %zu is %s", p, mapped ? "mapped but not needed" : "needed but not mapped");
  }
  for (size_t i = first_metadata_entry_mapped(); i < data; ++i)
    if (info_[i].kind != PageKind::Metadata) return fail_check("entry %zu of the metadata area is %s", i, page_kind_name(info_[i].kind));

  size_t runs = 0, run_pages = 0, ranges = 0, range_pages = 0;
  uint32_t expect = free_list_head_, prev_range = kNoPage;
  bool prev_free = false;
  for (size_t i = data; i < top;) {
    const PageInfo& e = info_[i];
    void* at = reinterpret_cast<void*>(addr_of(i));
    size_t n = e.pages;
    if (n == 0 || n > top - i) return fail_check("%s at %p has length %zu (top is %zu pages on)", page_kind_name(e.kind), at, n, top - i);
    if (e.kind == PageKind::RunHead) {
      for (size_t k = 0; k < n; ++k) {
        const PageInfo& q = info_[i + k];
        PageKind want = k == 0 ? PageKind::RunHead : PageKind::RunTail;
        if (q.kind != want || q.head != i || q.owner != e.owner || q.owner_ptr != e.owner_ptr || q.tag != e.tag ||
            q.owner_word0 != e.owner_word0 || q.owner_word1 != e.owner_word1 || q.owner_word2 != e.owner_word2)
          return fail_check("page %zu of the run at %p: kind %s head %u owner %s tag %u words %#x %#x %#x (expected %s, "
                            "head %zu, owner %s, tag %u, words %#x %#x %#x)",
                            k, at, page_kind_name(q.kind), q.head, run_owner_name(q.owner), q.tag, q.owner_word0,
                            q.owner_word1, q.owner_word2, page_kind_name(want), i, run_owner_name(e.owner), e.tag,
                            e.owner_word0, e.owner_word1, e.owner_word2);
        if (k > 0 && q.pages != 0) return fail_check("run tail page %zu of the run at %p has a length", k, at);
        if (m->translate(addr_of(i + k)) == 0) return fail_check("page %zu of the run at %p is not mapped", k, at);
      }
      ++runs;
      run_pages += n;
      prev_free = false;
    } else if (e.kind == PageKind::FreeHead) {
      if (prev_free) return fail_check("free range at %p follows another free range (not coalesced)", at);
      if (e.head != i) return fail_check("free range at %p: head field %u", at, e.head);
      if (i != expect) return fail_check("free range at %p is not the next on the free list (expected page %u)", at, expect);
      if (e.free_prev != prev_range) return fail_check("free range at %p: prev link %u, expected %u", at, e.free_prev, prev_range);
      if (e.owner_ptr || e.owner != RunOwner::None || e.tag || e.owner_word2) return fail_check("free range at %p has an owner", at);
      if (n > 1) {
        const PageInfo& last = info_[i + n - 1];
        if (last.kind != PageKind::Unused || last.head != i || last.pages || last.owner_ptr)
          return fail_check("free range at %p: bad tag on its last page (kind %s head %u)", at, page_kind_name(last.kind), last.head);
      }
      for (size_t k = 1; k + 1 < n; ++k)
        if (!entry_is_zero(info_[i + k])) return fail_check("free range at %p: interior entry %zu is not clear", at, k);
      for (size_t k = 0; k < n; ++k)
        if (m->translate(addr_of(i + k)) != 0) return fail_check("page %zu of the free range at %p is mapped", k, at);
      ++ranges;
      range_pages += n;
      prev_range = static_cast<uint32_t>(i);
      expect = e.free_next;
      prev_free = true;
    } else {
      return fail_check("page %zu (%p) is in neither a run nor a free range (kind %s)", i, at, page_kind_name(e.kind));
    }
    i += n;
  }
  if (expect != kNoPage) return fail_check("the free list names page %u, which is not a free range head", expect);
  if (free_list_tail_ != prev_range) return fail_check("free list tail %u, last free range %u", free_list_tail_, prev_range);
  if (prev_free && brk_->current() == top_) return fail_check("the topmost free range was not trimmed");
  if (runs != runs_in_use_ || run_pages != pages_in_use_ || ranges != free_ranges_ || range_pages != free_pages_)
    return fail_check("counters: %zu runs/%zu pages, %zu free ranges/%zu pages; found %zu/%zu, %zu/%zu", runs_in_use_,
                      pages_in_use_, free_ranges_, free_pages_, runs, run_pages, ranges, range_pages);
  size_t reachable = (metadata_mapped_ << kPageShift) / sizeof(PageInfo);
  if (reachable > window_pages_) reachable = window_pages_;
  for (size_t i = top; i < reachable; ++i)
    if (!entry_is_zero(info_[i])) return fail_check("entry %zu past the top is not clear (kind %s)", i, page_kind_name(info_[i].kind));
  return true;
}

}  // namespace kheap::vm
