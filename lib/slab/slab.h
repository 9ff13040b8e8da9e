// lib/slab/slab.h — object caches (Bonwick-style, SLUB-like fast path) and the
// kmalloc family, over the page heap. Public API of the slab layer.
//
// A cache hands out objects of one size. Its memory comes in slabs: runs of
// 1..N pages from the page heap, each starting with a SlabPage header followed
// by the objects. The page heap's PageInfo for every page of a slab points at
// the SlabPage, so kmem_cache_free/kfree find an object's slab and cache in
// O(1) with no per-object header. Each cache keeps partial, full and empty
// slabs; a few empty slabs are kept (hysteresis), the rest go back.
//
// Frees are always checked (normal builds): a pointer that is not the start of
// an allocated object of this allocator — interior, foreign, already free — is
// reported ("double free", "invalid free", naming cache and object index) and
// refused, leaving the free lists intact.
#pragma once

#include "core/spinlock.h"
#include "core/types.h"
#include "vm/page_heap.h"

namespace kheap {

struct KmemCache;  // opaque to callers; defined in slab/cache_internal.h

// Cache creation flags.
enum : uint32_t {
  SLAB_HWCACHE_ALIGN = 1u << 0,  // align objects to 64 bytes
  SLAB_POISON = 1u << 1,         // (debug) poison free objects
  SLAB_RED_ZONE = 1u << 2,       // (debug) redzones around objects
  SLAB_STORE_USER = 1u << 3,     // (debug) record alloc/free sites
};

using KmemCtor = void (*)(void* object);

// Bring the slab layer up over `page_heap` (also resets all global slab state,
// so host tests can start over on a fresh machine). Creates the kmalloc caches.
// Only while no other thread uses the slab layer (a thread that used kmalloc
// before must have exited).
bool slab_init(vm::PageHeap* page_heap);
vm::PageHeap* slab_page_heap();
// Forget the page heap and everything on it, without touching it (its memory
// is about to go: host tests tearing a machine down). kmalloc fails until the
// next slab_init. Same conditions as slab_init.
void slab_shutdown();
// Send every kmalloc and kfree through the slow paths (the inline pop always
// misses, the inline push never takes): the same magazines and checks, a few
// dozen instructions more per call, and one place to count calls — the
// host's malloc does this while KHEAP_STATS counts, so its inline paths carry
// no counter. Until the next slab_init or route_to_slow_paths(false).
void route_to_slow_paths(bool on);

// Threads. kmalloc/kfree take no lock while the calling thread's cache (a
// magazine of free objects per size class) can serve them; everything else in
// the slab layer, and every page-heap call of the layers above it, is
// serialized by this one recursive lock. fork() in a threaded process: call
// the three below as pthread_atfork handlers (the host's libkheap.so does).
RecursiveSpinlock& slab_lock();
void slab_fork_prepare();
void slab_fork_parent();
void slab_fork_child();

KmemCache* kmem_cache_create(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor);
void* kmem_cache_alloc(KmemCache* cache);
void kmem_cache_free(KmemCache* cache, void* object);
size_t kmem_cache_shrink(KmemCache* cache);     // returns the pages given back
bool kmem_cache_destroy(KmemCache* cache);      // refuses (and lists live objects) if any remain

void* kmalloc(size_t size);
void* kzalloc(size_t size);
void* kmalloc_aligned(size_t size, size_t align);  // align: power of two
void* krealloc(void* p, size_t new_size);          // krealloc(nullptr, n) == kmalloc(n); krealloc(p, 0) frees, returns nullptr
void kfree(const void* p);                         // kfree(nullptr) is a no-op
size_t ksize(const void* p);                       // usable size; 0 for nullptr or a bad pointer (reported)

// What an address is, for the `block` command and reports.
struct BlockInfo {
  enum Kind : uint8_t { NotInHeap, PageHeapMetadata, FreePages, SlabObject, SlabHeader, LargeBlock, OtherRun } kind;
  void* run_start;
  size_t run_pages;
  const KmemCache* cache;
  const char* cache_name;
  size_t object_index;
  size_t object_size;
  void* object_start;
  size_t offset;        // addr - object_start (or addr - run_start)
  bool allocated;
  bool in_thread_cache; // a free kmalloc object held by a thread cache's magazine (the slab counts it as in use)
};
BlockInfo describe_address(const void* addr);

// /proc/slabinfo 2.1 format, through print().
void print_slabinfo();
// The calling thread's (the CPU's) cache: per size class with cached
// objects, the alloc and freed magazines' counts and capacities.
void print_thread_cache();

// Iteration over caches, for reports and the gdb/monitor views.
struct CacheStats {
  const char* name;
  size_t object_size;     // size of one object slot
  size_t active_objects;
  size_t total_objects;
  size_t objects_per_slab;
  size_t pages_per_slab;
  size_t active_slabs;    // partial + full
  size_t total_slabs;     // + empty
};
size_t cache_count();
bool cache_stats(size_t index, CacheStats* out);
KmemCache* find_cache(const char* name);

// ---------------------------------------------------------------------------
// Additions (issue 5): private caches for other layers, queries, upkeep.
// ---------------------------------------------------------------------------

// A cache owned by another layer (a Win32-style heap). It behaves like any
// cache for kmem_cache_alloc/free, but kfree()/krealloc()/ksize() refuse its
// objects (WrongHeap): they belong to the owner. It is listed in slabinfo.
KmemCache* kmem_cache_create_owned(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor,
                                   void* owner);
void* kmem_cache_owner(const KmemCache* cache);           // nullptr for ordinary caches
// The cache of a live (allocated) slab object: `object` must be the exact
// start of an allocated object. nullptr otherwise (free, interior, foreign,
// large kmalloc block). Never reports.
const KmemCache* cache_of(const void* object);
// Free every slab of `cache`, live objects or not, and destroy the cache (for
// HeapDestroy). Returns the pages given back. kmalloc caches are refused (0).
size_t kmem_cache_destroy_all(KmemCache* cache);

void* kmem_cache_zalloc(KmemCache* cache);                // zeroes object_size bytes (constructor not run again)
const char* kmem_cache_name(const KmemCache* cache);
size_t kmem_cache_object_size(const KmemCache* cache);    // usable bytes per object (>= the size asked for)
size_t kmem_cache_pages(const KmemCache* cache);          // pages held by its slabs
size_t kmem_cache_live_objects(const KmemCache* cache);
// Visit every object slot of `cache` (for HeapWalk/HeapValidate); fn returns
// false to stop early. Returns false if stopped early.
using KmemObjectVisitor = bool (*)(void* context, void* object, size_t size, bool allocated);
bool kmem_cache_for_each_object(const KmemCache* cache, KmemObjectVisitor fn, void* context);
// Validity predicate: lists, counters, free lists (reports FreeListCorruption
// through core/report.h and returns false on the first problem found).
bool kmem_cache_check(const KmemCache* cache);
bool slab_check();                 // every cache
// Every thread cache's magazines: distinct objects of their class, each with
// its free mark intact (a use-after-free write into a cached object is
// reported as such). Cheap: at most 2 x 63 objects per class per thread.
bool thread_caches_check();
// Every free object in the kmalloc caches' slabs (not full ones) still
// carries its free mark: a write into one (a use-after-free, or an overflow
// from its neighbour) is reported; the object is left where it is, and the
// refill that next reaches it reports it again and takes it out of use.
// O(objects in non-full slabs): the drop-in malloc's exit check.
bool slab_free_marks_check();
size_t slab_shrink_all();          // kmem_cache_shrink on every cache (also releases the current slabs); pages

// kmalloc size rounding: the usable size kmalloc(size) would give (a size
// class, or whole pages above the largest class); 0 if size overflows.
size_t kmalloc_good_size(size_t size);
inline constexpr size_t kKmallocMaxClass = 8192;       // larger requests are page-heap runs
inline constexpr size_t kKmallocMinAlign = sizeof(void*) == 8 ? 16 : 8;

}  // namespace kheap
