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

// The functions built on the inline paths (kmalloc, kfree, and the drop-in
// malloc's malloc and free) start on a cache line: a ~100-byte kfree that
// happens to start 48 bytes into one spans three lines and four 32-byte
// decode windows, and in a LIFO malloc/free loop that alone cost 12% (kheap
// 6.1 ns per pair with its free at ...070, 5.4 ns aligned; the build without
// free checks 5.2 ns either way, 16 rounds).
#define KHEAP_FAST_ENTRY __attribute__((aligned(64)))

namespace kheap::slab {

// A magazine's count - 1 / + 1 as one read-modify-write instruction (the
// compilers emit two — the new value into a register, then a store — since
// they already hold the old one in a register).
#if defined(__x86_64__)
#define KHEAP_WORD_SUFFIX "q"
static_assert(sizeof(uintptr_t) == 8);
#else
#define KHEAP_WORD_SUFFIX "l"
static_assert(sizeof(uintptr_t) == 4);
#endif
inline void count_down(uintptr_t& n) { asm("dec" KHEAP_WORD_SUFFIX " %0" : "+m"(n)); }
inline void count_up(uintptr_t& n) { asm("inc" KHEAP_WORD_SUFFIX " %0" : "+m"(n)); }
#undef KHEAP_WORD_SUFFIX

// A kmalloc from the calling thread's alloc magazine at byte offset
// `magazine` in its ThreadCache (g_hot.fast_magazine), or nullptr if it is
// empty or its top object's free mark was overwritten (the slow path tells
// those apart and reports the second). The object's free mark goes: one xor
// both clears an intact mark and tests it (word ^ mark == 0); a changed
// word is xored back. An empty magazine's top is its bottom, the thread
// cache's empty_word, which never holds the mark (thread_cache.h).
inline void* magazine_pop(uintptr_t magazine) {
  auto* m = reinterpret_cast<Magazine*>(reinterpret_cast<char*>(t_thread_cache) + magazine);
  void* p = m->stack[m->count];
  if (!p) __builtin_unreachable();  // (magazines hold objects: the caller's null test goes)
  uintptr_t& mark = free_mark_word(p);
#ifndef KHEAP_NO_FREE_CHECKS
  bool changed;  // (the compiler would load, xor, store and compare: 4 instructions for 1;
                 // "a": p is loaded straight into the return register)
  asm("xor %[m], %[w]" : [w] "+m"(mark), "=@ccnz"(changed) : [m] "r"(g_hot.free_mark), "a"(p));
  if (__builtin_expect(changed, 0)) {  // empty, or written after its free
    asm("xor %[m], %[w]" : [w] "+m"(mark) : [m] "r"(g_hot.free_mark));
    return nullptr;
  }
#else
  if (__builtin_expect(m->count == 0, 0)) return nullptr;
  mark = 0;
#endif
  count_down(m->count);
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
// capacity pairs, so it is kept short.
void* magazine_reload_pop(size_t size);

// kfree's inline checks: true, and in *magazine the offset in a ThreadCache
// of the alloc magazine of p's class (kfree's first choice), if p is an exact object start in
// a kmalloc slab, not carrying the free mark (neither in a magazine nor free
// in its slab: thread_cache.h); false for anything else — a bad pointer, a large block,
// an object of another cache, a caller's word that happens to equal the
// mark, any pointer while debug mode or route_to_slow_paths has set
// top_offset to 0: the caller then takes kfree's checked path, which looks at
// everything exactly, under the lock, and reports. It reads the page's
// PageInfo and the object — not the slab header, the cache or any table
// indexed by class (each would be one more dependent load).
inline bool kfree_fast_check(void* p, uintptr_t* magazine) {
  // In the page heap (one unsigned compare: nullptr and everything below
  // data_start wrap around to large offsets)?
  uintptr_t offset = reinterpret_cast<uintptr_t>(p) - g_hot.data_start;
  if (__builtin_expect(offset >= g_hot.top_offset, 0)) return false;
  auto* e = reinterpret_cast<const vm::PageInfo*>(g_hot.data_info + (offset >> kPageShift) * sizeof(vm::PageInfo));
  // A kmalloc slab's pages carry its object check (cache.cpp's slab_create):
  // the object index of p is rotr32(p * word1 - word0), below word2 exactly
  // at an object's start; every other page has word2 == 0.
#ifndef KHEAP_NO_FREE_CHECKS
  uint32_t index = rotr32(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)) * e->owner_word1 - e->owner_word0, kFastRotate);
  if (__builtin_expect(index >= e->owner_word2 || free_mark_word(p) == g_hot.free_mark, 0)) return false;
#else
  if (__builtin_expect(e->owner_word2 == 0, 0)) return false;  // measurement-only build: no boundary or double-free check
#endif
  *magazine = e->tag;  // the run's tag: the offset of its class's alloc magazine in a ThreadCache
  return true;
}

inline Magazine* magazine_at(uintptr_t offset) {
  return reinterpret_cast<Magazine*>(reinterpret_cast<char*>(t_thread_cache) + offset);
}

// The freed magazine of the class whose alloc magazine is `alloc`.
inline Magazine* freed_of(Magazine* alloc) {
  return reinterpret_cast<Magazine*>(reinterpret_cast<char*>(alloc) + (offsetof(ThreadCache, freed) - offsetof(ThreadCache, alloc)));
}

// kfree's inline path: kfree_fast_check's checks, and a push onto the
// class's alloc magazine — so the next kmalloc of the class hands the same
// object out again, still in the cache — or, when that one is full, onto
// its freed magazine. False otherwise (kfree_slow: both full, or anything
// the checks did not pass).
inline bool kfree_fast(const void* ptr) {
  void* p = const_cast<void*>(ptr);
  uintptr_t offset;
  if (__builtin_expect(!kfree_fast_check(p, &offset), 0)) return false;
  Magazine* m = magazine_at(offset);
  uintptr_t n = m->count;
  if (__builtin_expect(n >= m->capacity, 0)) {
    m = freed_of(m);
    n = m->count;
    if (__builtin_expect(n >= m->capacity, 0)) return false;
  }
  free_mark_word(p) = g_hot.free_mark;
  m->stack[n + 1] = p;
  count_up(m->count);
  return true;
}

}  // namespace kheap::slab
