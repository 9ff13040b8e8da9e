// lib/slab/kmalloc.cpp — kmalloc and friends: size classes over the kmalloc
// caches, large blocks straight from the page heap.
//
// Size classes (kClassSizes in cache_internal.h): 16, 32, 48, 64, then four
// classes per power of two (80 96 112 128, 160 192 224 256, ... 7168 8192);
// on i386 also 8 and 24. Why: quarter-power-of-two spacing bounds the
// internal waste of a request to < 25% (about 10% on average for random
// sizes), which together with <= 12.5% slab waste keeps a churn's pages within
// ~1.15x of the live bytes; 1.5x spacing (…256 384 512…) wastes ~17% on
// average. Every class is a multiple of the minimum alignment (8 on i386, 16
// on x86-64 = alignof(max_align_t)), and each class's objects are aligned to
// the largest power of two dividing its size, capped at the page size: so
// power-of-two sizes are naturally aligned (up to 4096), 48 is 16-aligned,
// 320 64-aligned. Sizes <= 1024 map to their class through a byte table
// indexed by the size itself (one load); larger ones scan the few classes
// above 1024.
//
// Large blocks (> 8192 bytes, or alignment > 4096): a page-heap run owned by
// RunOwner::Large whose owner_ptr records the requested size (an integer, not
// a pointer) and whose tag is the number of pages skipped at the front to
// reach an alignment above the page size (the run's tail beyond the block is
// given back with resize_run_in_place). ksize is the run minus those pages.
//
// Fast paths: every size class goes through the calling thread's magazines
// (fast_path.h: a pop for kmalloc, a push for kfree, no lock); a miss, a
// large block or anything unusual goes to the checked slow paths here, under
// the slab lock. kfree validates every pointer: inside the page heap and a
// slab run (PageInfo lookup), an exact object start of a kmalloc cache (one
// multiply + rotate, see cache_internal.h), not free (the free mark, then
// exactly: the slab's free bit and the magazines) — see fast_path.h and
// kfree_slow().
//
// KHEAP_NO_FREE_CHECKS: a MEASUREMENT-ONLY build (build/host/slab_nochecks_bench,
// to put a number on what the always-on checks cost). It drops what a release
// allocator without hardening would skip: the object-boundary (exact start)
// and free-mark tests of the inline kfree, the free-mark check before reuse,
// and the ownership/slab-magic checks of kmem_cache_free. A bad free then
// corrupts the allocator silently. Never used by the kernel or the tests.
#include "core/bitops.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/report.h"
#include "platform/platform.h"
#include "slab/cache_internal.h"
#include "slab/fast_path.h"
#include "debug/slab_debug.h"
#include "slab/debug_support.h"
#include "slab/thread_cache.h"

