// lib/slab/debug_support.h — what the slab layer offers its debug mode
// (lib/debug/slab_debug.cpp): the non-debug allocation paths, "where is this
// address", and the normal checks with their normal reports, for blocks the
// debug layer lays out itself. The public entry points branch to the debug
// layer when it is on, so it cannot call them for its own memory.
// Implemented in debug_support.cpp; callers hold the slab lock.
#pragma once

#include "core/types.h"
#include "slab/cache_internal.h"

namespace kheap::slab {

// Debug mode on: kmalloc's and kfree's inline paths (fast_path.h) always
// miss, so every call reaches the slow paths, which hand it to the debug
// layer (no test of the debug flag on the inline paths). Off: back to normal.
void route_to_debug(bool on);

}  // namespace kheap::slab

namespace kheap::slab::debug {

// Where an address lies: inside which plain block (slab object slot or large
// kmalloc block), and how far in. Never reports; O(1) (a page-heap lookup).
struct Where {
  enum Kind : uint8_t { None, Slab, Large } kind;
  bool allocated;     // the block is allocated (slab: its free bit is clear)
  char* start;        // the block (slot) start
  size_t usable;      // slab: the slot size; large: the run's bytes from start
  size_t offset;      // p - start
  KmemCache* cache;   // Slab
  SlabPage* slab;     // Slab
  size_t index;       // Slab: object index in its slab
  void* run;          // Large: the page-heap run; Slab: the slab run
  size_t run_pages;
};
Where locate(const void* p);

// A plain kmalloc block of >= size bytes aligned to `align` (a power of two):
// a size-class object or a large run, exactly as kmalloc/kmalloc_aligned would
// give. *usable: the whole block. nullptr on failure (no report).
void* alloc_block(size_t size, size_t align, size_t* usable);
// An object of `cache` (any live cache, debug flag or not), no constructor.
void* alloc_object(KmemCache* cache);
// Give back a block found by locate() (allocated). No checks beyond asserts.
void free_block(const Where& w);

// The normal handling of a pointer that is not a debug object, with the normal
// reports: is it an allocated plain block (of `expected`, or of any non-owned
// cache / a large block when expected is nullptr)? `frees` picks the bug
// classes of a free (InvalidFree/DoubleFree) or of a query (BadArgument).
bool check_plain(const void* p, KmemCache* expected, const char* op, bool frees, Where* out);

// The size class cache of a kmalloc request of `size` bytes; nullptr above
// the largest class. And that class's index (kNumClasses for large).
KmemCache* kmalloc_class_cache(size_t size);
size_t kmalloc_class_index(size_t size);

// kmem_cache_create without the debug hook (a plain, non-owned cache).
KmemCache* create_cache(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor);

}  // namespace kheap::slab::debug
