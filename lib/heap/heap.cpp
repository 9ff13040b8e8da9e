// lib/heap/heap.cpp — Win32-style heaps: the registry of live heaps, HeapCreate /
// HeapDestroy, and the block operations (HeapAlloc, HeapReAlloc, HeapFree,
// HeapSize), last error and the HEAP_GENERATE_EXCEPTIONS handler.
//
// Memory layout and invariants: heap/heap_internal.h. Walk, validate, compact
// and statistics: heap_walk.cpp.
//
// Every entry point first checks that the handle is in the registry (pointer
// comparison only: a garbage handle is never dereferenced), then takes the
// heap's lock unless HEAP_NO_SERIALIZE, then classifies the block pointer with
// locate_block(), which reads only page-heap metadata and slab metadata until
// it knows the pointer is a block start of this heap.
#include <new>

#include "core/assert.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "heap/heap_internal.h"
#include "platform/platform.h"

namespace kheap::win32 {

using namespace detail;

namespace detail {
Spinlock g_registry_lock;
List<Heap, &Heap::registry_link> g_registry;
}  // namespace detail

namespace {

/* --- Global state ------------------------------------------------------ */

Heap* g_process_heap = nullptr;
DWORD g_last_error = ERROR_SUCCESS;
uint32_t g_next_serial = 1;

void default_failure_handler(DWORD status, HANDLE heap, SIZE_T requested) {
  print("kheap: HEAP_GENERATE_EXCEPTIONS: %s (0x%08x) in heap %p, %zu bytes requested\n",
        status == STATUS_NO_MEMORY ? "STATUS_NO_MEMORY" : "STATUS_ACCESS_VIOLATION", static_cast<unsigned>(status),
        heap, static_cast<size_t>(requested));
  kheap_platform_panic(status == STATUS_NO_MEMORY ? "heap: STATUS_NO_MEMORY" : "heap: STATUS_ACCESS_VIOLATION");
}
HeapFailureHandler g_failure_handler = default_failure_handler;

uintptr_t default_thread_token() {
#if defined(__x86_64__) && defined(_WIN32)
  // Windows x64 keeps the thread's TEB at %gs; NT_TIB.Self (%gs:0x30) is its address, unique per live thread.
  uintptr_t tp;
  asm("mov %%gs:0x30, %0" : "=r"(tp));
  return tp;
#elif defined(__x86_64__)
  // The x86-64 TLS ABI keeps the thread pointer itself at %fs:0: unique per live thread.
  uintptr_t tp;
  asm("mov %%fs:0, %0" : "=r"(tp));
  return tp;
#else
  return 1;  // the kernel runs on one CPU
#endif
}
ThreadTokenSource g_thread_token = default_thread_token;

uintptr_t thread_token() {
  uintptr_t t = g_thread_token();
  return t ? t : 1;  // 0 means "no owner"
}

/* --- Failure helpers ---------------------------------------------------- */

void raise_if(DWORD flags, DWORD status, HANDLE heap, SIZE_T requested) {
  if (flags & HEAP_GENERATE_EXCEPTIONS) g_failure_handler(status, heap, requested);
}

// The registry check every entry point starts with. Reports and sets
// ERROR_INVALID_HANDLE when `handle` is not a live heap.
Heap* acquire(HANDLE handle, const char* op) {
  auto* h = static_cast<Heap*>(handle);
  bool live;
  {
    SpinlockGuard g(g_registry_lock);
    live = h != nullptr && is_live_heap_locked(h);
  }
  if (!live) {
    report_bug(BugClass::InvalidHandle, "  %s: handle %p is not a live heap\n", op, handle);
    g_last_error = ERROR_INVALID_HANDLE;
    return nullptr;
  }
  return h;
}


// Report a pointer that is not a live block of `h` (what locate_block found).
void report_bad_block(const char* op, Heap* h, const void* p, const BlockRef& r) {
  switch (r.state) {
    case BlockState::Freed:
      report_bug(BugClass::DoubleFree, "  %s: %p in heap %p is not a live block: it was freed already\n", op, p,
                 static_cast<void*>(h));
      break;
    case BlockState::OtherHeap:
      report_bug(BugClass::WrongHeap, "  %s: block %p belongs to heap %p, not to heap %p\n", op, p,
                 static_cast<void*>(r.owner), static_cast<void*>(h));
      break;
    case BlockState::Corrupt: {
      char bytes[80];
      format_hex_bytes(bytes, sizeof bytes, r.header, sizeof(BlockHeader));
      report_bug(BugClass::RedzoneOverwritten,
                 "  %s: the header of block %p in heap %p was overwritten (size class %zu bytes)\n"
                 "  header bytes: %s\n",
                 op, p, static_cast<void*>(h), kClassSizes[r.cls], bytes);
      break;
    }
    default:
      report_bug(BugClass::InvalidFree,
                 "  %s: %p is not a block of heap %p (never allocated, interior or foreign pointer)\n", op, p,
                 static_cast<void*>(h));
      break;
  }
}

/* --- Page-heap calls (serialized here) ---------------------------------- */

void* ph_alloc_run(size_t pages, void* owner, uint16_t tag) {
  RecursiveGuard g(slab_lock());
  return page_heap()->alloc_run(pages, vm::RunOwner::Heap, owner, tag);
}
bool ph_free_run(void* start) {
  RecursiveGuard g(slab_lock());
  return page_heap()->free_run(start);
}
bool ph_resize(void* start, size_t pages) {
  RecursiveGuard g(slab_lock());
  return page_heap()->resize_run_in_place(start, pages);
}

/* --- Committed accounting ------------------------------------------------ */

size_t committed_pages(const Heap* h) { return h->reserve_pages + h->large_run_pages + slab_pages(h); }
size_t maximum_pages(const Heap* h) { return h->maximum >> kPageShift; }

// Give back the free pages at the end of the reserve (a fixed heap at its
// maximum can use that budget elsewhere). Returns the pages given back.
size_t trim_reserve_tail(Heap* h) {
  if (!h->reserve) return 0;
  size_t keep = h->reserve_pages;
  while (keep > 0 && h->reserve_slots[keep - 1] == nullptr) --keep;
  size_t trimmed = h->reserve_pages - keep;
  if (trimmed == 0) return 0;
  if (keep == 0) {
    ph_free_run(h->reserve);
    h->reserve = nullptr;
  } else if (!ph_resize(h->reserve, keep)) {
    return 0;
  }
  h->reserve_pages = keep;
  h->reserve_free_pages -= trimmed;
  return trimmed;
}

// May a fixed heap commit `extra` more pages? (Trims the reserve if that helps.)
bool budget_allows(Heap* h, size_t extra) {
  if (h->maximum == 0) return true;
  if (committed_pages(h) + extra <= maximum_pages(h)) return true;
  trim_reserve_tail(h);
  return committed_pages(h) + extra <= maximum_pages(h);
}

/* --- Small blocks ------------------------------------------------------- */

size_t class_for(size_t total) {
  // A slot must have room past the header (on x86-64 the 16-byte class has
  // none): a 0-byte block's address must still lie inside its slot.
  for (size_t c = 0; c < kClassCount; ++c)
    if (total <= kClassSizes[c] && kClassSizes[c] > sizeof(BlockHeader)) return c;
  return kClassCount;
}

KmemCache* cache_for(Heap* h, size_t cls) {
  if (!h->caches[cls]) {
    format(h->cache_names[cls], sizeof h->cache_names[cls], "heap%u-%zu", static_cast<unsigned>(h->serial),
           kClassSizes[cls]);
    h->caches[cls] = kmem_cache_create_owned(h->cache_names[cls], kClassSizes[cls], kBlockAlign, 0, nullptr, h);
    h->class_pages[cls] = 0;
  }
  return h->caches[cls];
}

void set_header(Heap* h, BlockHeader* hdr, size_t requested) {
  hdr->requested = requested;
  hdr->check = block_check(h, hdr + 1, requested);
}

// nullptr if the class cache cannot be had (the caller then tries a large block).
void* alloc_small(Heap* h, size_t cls, size_t n, bool* out_of_memory) {
  KmemCache* cache = cache_for(h, cls);
  if (!cache) return nullptr;
  auto* hdr = static_cast<BlockHeader*>(kmem_cache_alloc(cache));
  if (!hdr) {
    *out_of_memory = true;
    return nullptr;
  }
  if (h->maximum != 0) {
    refresh_class_pages(h, cls);
    if (committed_pages(h) > maximum_pages(h)) trim_reserve_tail(h);
    if (committed_pages(h) > maximum_pages(h)) {
      // The object needed a new slab the maximum has no room for: undo.
      kmem_cache_free(cache, hdr);
      kmem_cache_shrink(cache);
      refresh_class_pages(h, cls);
      *out_of_memory = true;
      return nullptr;
    }
  }
  set_header(h, hdr, n);
  ++h->blocks_in_use;
  h->bytes_in_use += n;
  return hdr + 1;
}

/* --- Large-block records (in the heap's own record pages) ---------------- */

// A page of LargeBlock records with its own free list; a page whose records
// are all free goes back at once, so a heap keeps no bookkeeping page it
// does not need (and does not pin the page heap's top).
struct RecordPage {
  RecordPage* next;
  RecordPage* prev;
  LargeBlock* free;  // chained through LargeBlock::start
  size_t used;
};
inline constexpr size_t kRecordsStart = (sizeof(RecordPage) + alignof(LargeBlock) - 1) & ~(alignof(LargeBlock) - 1);

LargeBlock* new_record(Heap* h) {
  auto* pg = static_cast<RecordPage*>(h->record_pages);
  while (pg && !pg->free) pg = pg->next;
  if (!pg) {
    auto* page = static_cast<char*>(ph_alloc_run(1, h, kTagRecords));
    if (!page) return nullptr;
    ++h->meta_pages;
    pg = reinterpret_cast<RecordPage*>(page);
    pg->prev = nullptr;
    pg->next = static_cast<RecordPage*>(h->record_pages);
    if (pg->next) pg->next->prev = pg;
    h->record_pages = pg;
    pg->free = nullptr;
    pg->used = 0;
    for (size_t off = kRecordsStart; off + sizeof(LargeBlock) <= kPageSize; off += sizeof(LargeBlock)) {
      auto* r = reinterpret_cast<LargeBlock*>(page + off);
      r->start = pg->free;
      pg->free = r;
    }
  }
  LargeBlock* r = pg->free;
  pg->free = static_cast<LargeBlock*>(r->start);
  ++pg->used;
  new (r) LargeBlock();
  return r;
}

void release_record(Heap* h, LargeBlock* r) {
  auto* pg = reinterpret_cast<RecordPage*>(reinterpret_cast<uintptr_t>(r) & ~(kPageSize - 1));
  r->start = pg->free;
  pg->free = r;
  if (--pg->used != 0) return;
  if (pg->prev)
    pg->prev->next = pg->next;
  else
    h->record_pages = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  ph_free_run(pg);
  --h->meta_pages;
}

/* --- Large blocks ------------------------------------------------------- */

// First fit of `pages` free pages in the reserve; returns the page index or SIZE_MAX.
size_t reserve_find(const Heap* h, size_t pages) {
  if (!h->reserve || h->reserve_free_pages < pages) return SIZE_MAX;
  size_t run = 0;
  for (size_t i = 0; i < h->reserve_pages; ++i) {
    if (h->reserve_slots[i]) {
      run = 0;
      continue;
    }
    if (++run == pages) return i + 1 - pages;
  }
  return SIZE_MAX;
}

void reserve_mark(Heap* h, size_t first, size_t pages, LargeBlock* rec) {
  for (size_t i = first; i < first + pages; ++i) h->reserve_slots[i] = rec;
  if (rec)
    h->reserve_free_pages -= pages;
  else
    h->reserve_free_pages += pages;
}

size_t reserve_index(const Heap* h, const void* p) {
  return (reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(h->reserve)) >> kPageShift;
}

void* alloc_large(Heap* h, size_t n, bool* out_of_memory) {
  *out_of_memory = true;
  size_t bytes;
  if (!checked_align_up(n, kPageSize, &bytes)) return nullptr;
  size_t pages = bytes >> kPageShift;
  if (pages == 0) pages = 1;
  if (pages > page_heap()->window_pages()) return nullptr;  // can never fit (and keeps page counts small)
  LargeBlock* rec = new_record(h);
  if (!rec) return nullptr;
  rec->pages = pages;
  rec->requested = n;
  size_t at = reserve_find(h, pages);
  if (at != SIZE_MAX) {
    rec->start = static_cast<char*>(h->reserve) + (at << kPageShift);
    rec->in_reserve = true;
    reserve_mark(h, at, pages, rec);
  } else {
    void* start = budget_allows(h, pages) ? ph_alloc_run(pages, h, kTagLarge) : nullptr;
    if (!start) {
      release_record(h, rec);
      return nullptr;
    }
    rec->start = start;
    rec->in_reserve = false;
    h->large_run_pages += pages;
  }
  h->large.push_back(rec);
  ++h->large_count;
  ++h->blocks_in_use;
  h->bytes_in_use += n;
  return rec->start;
}

/* --- Allocation, free, resize (heap lock held) ---------------------------- */

void* alloc_locked(Heap* h, size_t n) {
  size_t total;
  if (!checked_add(n, sizeof(BlockHeader), &total)) return nullptr;
  bool oom = false;
  if (total <= kSmallLimit) {
    void* p = alloc_small(h, class_for(total), n, &oom);
    if (p || oom) return p;
    // No cache for this class (the slab layer refused it): serve it as a large block.
  }
  return alloc_large(h, n, &oom);
}

void free_locked(Heap* h, const BlockRef& r) {
  KHEAP_ASSERT(r.state == BlockState::Live && r.owner == h);
  h->bytes_in_use -= r.requested;
  --h->blocks_in_use;
  if (!r.large) {
    kmem_cache_free(h->caches[r.cls], r.header);
    if (h->maximum != 0) refresh_class_pages(h, r.cls);
    return;
  }
  LargeBlock* rec = r.record;
  h->large.remove(rec);
  --h->large_count;
  if (rec->in_reserve) {
    reserve_mark(h, reserve_index(h, rec->start), rec->pages, nullptr);
  } else {
    ph_free_run(rec->start);
    h->large_run_pages -= rec->pages;
  }
  release_record(h, rec);
}

// Resize a live block where it stands; false (nothing changed) if it cannot.
bool resize_in_place(Heap* h, BlockRef& r, size_t n) {
  if (!r.large) {
    if (n > class_capacity(r.cls)) return false;
    set_header(h, r.header, n);
  } else {
    LargeBlock* rec = r.record;
    size_t bytes;
    if (!checked_align_up(n, kPageSize, &bytes)) return false;
    size_t pages = bytes >> kPageShift;
    if (pages == 0) pages = 1;
    if (pages > page_heap()->window_pages()) return false;
    if (pages != rec->pages) {
      if (rec->in_reserve) {
        size_t first = reserve_index(h, rec->start);
        if (pages < rec->pages) {
          reserve_mark(h, first + pages, rec->pages - pages, nullptr);
        } else {
          if (first + pages > h->reserve_pages) return false;
          for (size_t i = first + rec->pages; i < first + pages; ++i)
            if (h->reserve_slots[i]) return false;
          reserve_mark(h, first + rec->pages, pages - rec->pages, rec);
        }
      } else {
        if (pages > rec->pages && !budget_allows(h, pages - rec->pages)) return false;
        if (!ph_resize(rec->start, pages)) return false;
        h->large_run_pages = h->large_run_pages - rec->pages + pages;
      }
      rec->pages = pages;
    }
    rec->requested = n;
  }
  h->bytes_in_use = h->bytes_in_use - r.requested + n;
  r.requested = n;
  return true;
}

// Give back every page of the heap, the home run (holding *h) last.
void destroy_heap_memory(Heap* h) {
  for (size_t c = 0; c < kClassCount; ++c)
    if (h->caches[c]) kmem_cache_destroy_all(h->caches[c]);
  for (LargeBlock* rec : h->large)
    if (!rec->in_reserve) ph_free_run(rec->start);
  if (h->reserve) ph_free_run(h->reserve);
  auto* pg = static_cast<RecordPage*>(h->record_pages);
  while (pg) {
    RecordPage* next = pg->next;
    ph_free_run(pg);
    pg = next;
  }
  h->magic = 0;
  ph_free_run(h);
}

Heap* create_heap(DWORD options, size_t initial, size_t maximum, bool process_heap) {
  size_t init_bytes, max_bytes;
  if (!checked_align_up(initial, kPageSize, &init_bytes) || !checked_align_up(maximum, kPageSize, &max_bytes) ||
      (max_bytes != 0 && init_bytes > max_bytes)) {
    g_last_error = ERROR_INVALID_PARAMETER;
    return nullptr;
  }
  // The home run: the Heap object, then one reserve slot per reserve page.
  size_t pages = init_bytes >> kPageShift;
  size_t slots_at = (sizeof(Heap) + alignof(LargeBlock*) - 1) & ~(alignof(LargeBlock*) - 1);
  size_t slot_bytes, home_bytes, home_rounded;
  if (!checked_mul(pages, sizeof(LargeBlock*), &slot_bytes) || !checked_add(slots_at, slot_bytes, &home_bytes) ||
      !checked_align_up(home_bytes, kPageSize, &home_rounded) ||
      pages + (home_rounded >> kPageShift) > page_heap()->window_pages()) {
    g_last_error = ERROR_NOT_ENOUGH_MEMORY;
    return nullptr;
  }
  size_t home_pages = home_rounded >> kPageShift;
  void* home = ph_alloc_run(home_pages, nullptr, kTagHome);
  if (!home) {
    g_last_error = ERROR_NOT_ENOUGH_MEMORY;
    return nullptr;
  }
  memset(home, 0, home_bytes);  // page-heap pages are not zeroed
  auto* h = new (home) Heap();
  {
    RecursiveGuard g(slab_lock());
    page_heap()->set_owner(home, vm::RunOwner::Heap, h, kTagHome);
  }
  h->magic = kHeapMagic;
  h->serial = g_next_serial++;
  h->flags = (options & (HEAP_NO_SERIALIZE | HEAP_GENERATE_EXCEPTIONS)) | (max_bytes == 0 ? HEAP_GROWABLE : 0);
  h->maximum = max_bytes;
  h->is_process_heap = process_heap;
  h->meta_pages = home_pages;
  uintptr_t c = reinterpret_cast<uintptr_t>(h) ^ (static_cast<uintptr_t>(h->serial) * 0x9E3779B9u);
  h->cookie = block_check(nullptr, reinterpret_cast<void*>(c), h->serial) | 1;
  if (pages != 0) {
    h->reserve_slots = reinterpret_cast<LargeBlock**>(static_cast<char*>(home) + slots_at);
    h->reserve = ph_alloc_run(pages, h, kTagReserve);
    if (!h->reserve) {
      ph_free_run(home);
      g_last_error = ERROR_NOT_ENOUGH_MEMORY;
      return nullptr;
    }
    h->reserve_pages = h->reserve_free_pages = pages;
  }
  SpinlockGuard g(g_registry_lock);
  g_registry.push_back(h);
  return h;
}

}  // namespace

/* --- Helpers shared with heap_walk.cpp ------------------------------------ */

namespace detail {

vm::PageHeap* page_heap() { return slab_page_heap(); }

bool is_live_heap_locked(const Heap* h) {
  for (Heap* x : g_registry)
    if (x == h) return true;
  return false;
}

uintptr_t block_check(const Heap* h, const void* block, size_t requested) {
  // A cheap mix (splitmix-style finalizer) of cookie, address and size.
  uint64_t x = (h ? h->cookie : 0x5EEDu) ^ reinterpret_cast<uintptr_t>(block);
  x ^= static_cast<uint64_t>(requested) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return static_cast<uintptr_t>(x);
}

size_t class_capacity(size_t cls) { return kClassSizes[cls] - sizeof(BlockHeader); }

size_t slab_pages(const Heap* h) {
  size_t n = 0;
  for (size_t c = 0; c < kClassCount; ++c) n += h->class_pages[c];
  return n;
}

size_t committed_bytes(const Heap* h) { return committed_pages(h) << kPageShift; }

const char* block_state_text(BlockState s) {
  switch (s) {
    case BlockState::Live: return "live";
    case BlockState::Freed: return "freed";
    case BlockState::NotABlock: return "not a block";
    case BlockState::Corrupt: return "corrupt header";
    case BlockState::OtherHeap: return "another heap's";
  }
  return "?";
}

namespace {

BlockRef locate_large(Heap* h, const void* p, const vm::PageInfo* pi, BlockRef r) {
  r.large = true;
  // Only this layer creates RunOwner::Heap runs, always with a live heap as
  // owner_ptr, and HeapDestroy frees them before the heap: owner_ptr is safe.
  r.owner = static_cast<Heap*>(pi->owner_ptr);
  if (r.owner != h) {
    r.state = BlockState::OtherHeap;
    return r;
  }
  if (reinterpret_cast<uintptr_t>(p) & (kPageSize - 1)) return r;
  LargeBlock* rec = nullptr;
  if (pi->tag == kTagReserve) {
    size_t i = reserve_index(h, p);
    if (!h->reserve || i >= h->reserve_pages) return r;
    rec = h->reserve_slots[i];
    if (!rec) {
      r.state = BlockState::Freed;
      return r;
    }
    if (rec->start != p) return r;
  } else {
    if (pi->tag != kTagLarge) return r;  // the heap's bookkeeping pages
    for (LargeBlock* x : h->large) {
      if (x->start == p && !x->in_reserve) {
        rec = x;
        break;
      }
    }
    if (!rec) return r;
  }
  r.state = BlockState::Live;
  r.record = rec;
  r.requested = rec->requested;
  r.capacity = rec->pages << kPageShift;
  return r;
}

BlockRef locate_small(Heap* h, const void* p, BlockRef r) {
  auto* obj = const_cast<char*>(static_cast<const char*>(p)) - sizeof(BlockHeader);
  // cache_of answers only for the exact start of an allocated object.
  const KmemCache* cache = cache_of(obj);
  bool allocated = cache != nullptr;
  if (!cache) {
    BlockInfo bi = describe_address(obj);
    if (bi.kind != BlockInfo::SlabObject || bi.object_start != obj) return r;
    cache = bi.cache;  // a free slot: freed block, if the cache is a heap's
  }
  auto* owner = static_cast<Heap*>(kmem_cache_owner(cache));
  if (!owner) return r;  // an object of a cache no heap owns (kmalloc, ...)
  r.owner = owner;
  if (owner != h) {
    r.state = BlockState::OtherHeap;
    return r;
  }
  size_t cls = 0;
  while (cls < kClassCount && h->caches[cls] != cache) ++cls;
  if (cls == kClassCount) return r;
  r.cls = cls;
  r.header = reinterpret_cast<BlockHeader*>(obj);
  r.capacity = class_capacity(cls);
  if (!allocated) {
    r.state = BlockState::Freed;
    return r;
  }
  BlockHeader hdr = *r.header;
  if (hdr.requested > r.capacity || hdr.check != block_check(h, p, hdr.requested)) {
    r.state = BlockState::Corrupt;
  } else {
    r.state = BlockState::Live;
    r.requested = hdr.requested;
  }
  return r;
}

}  // namespace

BlockRef locate_block(Heap* h, const void* p) {
  BlockRef r{};
  r.state = BlockState::NotABlock;
  r.block = const_cast<void*>(p);
  if (!p || (reinterpret_cast<uintptr_t>(p) & (kBlockAlign - 1))) return r;
  const vm::PageInfo* pi = page_heap()->lookup(p);
  if (!pi) return r;
  switch (pi->kind) {
    case vm::PageKind::FreeHead:
    case vm::PageKind::Unused:
      r.state = BlockState::Freed;  // inside a free page range: most likely a freed large block
      return r;
    case vm::PageKind::RunHead:
    case vm::PageKind::RunTail:
      break;
    default:
      return r;
  }
  if (pi->owner == vm::RunOwner::Heap) return locate_large(h, p, pi, r);
  if (pi->owner == vm::RunOwner::Slab) return locate_small(h, p, r);
  return r;
}

}  // namespace detail

/* --- RecursiveLock ------------------------------------------------------ */

namespace detail {

void RecursiveLock::lock() {
  uintptr_t me = thread_token();
  if (__atomic_load_n(&owner_, __ATOMIC_RELAXED) == me) {
    ++depth_;
    return;
  }
  spin_.lock();
  __atomic_store_n(&owner_, me, __ATOMIC_RELAXED);
  depth_ = 1;
}

bool RecursiveLock::try_lock() {
  uintptr_t me = thread_token();
  if (__atomic_load_n(&owner_, __ATOMIC_RELAXED) == me) {
    ++depth_;
    return true;
  }
  if (!spin_.try_lock()) return false;
  __atomic_store_n(&owner_, me, __ATOMIC_RELAXED);
  depth_ = 1;
  return true;
}

bool RecursiveLock::unlock() {
  if (!held_by_caller()) return false;
  if (--depth_ == 0) {
    __atomic_store_n(&owner_, uintptr_t{0}, __ATOMIC_RELAXED);
    spin_.unlock();
  }
  return true;
}

Serialized::Serialized(Heap* h, DWORD flags) : h_(h), on_(!((flags | h->flags) & HEAP_NO_SERIALIZE)) {
  if (on_) h_->lock.lock();
}
Serialized::~Serialized() {
  if (on_) h_->lock.unlock();
}

bool RecursiveLock::held_by_caller() const {
  return depth_ != 0 && __atomic_load_n(&owner_, __ATOMIC_RELAXED) == thread_token();
}

}  // namespace detail

/* --- Public API ----------------------------------------------------------- */

bool heap_init() {
  {
    SpinlockGuard g(g_registry_lock);
    g_registry.reset();  // heaps of an earlier machine (host tests) are gone with it
  }
  g_process_heap = nullptr;
  g_last_error = ERROR_SUCCESS;
  g_failure_handler = default_failure_handler;
  if (!page_heap()) return false;
  g_process_heap = create_heap(0, 0, 0, true);
  return g_process_heap != nullptr;
}

HANDLE GetProcessHeap() { return g_process_heap; }

DWORD GetProcessHeaps(DWORD count, PHANDLE heaps) {
  SpinlockGuard g(g_registry_lock);
  DWORD n = static_cast<DWORD>(g_registry.size());
  if (n <= count && heaps) {
    DWORD i = 0;
    for (Heap* h : g_registry) heaps[i++] = h;
  }
  return n;
}

HANDLE HeapCreate(DWORD flOptions, SIZE_T dwInitialSize, SIZE_T dwMaximumSize) {
  return create_heap(flOptions, dwInitialSize, dwMaximumSize, false);
}

BOOL HeapDestroy(HANDLE hHeap) {
  auto* h = static_cast<Heap*>(hHeap);
  bool live, process;
  {
    SpinlockGuard g(g_registry_lock);
    live = h != nullptr && is_live_heap_locked(h);
    process = live && h->is_process_heap;
    if (live && !process) g_registry.remove(h);
  }
  if (!live) {
    report_bug(BugClass::InvalidHandle, "  HeapDestroy: handle %p is not a live heap\n", hHeap);
    g_last_error = ERROR_INVALID_HANDLE;
    return FALSE;
  }
  if (process) {
    report_bug(BugClass::BadArgument, "  HeapDestroy: %p is the process heap, which cannot be destroyed\n", hHeap);
    g_last_error = ERROR_INVALID_PARAMETER;
    return FALSE;
  }
  h->lock.lock();  // lets a call in progress on another thread finish
  destroy_heap_memory(h);
  return TRUE;
}

LPVOID HeapAlloc(HANDLE hHeap, DWORD dwFlags, SIZE_T dwBytes) {
  Heap* h = acquire(hHeap, "HeapAlloc");
  if (!h) {
    raise_if(dwFlags, STATUS_ACCESS_VIOLATION, hHeap, dwBytes);
    return nullptr;
  }
  DWORD flags = dwFlags | h->flags;
  void* p;
  {
    Serialized s(h, flags);
    p = alloc_locked(h, dwBytes);
  }
  if (!p) {
    g_last_error = ERROR_NOT_ENOUGH_MEMORY;
    raise_if(flags, STATUS_NO_MEMORY, hHeap, dwBytes);
    return nullptr;
  }
  if (flags & HEAP_ZERO_MEMORY) memset(p, 0, dwBytes);
  return p;
}

LPVOID HeapReAlloc(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem, SIZE_T dwBytes) {
  Heap* h = acquire(hHeap, "HeapReAlloc");
  if (!h) {
    raise_if(dwFlags, STATUS_ACCESS_VIOLATION, hHeap, dwBytes);
    return nullptr;
  }
  DWORD flags = dwFlags | h->flags;
  if (!lpMem) {
    report_bug(BugClass::BadArgument, "  HeapReAlloc: lpMem is NULL (heap %p)\n", hHeap);
    g_last_error = ERROR_INVALID_PARAMETER;
    raise_if(flags, STATUS_ACCESS_VIOLATION, hHeap, dwBytes);
    return nullptr;
  }
  DWORD status = STATUS_NO_MEMORY;
  void* result = nullptr;
  {
    Serialized s(h, flags);
    BlockRef r = locate_block(h, lpMem);
    if (r.state != BlockState::Live) {
      report_bad_block("HeapReAlloc", h, lpMem, r);
      g_last_error = ERROR_INVALID_PARAMETER;
      status = STATUS_ACCESS_VIOLATION;
    } else {
      size_t old = r.requested;
      size_t total;
      if (!checked_add(dwBytes, sizeof(BlockHeader), &total)) {
        // fails below with ERROR_NOT_ENOUGH_MEMORY
      } else if (resize_in_place(h, r, dwBytes)) {
        result = lpMem;
        if ((flags & HEAP_ZERO_MEMORY) && dwBytes > old) memset(static_cast<char*>(lpMem) + old, 0, dwBytes - old);
      } else if (!(flags & HEAP_REALLOC_IN_PLACE_ONLY)) {
        result = alloc_locked(h, dwBytes);
        if (result) {
          memcpy(result, lpMem, old < dwBytes ? old : dwBytes);
          if ((flags & HEAP_ZERO_MEMORY) && dwBytes > old) memset(static_cast<char*>(result) + old, 0, dwBytes - old);
          free_locked(h, r);
        }
      }
      if (!result) g_last_error = ERROR_NOT_ENOUGH_MEMORY;
    }
  }
  if (!result) raise_if(flags, status, hHeap, dwBytes);
  return result;
}

BOOL HeapFree(HANDLE hHeap, DWORD dwFlags, LPVOID lpMem) {
  Heap* h = acquire(hHeap, "HeapFree");
  if (!h) return FALSE;
  if (!lpMem) return TRUE;  // documented: freeing NULL succeeds
  Serialized s(h, dwFlags);
  BlockRef r = locate_block(h, lpMem);
  if (r.state != BlockState::Live) {
    report_bad_block("HeapFree", h, lpMem, r);
    g_last_error = ERROR_INVALID_PARAMETER;
    return FALSE;
  }
  free_locked(h, r);
  return TRUE;
}

SIZE_T HeapSize(HANDLE hHeap, DWORD dwFlags, LPCVOID lpMem) {
  Heap* h = acquire(hHeap, "HeapSize");
  if (!h) return static_cast<SIZE_T>(-1);
  if (!lpMem) {
    report_bug(BugClass::BadArgument, "  HeapSize: lpMem is NULL (heap %p)\n", hHeap);
    g_last_error = ERROR_INVALID_PARAMETER;
    return static_cast<SIZE_T>(-1);
  }
  Serialized s(h, dwFlags);
  BlockRef r = locate_block(h, lpMem);
  if (r.state != BlockState::Live) {
    report_bad_block("HeapSize", h, lpMem, r);
    g_last_error = ERROR_INVALID_PARAMETER;
    return static_cast<SIZE_T>(-1);
  }
  return r.requested;
}

BOOL HeapLock(HANDLE hHeap) {
  Heap* h = acquire(hHeap, "HeapLock");
  if (!h) return FALSE;
  h->lock.lock();
  return TRUE;
}

BOOL HeapUnlock(HANDLE hHeap) {
  Heap* h = acquire(hHeap, "HeapUnlock");
  if (!h) return FALSE;
  if (!h->lock.unlock()) {
    report_bug(BugClass::BadArgument, "  HeapUnlock: heap %p is not locked by this thread\n", hHeap);
    g_last_error = ERROR_NOT_OWNER;
    return FALSE;
  }
  return TRUE;
}

const char* heap_error_text(DWORD error) {
  switch (error) {
    case ERROR_SUCCESS: return "The operation completed successfully.";
    case ERROR_INVALID_HANDLE: return "The handle is invalid.";
    case ERROR_NOT_ENOUGH_MEMORY: return "Not enough memory resources are available to process this command.";
    case ERROR_INVALID_PARAMETER: return "The parameter is incorrect.";
    case ERROR_NO_MORE_ITEMS: return "No more data is available.";
    case ERROR_NOT_OWNER: return "Attempt to release mutex not owned by caller.";
  }
  return "Unknown error.";
}

DWORD GetLastError() { return g_last_error; }
void SetLastError(DWORD error) { g_last_error = error; }

HeapFailureHandler set_heap_failure_handler(HeapFailureHandler handler) {
  HeapFailureHandler old = g_failure_handler;
  g_failure_handler = handler ? handler : default_failure_handler;
  return old;
}

ThreadTokenSource set_heap_thread_token_source(ThreadTokenSource source) {
  ThreadTokenSource old = g_thread_token;
  g_thread_token = source ? source : default_thread_token;
  return old;
}

}  // namespace kheap::win32
