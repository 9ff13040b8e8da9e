// lib/slab/fast_path.h — kmalloc's and kfree's fast paths, the whole of them,
// inline: a pop from / a push onto the calling thread's magazines
// (thread_cache.h). kmalloc.cpp builds kmalloc/kfree on them; the host's
// drop-in malloc (lib/host/malloc_shim.cpp) inlines them into malloc/free.
// Both return "no" (nullptr / false) for everything they do not handle, and
// the caller then takes the full, checked path — so they need no
// initialisation check: before slab_init the thread cache is a placeholder
// whose magazines are empty and full, and the page heap range is empty.
#pragma once

#include "slab/cache_internal.h"
#include "slab/thread_cache.h"

namespace kheap::slab {

// A kmalloc from the calling thread's alloc magazine at byte offset
// `magazine` in its ThreadCache (g_hot.fast_magazine), or nullptr if it is
// empty or its top object's free mark was overwritten (the slow path reports
// that). The object's free mark goes: one xor both clears an intact mark and
// tests it (word ^ mark == 0); a changed word is xored back for the report.
inline void* magazine_pop(uintptr_t magazine) {
  auto* m = reinterpret_cast<Magazine*>(reinterpret_cast<char*>(t_thread_cache) + magazine);
  uintptr_t n = m->count;
  if (__builtin_expect(n == 0, 0)) return nullptr;
  void* p = m->slots[n - 1];
  if (!p) __builtin_unreachable();  // (magazines hold objects: the caller's null test goes)
  uintptr_t& mark = free_mark_word(p);
#ifndef KHEAP_NO_FREE_CHECKS
  bool changed;  // (the compiler would load, xor, store and compare: 4 instructions for 1)
  asm("xor %[m], %[w]" : [w] "+m"(mark), "=@ccnz"(changed) : [m] "r"(g_hot.free_mark));
  if (__builtin_expect(changed, 0)) {  // written after its free
    mark ^= g_hot.free_mark;
    return nullptr;
  }
#else
  mark = 0;
#endif
  m->count = n - 1;
  return p;
}

// kmalloc(size) for size <= kSmallMax, or nullptr (take the slow path).
inline void* kmalloc_small_fast(size_t size) { return magazine_pop(g_hot.fast_magazine[size]); }

// The first thing the slow paths try for size <= kSmallMax (thread_cache.cpp):
// if the class's alloc magazine is empty and its freed one is not, the
// thread's own frees move over (no lock) and the pop is retried. nullptr
// otherwise (the rest of the slow path then refills from the slabs, creates
// the thread's cache, or reports an overwritten free mark); always nullptr in
// debug mode. In a LIFO loop this is the only slow path taken, once per
// capacity/2 pairs, so it is kept short.
void* magazine_reload_pop(size_t size);

// kfree's inline path: an exact object start in a kmalloc slab, not
// carrying the free mark (neither in a magazine nor free in its slab:
// thread_cache.h), pushed onto the thread's freed magazine if it has room.
// False for anything else — a bad pointer, a large block, an object of
// another cache, a full magazine, a caller's word that happens to equal the
// mark, any pointer while debug mode or route_to_slow_paths has set the
// limits to 0: the caller then takes kfree's checked path, which looks at
// everything exactly, under the lock, and reports. It reads the page's
// PageInfo, two g_hot tables, the object and the magazine — not the slab
// header nor the cache (one dependent load fewer: ~5% on two threads'
// private churn).
inline bool kfree_fast(const void* ptr) {
  void* p = const_cast<void*>(ptr);
  // In the page heap (one unsigned compare: nullptr and everything below
  // data_start wrap around to large offsets)?
  uintptr_t offset = reinterpret_cast<uintptr_t>(p) - g_hot.data_start;
  if (__builtin_expect(offset >= g_hot.top_offset, 0)) return false;
  auto* e = reinterpret_cast<const vm::PageInfo*>(g_hot.data_info + (offset >> kPageShift) * sizeof(vm::PageInfo));
  // A kmalloc slab's page says (its index in the slab << 12) | (size class +
  // 1) (cache.cpp's slab_create); every other page 0, whose limit is 0.
  uintptr_t word = e->owner_word;
  uintptr_t cls1 = word & 0xFF;  // (< 256: one zero-extending byte move, not a move and a mask)
  static_assert(kNumClasses + 1 < 256);
  uintptr_t in_slab = (word ^ cls1) + (reinterpret_cast<uintptr_t>(p) & (kPageSize - 1));  // p - the slab's object 0
#ifndef KHEAP_NO_FREE_CHECKS
  // The fixed-rotate object index (cache_internal.h) below the limit, and no mark.
  if (__builtin_expect(rotr(in_slab * g_hot.kfree_inv[cls1], kFastRotate) >= g_hot.kfree_limit[cls1] ||
                           free_mark_word(p) == g_hot.free_mark, 0))
    return false;
#else
  (void)in_slab;
  if (__builtin_expect(g_hot.kfree_limit[cls1] == 0, 0)) return false;  // measurement-only build: no boundary or double-free check
#endif
  // (cls1 >= 1 here: the freed magazine of class cls1 - 1)
  auto* m = reinterpret_cast<Magazine*>(reinterpret_cast<char*>(t_thread_cache) + offsetof(ThreadCache, freed) +
                                        (cls1 - 1) * sizeof(Magazine));
  uintptr_t n = m->count;
  if (__builtin_expect(n >= m->capacity, 0)) return false;
  free_mark_word(p) = g_hot.free_mark;
  m->slots[n] = p;
  m->count = n + 1;
  return true;
}

}  // namespace kheap::slab
