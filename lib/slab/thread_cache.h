// lib/slab/thread_cache.h — private to lib/slab: the per-thread (in the kernel:
// per-CPU) caches of free kmalloc objects in front of the size classes.
//
// Concepts (Bonwick's magazines, as in Solaris' kmem and glibc's tcache)
//   magazine     a stack of up to `capacity` free objects of one size class
//                (an array of pointers, so nothing of it lives inside a free
//                object but the mark below). Two per class per thread:
//                kmalloc pops from the class's `alloc` magazine, and kfree
//                pushes onto that same one while it has room — so a kmalloc
//                after a kfree of its class gets the object just freed, still
//                in the cache (a LIFO malloc/free loop reuses one object) —
//                and onto the class's `freed` magazine once it is full.
//                Neither takes a lock. An empty alloc magazine takes the
//                freed one's objects if it has any, else is filled full from
//                the thread's private slab under the slab lock; only when
//                both are full is half of the freed one drained to the slabs
//                under the lock. So the slabs see a class only when both of
//                its magazines are full or both empty: for a random mix of
//                kmallocs and kfrees about once per capacity^2 calls of the
//                class. (Until December 2026 kfree always pushed onto the
//                freed magazine, so that a kmalloc right after a kfree would
//                not wait for the kfree's count update; on the AMD EPYC VM
//                of that month pushing onto the alloc magazine made a LIFO
//                malloc(64)+free pair 4.2 -> 3.4 ns, and churn no slower.)
//   thread cache two magazines per class, per thread. Created on a thread's
//                first kmalloc that misses, released (magazines drained) when
//                the thread exits (kheap_platform_at_thread_exit). The kernel
//                has one, for its one CPU. Every thread cache is on the list
//                g_thread_caches of thread_cache.cpp (under the slab lock).
//   free mark    every free kmalloc object — in a magazine or free in its
//                slab — holds g_hot.free_mark in its first word; kmalloc
//                clears it, kfree and new slabs set it. Two uses:
//                 - double free: kfree's inline path sends every object that
//                   carries the mark to the exact check under the lock: the
//                   slab's free bit (free in the slab), then a search of the
//                   magazines (free in a magazine; the slabs count those as
//                   allocated). A caller's data equal to the mark (a random
//                   per-boot value) only costs that check.
//                 - use-after-free writes: kmalloc hands out an object only
//                   if its mark is intact. A write into the first word of a
//                   freed object — where other allocators keep their free-list
//                   pointer, so where free-list hijacks write — is reported
//                   (use-after-free write, with the bytes found) when the
//                   object would be reused, and the object is taken out of
//                   use (never handed out again).
//                A double free goes unnoticed only if a use-after-free write
//                changed the mark in between and the object was not reused
//                since (glibc's tcache key has the same gap); writes elsewhere
//                in a freed object are debug mode's (poison) to find.
//
// Objects of one thread freed by another simply go into the freeing thread's
// magazine (any thread may allocate or free any object); thread caches hold
// only kmalloc objects (the kmem_cache_* API and private caches go to the
// slabs under the lock).
//
// Refills come from the thread's own private slab of the class (one per
// class per thread cache, cache_internal.h), so a thread's objects share no
// cache line with another's; drains return objects to whichever slab they
// came from.
//
// Invariants (thread_cache_check): every magazine entry is a distinct,
// slab-allocated object of its class with the free mark; count <= capacity;
// each private slab is its class cache's, in state Private, and the thread
// caches' private slabs of a class are all of that cache's (private_count).
#pragma once

#include "core/list.h"
#include "platform/platform.h"
#include "slab/cache_internal.h"

