// lib/slab/thread_cache.h — private to lib/slab: the per-thread (in the kernel:
// per-CPU) caches of free kmalloc objects in front of the size classes.
//
// Concepts (Bonwick's magazines, as in Solaris' kmem and glibc's tcache)
//   magazine     one per size class per thread: a stack of up to `capacity`
//                free objects of that class (an array of pointers, so nothing
//                of it lives inside a free object but the mark below).
//                kmalloc pops, kfree pushes; neither takes a lock. An empty
//                magazine is refilled, a full one drained, by half its
//                capacity at a time from/to the shared slabs, under the slab
//                lock (so the lock is taken about once per capacity/2 calls).
//   thread cache one magazine per class, per thread. Created on a thread's
//                first kmalloc that misses, released (magazines drained) when
//                the thread exits (kheap_platform_at_thread_exit). The kernel
//                has one, for its one CPU. Every thread cache is on
//                g_slab.thread_caches (under the slab lock).
//   free mark    every object in a magazine holds g_hot.free_mark in its
//                second word (object sizes are >= 2 words); kmalloc clears it.
//                The slabs count an object in a magazine as allocated, so the
//                double-free check of kfree is: the slab's free bit (free in
//                the slab) or the mark followed by a search of the magazines
//                (free in a magazine). The mark is a random per-process value:
//                a caller's data equal to it only costs that search.
//
// Objects of one thread freed by another simply go into the freeing thread's
// magazine (any thread may allocate or free any object); thread caches hold
// only kmalloc objects (the kmem_cache_* API and private caches go to the
// slabs under the lock).
//
// Invariants (thread_cache_check): every magazine entry is a distinct,
// slab-allocated object of its class with the free mark; count <= capacity.
#pragma once

#include "core/list.h"
#include "platform/platform.h"
#include "slab/cache_internal.h"

namespace kheap::slab {

inline constexpr uint32_t kMagazineMax = 64;         // slots per magazine
inline constexpr size_t kMagazineBytes = 16 * 1024;  // capacity * size is kept <= this (at least 8 slots)
inline constexpr uint32_t kThreadCacheMagic = 0x7CAC4E01;

struct Magazine {
  uint32_t count;
  uint32_t capacity;  // 0 in the placeholder caches: every push and pop misses
  void* slots[kMagazineMax];
};

struct ThreadCache {
  Magazine magazines[kNumClasses];
  uint32_t magic;
  ListNode link;  // g_slab.thread_caches
};

using ThreadCacheList = List<ThreadCache, &ThreadCache::link>;

// The calling thread's cache: the placeholder g_no_thread_cache until its
// first miss, g_exited_thread_cache after its exit callback ran (later calls
// of that thread then go straight to the slabs).
extern KHEAP_PER_THREAD ThreadCache* t_thread_cache;
extern ThreadCache g_no_thread_cache;
extern ThreadCache g_exited_thread_cache;

inline uint32_t magazine_capacity(size_t size) {
  size_t n = kMagazineBytes / size;
  return n > kMagazineMax ? kMagazineMax : n < 8 ? 8 : static_cast<uint32_t>(n);
}

inline uintptr_t& free_mark_word(void* object) { return static_cast<uintptr_t*>(object)[1]; }

// The slow sides, under the slab lock (taken inside). Both return false only
// when nothing could be done (no memory; the thread has exited).
// Refill magazine `cls` of the calling thread (creating its cache first if
// needed); afterwards it holds at least one object.
bool thread_cache_refill(size_t cls);
// Make room in magazine `cls` of the calling thread's cache (draining half
// of it to the slabs); false if the thread has no cache (free to the slab).
bool thread_cache_make_room(size_t cls);
// Is `object` (an allocated-looking kmalloc object carrying the free mark) in
// any thread's magazine? Which thread cache, or nullptr. Under the slab lock.
const ThreadCache* thread_cache_holding(const void* object);
// Drain every magazine of `tc` to the slabs. Under the slab lock.
void thread_cache_drain_all(ThreadCache* tc);
// Objects held by all magazines of class `cls` (for slabinfo's counts).
size_t thread_cache_objects(size_t cls);
bool thread_cache_check();
void thread_cache_reset();  // slab_init: forget every thread cache (their memory went with the page heap)
// Drain and free the calling thread's cache (slab_shrink_all); its next
// miss makes a new one.
void thread_cache_release_mine();
// In the child after fork(): the slab lock is free again and the caches of
// the threads that did not come along are drained and released.
void thread_cache_after_fork_child();

}  // namespace kheap::slab