namespace kheap::slab {

namespace {

// krealloc faults in the destination of a move of at least this many bytes
// at once (kheap_platform_populate).
constexpr size_t kPopulateMin = 4 * kPageSize;

}  // namespace

constexpr SlabHot::SlabHot()
    : top_offset(0), data_start(0), data_info(0), class_cache{}, free_mark(0), size_class{}, fast_magazine{},
      kmalloc_caches{} {
  for (size_t i = 0; i < kNumClasses; ++i) class_cache[i] = &kmalloc_caches[i];
  size_t c = 0;
  for (size_t s = 0; s <= kSmallMax; ++s) {
    while (kClassSizes[c] < s) ++c;
    size_class[s] = static_cast<uint8_t>(c);
    fast_magazine[s] = alloc_magazine_offset(c);
  }
}

constinit SlabHot g_hot;

namespace {

bool g_routed_for_debug;   // route_to_debug
bool g_routed_on_request;  // route_to_slow_paths

// Point the inline paths at the slow paths while debug mode or
// route_to_slow_paths wants them there: kmalloc's at the always-empty
// magazine, kfree's at an empty page-heap range (its copy of top_offset 0).
void apply_routing() {
  bool on = g_routed_for_debug || g_routed_on_request;
  for (size_t size = 0; size <= kSmallMax; ++size)
    g_hot.fast_magazine[size] = alloc_magazine_offset(on ? kNumClasses : g_hot.size_class[size]);
  vm::PageHeap* ph = g_slab.page_heap;
  if (ph) ph->publish_top_offset(on ? nullptr : &g_hot.top_offset);
  if (on || !ph) g_hot.top_offset = 0;
}

}  // namespace

void kmalloc_init_caches() {
  for (size_t i = 0; i < kNumClasses; ++i) {
    char name[kCacheNameMax];
    format(name, sizeof name, "kmalloc-%zu", kClassSizes[i]);
    bool ok = cache_init(&g_hot.kmalloc_caches[i], name, kClassSizes[i], kMinAlign, 0, nullptr, nullptr, true);
    KHEAP_ASSERT(ok && g_hot.kmalloc_caches[i].size == kClassSizes[i]);
    KmemCache& c = g_hot.kmalloc_caches[i];
    c.tc_class = static_cast<uint8_t>(i);
    // (kfree's inline path: every class meets the conditions of the
    // fixed-rotate index test, and its objects start at the slab run's start)
    KHEAP_ASSERT(c.kfree_inline && c.objects_offset == 0);
  }
  // A fresh slab layer: debug mode as configured, no routing on request.
  g_routed_for_debug = g_slab_debug_active;
  g_routed_on_request = false;
  apply_routing();
}

namespace {

size_t class_index(size_t size) {
  if (size <= kSmallMax) return g_hot.size_class[size];
  size_t i = g_hot.size_class[kSmallMax];
  while (kClassSizes[i] < size) ++i;
  return i;
}

// Every kmalloc size class: a pop from the calling thread's magazine
// (fast_path.h), else the slow path.
inline void* class_alloc(size_t cls);

__attribute__((noinline)) void* class_alloc_slow(size_t cls) {
  if (thread_cache_refill(cls)) return class_alloc(cls);
  // No thread cache (the thread has exited, or no memory for one): straight
  // from the slabs, or out of memory.
  RecursiveGuard guard(g_slab.lock);
  void* p = cache_alloc_locked(g_hot.class_cache[cls]);
  if (p) free_mark_word(p) = 0;
  return p;
}

inline void* class_alloc(size_t cls) {
  void* p = magazine_pop(alloc_magazine_offset(cls));
  return __builtin_expect(p != nullptr, 1) ? p : class_alloc_slow(cls);
}

}  // namespace

/* --- Large blocks -------------------------------------------------------------- */

// A run for `size` bytes (recorded as the size asked for) of at least
// `reserve` bytes (0: just `size`), aligned to `align`.
void* large_alloc(size_t size, size_t align, size_t reserve) {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready) return nullptr;
  size_t pages, total, slack = align > kPageSize ? align / kPageSize - 1 : 0;
  if (reserve < size) reserve = size;
  if (reserve > ~size_t{0} - (kPageSize - 1)) return nullptr;  // absurd: fail quietly
  pages = pages_for(reserve);
  if (slack > 0xFFFF || !checked_add(pages, slack, &total)) return nullptr;
  vm::PageHeap* ph = g_slab.page_heap;
  void* run = ph->alloc_run(total, vm::RunOwner::Large, reinterpret_cast<void*>(size), 0);
  if (!run || !slack) return run;
  uintptr_t start = align_up(reinterpret_cast<uintptr_t>(run), align);
  size_t head = (start - reinterpret_cast<uintptr_t>(run)) >> kPageShift;
  if (head + pages < total) {
    bool ok = ph->resize_run_in_place(run, head + pages);
    KHEAP_ASSERT(ok);
  }
  if (head) ph->set_owner(run, vm::RunOwner::Large, reinterpret_cast<void*>(size), static_cast<uint16_t>(head));
  return reinterpret_cast<void*>(start);
}

namespace {

// A validated kmalloc block.
struct Block {
  bool large;
  SlabPage* slab;
  void* run;          // large: the run
  size_t head_pages;  // large: pages before the block
  size_t run_pages;   // large
  size_t usable;
};

}  // namespace

bool large_run_or_report(const void* p, const char* op, bool frees, vm::RunInfo* ri) {
  BugClass bad = frees ? BugClass::InvalidFree : BugClass::BadArgument;
  vm::PageHeap* ph = g_slab.page_heap;
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uintptr_t window = ph ? reinterpret_cast<uintptr_t>(ph->page_info_array()) : 0;
  if (!ph || a < window || a >= ph->top()) {
    report_bug(bad, "%s(%p): outside the kernel heap (page heap %p..%p)\n", op, p,
               reinterpret_cast<void*>(ph ? ph->data_start() : 0), reinterpret_cast<void*>(ph ? ph->top() : 0));
    return false;
  }
  if (a < ph->data_start()) {
    report_bug(bad, "%s(%p): points into the page heap's own metadata\n", op, p);
    return false;
  }
  if (!ph->run_of(p, ri)) {
    if (frees && is_aligned(a, kPageSize))
      report_bug(BugClass::DoubleFree, "%s(%p): points at free pages: a large block freed already?\n", op, p);
    else
      report_bug(bad, "%s(%p): points into free pages of the page heap\n", op, p);
    return false;
  }
  if (ri->owner != vm::RunOwner::Large) {
    report_bug(ri->owner == vm::RunOwner::Heap ? BugClass::WrongHeap : bad,
               "%s(%p): inside a %zu-page run owned by %s (%p), not a kmalloc block\n", op, p, ri->pages,
               vm::run_owner_name(ri->owner), ri->owner_ptr);
    return false;
  }
  return true;
}

