// lib/slab/slab_debug_internal.h — private to the debug layer
// (slab_debug*.cpp): the parsed setting, and the non-debug allocator paths the
// debug layer stands on (slab_debug_raw.cpp).
#pragma once

#include "core/types.h"
#include "slab/cache_internal.h"
#include "slab/slab_debug.h"

namespace kheap::slab::debug {

/* --- The setting (slab_debug_config.cpp) -------------------------------------- */

inline constexpr size_t kMaxSelectedNames = 16;
inline constexpr size_t kNameBytes = 256;

struct DebugConfig {
  uint32_t checks;                 // kSlabDebug* bits; 0: off
  bool all_caches;                 // no cache list: every cache
  size_t name_count;
  const char* names[kMaxSelectedNames];  // into name_text; a trailing '*' is a prefix match
  char name_text[kNameBytes];
};

// Parse a spec (see slab_debug.h). False if malformed (out untouched).
bool parse_spec(const char* spec, DebugConfig* out);
bool config_selects(const DebugConfig& config, const char* cache_name);
// The spec that parse_spec would turn into `config` ("-" when off).
size_t format_spec(const DebugConfig& config, char* buf, size_t cap);

/* --- The non-debug paths (slab_debug_raw.cpp) --------------------------------- */

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