namespace kheap::slab {

// Slots per magazine: a Magazine is 64 words (512 bytes on x86-64).
inline constexpr uintptr_t kMagazineMax = 64 - 3;
inline constexpr size_t kMagazineBytes = 16 * 1024;  // capacity * size is kept <= this (at least 8 slots)
inline constexpr uint32_t kThreadCacheMagic = 0x7CAC4E01;
// What a ThreadCache's empty_word holds: even, so never the (odd) free mark.
inline constexpr uintptr_t kEmptyWord = 2;

// count and capacity are words so that the inline paths index the stack
// with them directly (no zero extension on x86-64).
struct Magazine {
  uintptr_t count;
  uintptr_t capacity;  // 0 in the placeholder caches: every push misses
  // stack[1..count] are the objects, stack[count] the top. stack[0], the
  // bottom, points at the thread cache's empty_word, which never holds the
  // free mark: so kmalloc's inline pop needs no "is it empty" test — an
  // empty magazine's top looks like an object written after its free, and
  // the slow path tells the two apart by count.
  void* stack[1 + kMagazineMax];
  void** slots() { return stack + 1; }  // the objects, from the bottom
  void* const* slots() const { return stack + 1; }
};

static_assert(sizeof(Magazine) == 64 * sizeof(void*));

struct ThreadCache {
  constexpr ThreadCache() {
    for (Magazine& m : alloc) m.stack[0] = &empty_word;
    for (Magazine& m : freed) m.stack[0] = &empty_word;
  }
  // kmalloc pops; the extra one is always empty: kmalloc's inline path is
  // pointed at it while debug mode routes every kmalloc to the slow path.
  Magazine alloc[kNumClasses + 1]{};
  // alloc[i] and freed[i] must not be a multiple of 4 KiB apart: the CPU
  // would take kfree's loads of freed[i].count for reloads of kmalloc's
  // store to alloc[i].count (4K aliasing) and stall lifo pairs by ~2x.
  uint8_t spacing[2048]{};
  Magazine freed[kNumClasses]{};  // kfree pushes here when alloc[i] is full
  // The thread's private slab of each class, which its refills take from
  // (cache_internal.h); nullptr until the first refill. Under the slab lock.
  SlabPage* slab[kNumClasses]{};
  // kEmptyWord, except while an empty pop has xored the free mark into it
  // (kmalloc's inline path xors it back straight away; the placeholders'
  // word may see several threads at once, but it only ever holds kEmptyWord
  // or kEmptyWord ^ mark, and neither xored with the mark gives 0).
  uintptr_t empty_word = kEmptyWord;
  uint32_t magic = 0;
  // Never reused (unlike the cache's address): what private slabs record as
  // their home (cache_internal.h). 0 in the placeholders.
  uintptr_t serial = 0;
  ListNode link{};  // g_thread_caches (thread_cache.cpp)
};

using ThreadCacheList = List<ThreadCache, &ThreadCache::link>;

// The calling thread's cache: the placeholder g_no_thread_cache until its
// first miss, g_exited_thread_cache after its exit callback ran (later calls
// of that thread then go straight to the slabs).
extern KHEAP_PER_THREAD constinit ThreadCache* t_thread_cache;
extern ThreadCache g_no_thread_cache;
extern ThreadCache g_exited_thread_cache;

inline uintptr_t magazine_capacity(size_t size) {
  size_t n = kMagazineBytes / size;
  return n > kMagazineMax ? kMagazineMax : n < 8 ? 8 : n;
}

// Offset of the alloc magazine of class `cls` (kNumClasses: the always-empty
// extra one) in a ThreadCache: what g_hot.fast_magazine holds, and the tag
// of the class's slab runs, which kfree's inline path reads.
constexpr uint16_t alloc_magazine_offset(size_t cls) {
  return static_cast<uint16_t>(offsetof(ThreadCache, alloc) + cls * sizeof(Magazine));
}
static_assert(offsetof(ThreadCache, alloc) + kNumClasses * sizeof(Magazine) <= 0xFFFF);

inline uintptr_t& free_mark_word(void* object) { return static_cast<uintptr_t*>(object)[0]; }

// The slow sides, under the slab lock (taken inside). Both return false only
// when nothing could be done (no memory; the thread has exited).
// Make the top of alloc magazine `cls` of the calling thread an object with
// an intact free mark: objects whose mark was overwritten are reported and
// dropped; an empty magazine takes the freed one's objects or is refilled
// from the slabs (creating the thread's cache first if needed). False if
// nothing is left (no memory, or the thread has no cache).
bool thread_cache_refill(size_t cls);
// Report a kmalloc object whose free mark was overwritten while it was free
// (found at `where`), and keep it out of use — or, with taken_out false (the
// exit check, which leaves slabs as they are), say that the next refill that
// reaches it will. Under the slab lock.
void report_free_mark_overwritten(void* object, const char* where, bool taken_out = true);
// Make room for one more object in the magazines of class `cls` of the
// calling thread's cache (creating the cache first if needed): if both are
// full, half of the freed one goes back to the slabs. False if the thread
// has no cache (free to the slab).
bool thread_cache_make_room(size_t cls);
// Is `object` (an allocated-looking kmalloc object carrying the free mark) in
// any thread's magazine? Which thread cache, or nullptr. Under the slab lock.
const ThreadCache* thread_cache_holding(const void* object);
// Is there a live thread cache with this serial (ThreadCache::serial; a
// slab's home may name one that exited)? Under the slab lock.
bool thread_cache_is_live(uintptr_t serial);
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