namespace {

// Why `p` (not in a slab run) is not a large block either; reports.
void report_not_block(const void* p, const char* op, bool frees) {
  vm::RunInfo ri;
  if (large_run_or_report(p, op, frees, &ri))
    report_bug(frees ? BugClass::InvalidFree : BugClass::BadArgument,
               "%s(%p): inside a %zu-page run owned by %s (%p), not a kmalloc block\n", op, p, ri.pages,
               vm::run_owner_name(ri.owner), ri.owner_ptr);
}

// Is `p` a live kmalloc block (slab object of a non-owned cache, or large
// block start)? Reports and returns false if not.
bool find_block(const void* p, const char* op, bool frees, Block* b) {
  if (!g_slab.ready) {
    report_bug(BugClass::BadArgument, "%s(%p): the slab allocator is not initialized\n", op, p);
    return false;
  }
  if (SlabPage* s = slab_page_of(p)) {
    if (!check_slab_object(nullptr, s, p, op, frees)) return false;
    *b = Block{false, s, nullptr, 0, 0, s->cache->object_size};
    return true;
  }
  vm::PageHeap* ph = g_slab.page_heap;
  vm::RunInfo ri;
  if (!ph->run_of(p, &ri) || ri.owner != vm::RunOwner::Large) {
    report_not_block(p, op, frees);
    return false;
  }
  size_t head = ph->lookup(ri.start)->tag;
  uintptr_t start = reinterpret_cast<uintptr_t>(ri.start) + (head << kPageShift);
  if (reinterpret_cast<uintptr_t>(p) != start) {
    report_bug(frees ? BugClass::InvalidFree : BugClass::BadArgument,
               "%s(%p): not the start of a large block: %zd bytes into the block at %p (%zu pages, %zu bytes asked)\n",
               op, p, static_cast<ptrdiff_t>(reinterpret_cast<uintptr_t>(p) - start), reinterpret_cast<void*>(start),
               ri.pages - head, reinterpret_cast<size_t>(ri.owner_ptr));
    return false;
  }
  *b = Block{true, nullptr, ri.start, head, ri.pages, (ri.pages - head) << kPageShift};
  return true;
}

void free_block(const Block& b, void* p) {
  if (b.large) {
    bool ok = g_slab.page_heap->free_run(b.run);
    KHEAP_ASSERT(ok);
  } else {
    cache_free_checked(nullptr, p, "kfree");
  }
}

// Every free the inline path does not take: the checked, reporting path,
// under the lock. A good kmalloc object still goes into the magazine.
__attribute__((noinline)) void kfree_slow(void* p, const void* site) {
  if (__builtin_expect(g_slab_debug_active, 0)) return slab_debug_kfree(p, site);
  if (!p) return;
  RecursiveGuard guard(g_slab.lock);
  if (SlabPage* s = slab_page_of(p)) {
    if (!check_slab_object(nullptr, s, p, "kfree", true)) return;  // reported
    KmemCache* c = s->cache;
    if (c->tc_class < kNumClasses && thread_cache_make_room(c->tc_class)) {
      Magazine& a = t_thread_cache->alloc[c->tc_class];
      Magazine& m = a.count < a.capacity ? a : t_thread_cache->freed[c->tc_class];
      free_mark_word(p) = g_hot.free_mark;
      m.slots()[m.count++] = p;
      return;
    }
    return slab_free_object(c, s, object_index(c, s, p));  // (sets the free mark of a kmalloc object)
  }
  Block b;
  if (find_block(p, "kfree", true, &b)) free_block(b, p);
}

// Every kmalloc the inline pop does not serve (the size class's magazine is
// empty, a size above kSmallMax, debug mode).
__attribute__((noinline)) void* kmalloc_slow(size_t size, const void* site) {
  if (size <= kSmallMax)
    if (void* p = magazine_reload_pop(size)) return p;
  if (__builtin_expect(g_slab_debug_active, 0)) return slab_debug_kmalloc(size, site);
  if (size <= kKmallocMaxClass) return class_alloc(class_index(size));
  return large_alloc(size, 0);
}

}  // namespace

void route_to_debug(bool on) {
  RecursiveGuard guard(g_slab.lock);
  g_routed_for_debug = on;
  apply_routing();
}

}  // namespace kheap::slab

void kheap::route_to_slow_paths(bool on) {
  using namespace slab;
  RecursiveGuard guard(g_slab.lock);
  g_routed_on_request = on;
  apply_routing();
}

