// lib/heap/heap_walk.cpp — looking at a whole heap: HeapWalk, HeapValidate,
// HeapCompact, heap_stats and print_heaps.
//
// A heap's regions are the page-heap runs it owns, in address order: slabs of
// its caches (RunOwner::Slab, cache owner = the heap), its large-block runs and
// its reserve (RunOwner::Heap, owner_ptr = the heap). A walk yields, per
// region, a PROCESS_HEAP_REGION entry and then its blocks in address order:
// busy blocks (PROCESS_HEAP_ENTRY_BUSY, cbData = the requested size) and free
// ones (wFlags 0: free slab slots, free page ranges of the reserve). The walk
// keeps no state of its own: the next entry is found from the previous
// entry's lpData, wFlags and iRegionIndex, so a walk costs O(regions x runs
// of the page heap) plus O(slots) — a debugging tool, not a fast path.
#include "core/checked.h"
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "heap/heap_internal.h"

namespace kheap::win32 {

using namespace detail;

namespace {

struct Region {
  enum Kind : uint8_t { Slab, Large, Reserve } kind;
  char* start;
  size_t pages;
  size_t cls;  // Slab: the size class of its cache
  char* end() const { return start + (pages << kPageShift); }
};

struct Slot {
  char* obj;
  size_t size;
  bool allocated;
};

DWORD clamp_dword(size_t v) { return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<DWORD>(v); }
BYTE clamp_byte(size_t v) { return v > 0xFF ? 0xFF : static_cast<BYTE>(v); }

// Is the run whose head entry is `pi` (at `start`) one of h's regions?
bool region_at(const Heap* h, const vm::PageInfo* pi, char* start, Region* out) {
  if (pi->kind != vm::PageKind::RunHead) return false;
  out->start = start;
  out->pages = pi->pages;
  out->cls = 0;
  if (pi->owner == vm::RunOwner::Heap) {
    if (pi->owner_ptr != h || (pi->tag != kTagReserve && pi->tag != kTagLarge)) return false;  // not bookkeeping
    out->kind = pi->tag == kTagReserve ? Region::Reserve : Region::Large;
    return true;
  }
  if (pi->owner != vm::RunOwner::Slab) return false;
  BlockInfo bi = describe_address(start);
  const KmemCache* cache = bi.cache;
  if (!cache) return false;
  for (size_t c = 0; c < kClassCount; ++c) {
    if (h->caches[c] == cache) {
      out->kind = Region::Slab;
      out->cls = c;
      return true;
    }
  }
  return false;
}

// The first region of h starting at or after `from` (nullptr: the start of the page heap).
bool next_region(const Heap* h, const char* from, Region* out) {
  vm::PageHeap* ph = page_heap();
  auto a = reinterpret_cast<uintptr_t>(from);
  if (a < ph->data_start()) a = ph->data_start();
  while (a < ph->top()) {
    const vm::PageInfo* pi = ph->lookup(reinterpret_cast<void*>(a));
    if (!pi) break;
    if (region_at(h, pi, reinterpret_cast<char*>(a), out)) return true;
    bool head = pi->kind == vm::PageKind::RunHead || pi->kind == vm::PageKind::FreeHead;
    size_t n = head && pi->pages ? pi->pages : 1;
    a += n << kPageShift;
  }
  return false;
}

// The first slab slot of a Slab region whose start is >= `from`.
bool next_slot(const Region& r, const char* from, Slot* out) {
  auto a = reinterpret_cast<uintptr_t>(from);
  a = (a + kBlockAlign - 1) & ~(kBlockAlign - 1);
  auto end = reinterpret_cast<uintptr_t>(r.end());
  while (a < end) {
    BlockInfo bi = describe_address(reinterpret_cast<void*>(a));
    if (bi.kind == BlockInfo::SlabObject && bi.object_start && bi.object_size) {
      auto os = reinterpret_cast<uintptr_t>(bi.object_start);
      if (os == a) {
        out->obj = static_cast<char*>(bi.object_start);
        out->size = bi.object_size;
        out->allocated = cache_of(bi.object_start) != nullptr;  // exact: an allocated object's start
        return true;
      }
      uintptr_t past = (os + bi.object_size + kBlockAlign - 1) & ~(kBlockAlign - 1);
      if (os < a && past > a) {
        a = past;
        continue;
      }
    }
    a += kBlockAlign;
  }
  return false;
}

bool header_ok(const Heap* h, const BlockHeader* hdr, size_t cls) {
  return hdr->requested <= class_capacity(cls) && hdr->check == block_check(h, hdr + 1, hdr->requested);
}

LargeBlock* large_record_at(const Heap* h, const void* start) {
  for (LargeBlock* x : h->large)
    if (x->start == start && !x->in_reserve) return x;
  return nullptr;
}

void fill_busy_large(PROCESS_HEAP_ENTRY* e, const LargeBlock* rec) {
  e->lpData = rec->start;
  e->cbData = clamp_dword(rec->requested);
  e->cbOverhead = clamp_byte((rec->pages << kPageShift) - rec->requested);
  e->wFlags = PROCESS_HEAP_ENTRY_BUSY;
  e->regionFirstBlock = nullptr;
  e->regionCommittedSize = 0;
}

// The entry after position `pos` inside region r (the first one if `first`).
bool next_in_region(const Heap* h, const Region& r, const char* pos, bool first, PROCESS_HEAP_ENTRY* e) {
  switch (r.kind) {
    case Region::Slab: {
      Slot s;
      const char* from = first ? r.start : pos - sizeof(BlockHeader) + kBlockAlign;
      if (!next_slot(r, from, &s)) return false;
      auto* hdr = reinterpret_cast<BlockHeader*>(s.obj);
      size_t cap = class_capacity(r.cls);
      e->lpData = hdr + 1;
      e->regionFirstBlock = nullptr;
      e->regionCommittedSize = 0;
      if (s.allocated) {
        size_t req = hdr->requested <= cap ? hdr->requested : cap;
        e->cbData = clamp_dword(req);
        e->cbOverhead = clamp_byte(s.size - req);
        e->wFlags = PROCESS_HEAP_ENTRY_BUSY;
      } else {
        e->cbData = clamp_dword(cap);
        e->cbOverhead = clamp_byte(sizeof(BlockHeader));
        e->wFlags = 0;
      }
      return true;
    }
    case Region::Large: {
      if (!first) return false;
      LargeBlock* rec = large_record_at(h, r.start);
      if (!rec) return false;
      fill_busy_large(e, rec);
      return true;
    }
    case Region::Reserve: {
      if (r.start != h->reserve) return false;
      size_t n = h->reserve_pages;
      size_t i = 0;
      if (!first) {
        i = static_cast<size_t>(pos - r.start) >> kPageShift;
        if (i >= n) return false;
        if (LargeBlock* cur = h->reserve_slots[i]) {
          i = (static_cast<size_t>(static_cast<char*>(cur->start) - r.start) >> kPageShift) + cur->pages;
        } else {
          while (i < n && !h->reserve_slots[i]) ++i;
        }
      }
      if (i >= n) return false;
      if (LargeBlock* rec = h->reserve_slots[i]) {
        fill_busy_large(e, rec);
        return true;
      }
      size_t j = i;
      while (j < n && !h->reserve_slots[j]) ++j;
      e->lpData = r.start + (i << kPageShift);
      e->cbData = clamp_dword((j - i) << kPageShift);
      e->cbOverhead = 0;
      e->wFlags = 0;
      e->regionFirstBlock = nullptr;
      e->regionCommittedSize = 0;
      return true;
    }
  }
  return false;
}

void fill_region(const Heap* h, const Region& r, size_t index, PROCESS_HEAP_ENTRY* e) {
  PROCESS_HEAP_ENTRY first{};
  void* first_block = next_in_region(h, r, r.start, true, &first) ? first.lpData : nullptr;
  e->lpData = r.start;
  e->cbData = clamp_dword(r.pages << kPageShift);
  e->cbOverhead = 0;
  e->iRegionIndex = clamp_byte(index);
  e->wFlags = PROCESS_HEAP_REGION;
  e->regionFirstBlock = first_block;
  e->regionCommittedSize = clamp_dword(r.pages << kPageShift);
}

// Everything HeapValidate(h, 0, NULL) checks. Reports what it finds.
bool validate_heap_locked(Heap* h) {
  bool ok = true;
  size_t blocks = 0, bytes = 0;
  vm::PageHeap* ph = page_heap();

  Region r;
  const char* from = nullptr;
  while (next_region(h, from, &r)) {
    if (r.kind == Region::Slab) {
      Slot s;
      const char* pos = r.start;
      while (next_slot(r, pos, &s)) {
        pos = s.obj + s.size;
        if (!s.allocated) continue;
        auto* hdr = reinterpret_cast<BlockHeader*>(s.obj);
        if (!header_ok(h, hdr, r.cls)) {
          char hex[80];
          format_hex_bytes(hex, sizeof hex, hdr, sizeof *hdr);
          report_bug(BugClass::RedzoneOverwritten,
                     "  HeapValidate: the header of block %p in heap %p (cache %s) was overwritten\n"
                     "  header bytes: %s\n",
                     static_cast<void*>(hdr + 1), static_cast<void*>(h), h->cache_names[r.cls], hex);
          ok = false;
          continue;
        }
        ++blocks;
        bytes += hdr->requested;
      }
    }
    from = r.end();
  }

  size_t reserve_used = 0;
  for (LargeBlock* rec : h->large) {
    bool good;
    if (rec->in_reserve) {
      size_t first = static_cast<size_t>(static_cast<char*>(rec->start) - static_cast<char*>(h->reserve)) >> kPageShift;
      good = h->reserve && rec->start >= h->reserve && first + rec->pages <= h->reserve_pages;
      for (size_t i = first; good && i < first + rec->pages; ++i) good = h->reserve_slots[i] == rec;
      reserve_used += rec->pages;
    } else {
      const vm::PageInfo* pi = ph->lookup(rec->start);
      good = pi && pi->kind == vm::PageKind::RunHead && pi->owner == vm::RunOwner::Heap && pi->owner_ptr == h &&
             pi->tag == kTagLarge && pi->pages == rec->pages;
    }
    if (!good) {
      report_bug(BugClass::FreeListCorruption,
                 "  HeapValidate: large block %p (%zu pages) of heap %p does not match its pages\n", rec->start,
                 rec->pages, static_cast<void*>(h));
      ok = false;
    }
    ++blocks;
    bytes += rec->requested;
  }

  if (h->reserve) {
    const vm::PageInfo* pi = ph->lookup(h->reserve);
    size_t used = 0;
    for (size_t i = 0; i < h->reserve_pages; ++i) used += h->reserve_slots[i] != nullptr;
    if (!pi || pi->kind != vm::PageKind::RunHead || pi->owner != vm::RunOwner::Heap || pi->owner_ptr != h ||
        pi->tag != kTagReserve || pi->pages != h->reserve_pages || used != reserve_used ||
        used + h->reserve_free_pages != h->reserve_pages) {
      report_bug(BugClass::FreeListCorruption, "  HeapValidate: the reserve %p (%zu pages) of heap %p is inconsistent\n",
                 h->reserve, h->reserve_pages, static_cast<void*>(h));
      ok = false;
    }
  }

  if (ok && (blocks != h->blocks_in_use || bytes != h->bytes_in_use)) {
    report_bug(BugClass::FreeListCorruption,
               "  HeapValidate: heap %p counts %zu blocks / %zu bytes in use but holds %zu / %zu\n",
               static_cast<void*>(h), h->blocks_in_use, h->bytes_in_use, blocks, bytes);
    ok = false;
  }
  refresh_all_class_pages(h);
  if (h->maximum != 0 && committed_bytes(h) > h->maximum) {
    report_bug(BugClass::FreeListCorruption, "  HeapValidate: heap %p has %zu bytes committed, over its maximum %zu\n",
               static_cast<void*>(h), committed_bytes(h), h->maximum);
    ok = false;
  }
  return ok;
}

// Does the cache have a free slot? (for HeapCompact's largest free block)
bool has_free_slot(const KmemCache* cache) {
  bool found = false;
  kmem_cache_for_each_object(
      cache,
      [](void* context, void*, size_t, bool allocated) {
        if (allocated) return true;
        *static_cast<bool*>(context) = true;
        return false;  // one is enough
      },
      &found);
  return found;
}

// Membership check for the entry points here (reporting like the others).
Heap* live_heap(HANDLE handle, const char* op, bool report) {
  auto* h = static_cast<Heap*>(handle);
  bool live;
  {
    SpinlockGuard g(g_registry_lock);
    live = h != nullptr && is_live_heap_locked(h);
  }
  if (!live) {
    if (report) report_bug(BugClass::InvalidHandle, "  %s: handle %p is not a live heap\n", op, handle);
    SetLastError(ERROR_INVALID_HANDLE);
    return nullptr;
  }
  return h;
}


}  // namespace

/* --- Shared helpers --------------------------------------------------------- */

namespace detail {

size_t refresh_class_pages(Heap* h, size_t cls) {
  h->class_pages[cls] = h->caches[cls] ? kmem_cache_pages(h->caches[cls]) : 0;
  return h->class_pages[cls];
}

void refresh_all_class_pages(Heap* h) {
  for (size_t c = 0; c < kClassCount; ++c) refresh_class_pages(h, c);
}

}  // namespace detail

/* --- Public API ----------------------------------------------------------- */

BOOL HeapWalk(HANDLE hHeap, PROCESS_HEAP_ENTRY* lpEntry) {
  Heap* h = live_heap(hHeap, "HeapWalk", true);
  if (!h) return FALSE;
  if (!lpEntry) {
    report_bug(BugClass::BadArgument, "  HeapWalk: lpEntry is NULL (heap %p)\n", hHeap);
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
  }
  Serialized s(h, 0);
  Region r;
  if (!lpEntry->lpData) {
    if (!next_region(h, nullptr, &r)) {
      SetLastError(ERROR_NO_MORE_ITEMS);
      return FALSE;
    }
    fill_region(h, r, 0, lpEntry);
    return TRUE;
  }
  vm::RunInfo run;
  const vm::PageInfo* pi = nullptr;
  if (page_heap()->run_of(lpEntry->lpData, &run)) pi = page_heap()->lookup(run.start);
  if (!pi || !region_at(h, pi, static_cast<char*>(run.start), &r)) {
    SetLastError(ERROR_INVALID_PARAMETER);  // not an entry of this heap's walk
    return FALSE;
  }
  size_t index = lpEntry->iRegionIndex;
  bool after_region = (lpEntry->wFlags & PROCESS_HEAP_REGION) != 0;
  if (next_in_region(h, r, static_cast<char*>(lpEntry->lpData), after_region, lpEntry)) {
    lpEntry->iRegionIndex = clamp_byte(index);
    return TRUE;
  }
  Region next;
  if (!next_region(h, r.end(), &next)) {
    SetLastError(ERROR_NO_MORE_ITEMS);
    return FALSE;
  }
  fill_region(h, next, index + 1, lpEntry);
  return TRUE;
}

BOOL HeapValidate(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem) {
  Heap* h = live_heap(hHeap, "HeapValidate", true);
  if (!h) return FALSE;
  Serialized s(h, dwFlags);
  if (!lpMem) return validate_heap_locked(h) ? TRUE : FALSE;
  BlockRef r = locate_block(h, lpMem);
  if (r.state == BlockState::Corrupt) {
    char hex[80];
    format_hex_bytes(hex, sizeof hex, r.header, sizeof(BlockHeader));
    report_bug(BugClass::RedzoneOverwritten,
               "  HeapValidate: the header of block %p in heap %p (cache %s) was overwritten\n  header bytes: %s\n",
               lpMem, static_cast<void*>(h), h->cache_names[r.cls], hex);
  }
  return r.state == BlockState::Live ? TRUE : FALSE;
}

SIZE_T HeapCompact(HANDLE hHeap, DWORD dwFlags) {
  Heap* h = live_heap(hHeap, "HeapCompact", true);
  if (!h) return 0;
  Serialized s(h, dwFlags);
  size_t largest = 0;
  for (size_t c = 0; c < kClassCount; ++c) {
    if (!h->caches[c]) continue;
    kmem_cache_shrink(h->caches[c]);
    refresh_class_pages(h, c);
    if (class_capacity(c) > largest && has_free_slot(h->caches[c])) largest = class_capacity(c);
  }
  size_t run = 0;
  for (size_t i = 0; h->reserve && i < h->reserve_pages; ++i) {
    run = h->reserve_slots[i] ? 0 : run + 1;
    if ((run << kPageShift) > largest) largest = run << kPageShift;
  }
  if (largest == 0) SetLastError(ERROR_SUCCESS);  // as Windows: 0 with NO_ERROR means "no free block"
  return largest;
}

bool heap_stats(HANDLE heap, HeapStats* out) {
  Heap* h = live_heap(heap, "heap_stats", false);
  if (!h || !out) return false;
  Serialized s(h, 0);
  refresh_all_class_pages(h);
  out->handle = h;
  out->flags = h->flags;
  out->committed_bytes = committed_bytes(h);
  out->maximum_bytes = h->maximum;
  out->blocks_in_use = h->blocks_in_use;
  out->bytes_in_use = h->bytes_in_use;
  out->free_bytes = out->committed_bytes > h->bytes_in_use ? out->committed_bytes - h->bytes_in_use : 0;
  out->is_process_heap = h->is_process_heap;
  out->reserve_bytes = h->reserve_pages << kPageShift;
  out->large_run_bytes = h->large_run_pages << kPageShift;
  out->slab_bytes = slab_pages(h) << kPageShift;
  out->large_blocks = h->large_count;
  out->bookkeeping_bytes = h->meta_pages << kPageShift;
  return true;
}

void print_heaps() {
  constexpr DWORD kMax = 64;
  HANDLE handles[kMax];
  DWORD n = GetProcessHeaps(kMax, handles);
  if (n > kMax) {
    // Too many for the buffer: GetProcessHeaps stored none. Take the first kMax.
    DWORD i = 0;
    SpinlockGuard g(g_registry_lock);
    for (Heap* h : g_registry) {
      if (i == kMax) break;
      handles[i++] = h;
    }
  }
  DWORD shown = n < kMax ? n : kMax;
  print("%-18s %-8s %12s %12s %8s %12s %12s\n", "heap", "flags", "committed", "maximum", "blocks", "in-use",
        "free");
  for (DWORD i = 0; i < shown; ++i) {
    HeapStats st{};
    if (!heap_stats(handles[i], &st)) continue;
    char maximum[24];
    if (st.maximum_bytes)
      format(maximum, sizeof maximum, "%zu", static_cast<size_t>(st.maximum_bytes));
    else
      format(maximum, sizeof maximum, "growable");
    print("%-18p %08x %12zu %12s %8zu %12zu %12zu%s\n", st.handle, static_cast<unsigned>(st.flags),
          static_cast<size_t>(st.committed_bytes), maximum, static_cast<size_t>(st.blocks_in_use),
          static_cast<size_t>(st.bytes_in_use), static_cast<size_t>(st.free_bytes),
          st.is_process_heap ? "  (process heap)" : "");
  }
  print("%u heap%s\n", static_cast<unsigned>(n), n == 1 ? "" : "s");
}

}  // namespace kheap::win32