namespace kheap {

using namespace slab;

/* --- The fast paths ------------------------------------------------------------- */

KHEAP_FAST_ENTRY void* kmalloc(size_t size) {
  if (__builtin_expect(size <= kSmallMax, 1)) {
    if (void* p = kmalloc_small_fast(size)) return p;
  }
  return kmalloc_slow(size, __builtin_return_address(0));
}

KHEAP_FAST_ENTRY void kfree(const void* p) {
  if (__builtin_expect(!kfree_fast(p), 0)) kfree_slow(const_cast<void*>(p), __builtin_return_address(0));
}

/* --- The rest of the family ------------------------------------------------------ */

void* kzalloc(size_t size) {
  if (__builtin_expect(g_slab_debug_active, 0)) return slab_debug_kzalloc(size, __builtin_return_address(0));
  void* p = kmalloc(size);
  if (p) memset(p, 0, size);
  return p;
}

void* kmalloc_aligned(size_t size, size_t align) {
  if (__builtin_expect(g_slab_debug_active, 0)) return slab_debug_kmalloc_aligned(size, align, __builtin_return_address(0));
  if (!is_power_of_two(align)) {
    report_bug(BugClass::BadArgument, "kmalloc_aligned(%zu, %zu): alignment is not a power of two\n", size, align);
    return nullptr;
  }
  if (align <= kMinAlign) return kmalloc(size);
  if (size <= kKmallocMaxClass && align <= kPageSize) {
    for (size_t i = class_index(size); i < kNumClasses; ++i)
      if (g_hot.class_cache[i]->align >= align) return class_alloc(i);
  }
  return large_alloc(size ? size : 1, align);
}

size_t ksize(const void* p) {
  if (__builtin_expect(g_slab_debug_active, 0)) return slab_debug_ksize(p);
  if (!p) return 0;
  RecursiveGuard guard(g_slab.lock);
  Block b;
  return find_block(p, "ksize", false, &b) ? b.usable : 0;
}

void* krealloc(void* p, size_t new_size) {
  if (__builtin_expect(g_slab_debug_active, 0)) return slab_debug_krealloc(p, new_size, __builtin_return_address(0));
  if (!p) return kmalloc(new_size);
  Block b;
  {
    RecursiveGuard guard(g_slab.lock);
    if (!find_block(p, "krealloc", true, &b)) return nullptr;
    if (new_size == 0) {
      if (b.large) free_block(b, p);
    } else if (!b.large && new_size <= b.usable) {
      return p;
    } else if (b.large && new_size > kKmallocMaxClass && new_size <= ~size_t{0} - (kPageSize - 1)) {
      size_t pages = pages_for(new_size), have = b.run_pages - b.head_pages;
      vm::PageHeap* ph = g_slab.page_heap;
      // Fits the run (a block that moved on growing has headroom, below):
      // keep it, unless that would leave more than half of the run unused.
      bool keep = pages <= have && pages * 2 >= have;
      if (keep || ph->resize_run_in_place(b.run, b.head_pages + pages)) {
        ph->set_owner(b.run, vm::RunOwner::Large, reinterpret_cast<void*>(new_size),
                      static_cast<uint16_t>(b.head_pages));
        return p;
      }
    }
  }
  if (new_size == 0) {
    if (!b.large) kfree(p);  // into the magazine
    return nullptr;
  }
  // Moving: the copy runs without the lock (p is the caller's until kfree).
  // A large block that has to move while growing gets a run twice the size
  // asked for (as std::vector doubles), so a block grown step by step moves
  // O(log n) times, not at every step (the size asked for is what the run
  // records; ksize, and so what a later move copies, includes the headroom).
  // Measured on the realloc workload (16 blocks growing by 25% to 1 MiB,
  // interleaved): 8.3 µs per realloc with half the size as headroom, 3.1 µs
  // with all of it, and a lower peak RSS (19.5 MiB against 26.9: fewer
  // intermediate runs).
  void* q = nullptr;
  if (new_size > kKmallocMaxClass && new_size > b.usable && new_size <= (~size_t{0} - kPageSize) / 2)
    q = large_alloc(new_size, 0, new_size * 2);
  if (!q) q = kmalloc(new_size);
  if (!q) return nullptr;  // p stays valid
  size_t copy = new_size < b.usable ? new_size : b.usable;  // (all of ksize is the caller's)
  // A large copy into pages that appear on first touch: fault them in with
  // one call, not one fault per page (on the host's VM the faults were 35%
  // of the realloc workload's time).
  if (copy >= kPopulateMin && is_aligned(reinterpret_cast<uintptr_t>(q), kPageSize))
    kheap_platform_populate(q, align_up(copy, kPageSize));
  memcpy(q, p, copy);
  kfree(p);
  return q;
}

size_t kmalloc_good_size(size_t size) {
  if (size <= kKmallocMaxClass) return kClassSizes[class_index(size)];
  if (size > ~size_t{0} - (kPageSize - 1)) return 0;
  return pages_for(size) << kPageShift;
}

}  // namespace kheap
