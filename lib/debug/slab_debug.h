// lib/debug/slab_debug.h — the slab layer's debug mode (issue 9 §2): poison,
// redzones, alloc/free site tracking, a quarantine, `leaks` and `validate`,
// for the kmalloc family and kmem caches. Switched on by a spec string in the
// spirit of Linux's slub_debug (kernel command line; KHEAP_DEBUG on the host).
//
// It sits ABOVE the allocator: a debug block is an ordinary kmalloc block (or
// object of a cache created bigger for it) laid out as
//
//   | DebugHeader | left redzone | object (size bytes) | right redzone ... end of block |
//   ^ block                       ^ what the caller gets (block + prefix)
//
// so nothing inside lib/slab changes. The public entry points (kmalloc, kzalloc,
// kmalloc_aligned, krealloc, kfree, ksize; kmem_cache_create/alloc/zalloc/free/
// destroy) branch here with one predictable test when debugging is on:
// g_slab_debug_active for the kmalloc family, the cache flag SLAB_DEBUG_OBJECTS
// for a cache's objects. Off, that test is all it costs.
//
// Spec (slab_debug_configure):
//   ""  or "slub_debug"              everything on, every cache (kmalloc and named)
//   "slub_debug=OPTIONS[,CACHE...]"  (the "slub_debug=" prefix is optional)
//   "-" or "0" or "slub_debug=-"     off
// OPTIONS are letters (case-insensitive):
//   F  sanity checks: header check word, list links, double/invalid free of
//      debug objects (always on in debug mode; accepted for slub_debug compatibility)
//   Z  redzones: filled with 0xbb, verified on free, at quarantine exit, by validate
//   P  poison: freed objects filled with 0x6b, verified at quarantine exit and
//      before the block is reused; fresh kmalloc objects filled with 0x5a
//   U  user tracking: alloc and free call sites (return addresses)
//   Q  quarantine: freed objects wait in a FIFO (bounded by count and bytes)
//      before their memory is reused, so use-after-free writes are caught
// An empty OPTIONS (e.g. "slub_debug=,dentry") means all of them. CACHE names
// select caches: exact names, or a prefix ending in '*' ("kmalloc-*");
// "kmalloc-large" stands for kmalloc requests above the largest size class.
// A kmalloc request is debugged when the size class of the size ASKED FOR is
// selected (kmalloc-64 covers 33..64-byte requests, whatever the debug block's
// real size). Named caches are selected when they are created: configure
// before kmem_cache_create. Caches owned by other layers (Win32-style heaps,
// kmem_cache_create_owned) are never debugged.
//
// Sequence numbers count debug allocations from 1. Objects allocated before
// debug mode was switched on are plain blocks: kfree/krealloc/ksize accept
// them. Switching it off flushes the quarantine; the hooks stay armed while
// debug objects remain live, so those are still freed correctly.
//
// Locking: the slab layer's recursive lock (slab_lock()) serializes the debug
// layer's own state (live list, quarantine, counters) together with the
// non-debug paths it stands on, in lib/slab/debug_support.cpp (the one place to
// adjust when lib/slab's insides change). The drop-in malloc skips its inline
// thread-cache paths while debug mode is on.
#pragma once

#include "core/types.h"
#include "slab/slab.h"

namespace kheap {

// Cache flag (private; set only by slab_debug_cache_create): the cache's
// objects are debug blocks. Callers' SLAB_RED_ZONE / SLAB_POISON /
// SLAB_STORE_USER at kmem_cache_create select that cache for debugging too.
inline constexpr uint32_t SLAB_DEBUG_OBJECTS = 1u << 31;
inline constexpr uint32_t kSlabDebugCreateFlags = SLAB_POISON | SLAB_RED_ZONE | SLAB_STORE_USER;

// The checks (the letters of the spec).
enum : uint32_t {
  kSlabDebugSanity = 1u << 0,      // F
  kSlabDebugRedzone = 1u << 1,     // Z
  kSlabDebugPoison = 1u << 2,      // P
  kSlabDebugUser = 1u << 3,        // U
  kSlabDebugQuarantine = 1u << 4,  // Q
  kSlabDebugAll = 0x1f,
};

inline constexpr uint8_t kSlabDebugRedzoneByte = 0xbb;
inline constexpr uint8_t kSlabDebugFreeByte = 0x6b;
inline constexpr uint8_t kSlabDebugAllocByte = 0x5a;

// The hooks' flag: debug mode is on for some kmalloc class or cache, or debug
// objects are still live or quarantined.
extern bool g_slab_debug_active;

// Parse `spec` (see above) and apply it. nullptr means off. Returns false (and
// changes nothing) if the spec is malformed. Callable before slab_init.
bool slab_debug_configure(const char* spec);
// The current setting as a spec ("-" when off), e.g. "FZPUQ" or "FZ,kmalloc-64".
const char* slab_debug_spec();
uint32_t slab_debug_checks();                 // kSlabDebug* bits in force (0: off)
bool slab_debug_selects(const char* cache_name);  // would a cache of this name be debugged?
// Forget every debug object without touching memory (host tests, after a new
// slab_init on a fresh machine). The setting stays.
void slab_debug_reset();

// Quarantine bounds (defaults: 256 objects, 1 MiB of debug blocks). Shrinking
// releases the oldest at once.
void slab_debug_set_quarantine(size_t max_objects, size_t max_bytes);
void slab_debug_flush_quarantine();   // release (verify and free) every quarantined object

// Turn a return address into text for reports ("name+0x1c"). Returns false if
// unknown. The kernel installs one from its ELF symbol table.
using SlabDebugSymbolizer = bool (*)(const void* address, char* buf, size_t cap);
void slab_debug_set_symbolizer(SlabDebugSymbolizer fn);
// "0x00101234 <name+0x1c>" or just the address.
size_t slab_debug_format_site(char* buf, size_t cap, const void* site);

// What the debug layer knows about a live or freed debug object.
struct SlabDebugObject {
  void* object;            // what the caller got
  size_t size;             // bytes asked for
  const char* cache_name;  // "kmalloc-64", "kmalloc-large" or the named cache
  uint32_t seq;
  const void* alloc_site;
  const void* free_site;   // nullptr while live
  bool live;
  bool quarantined;
};
// Is `p` a debug object (live, quarantined, or freed but not reused)? No reports.
bool slab_debug_lookup(const void* p, SlabDebugObject* out);

// Visit the live debug objects in allocation order (seq ascending); fn returns
// false to stop. Returns the number visited.
using SlabDebugVisitor = bool (*)(void* context, const SlabDebugObject& object);
size_t slab_debug_for_each_live(SlabDebugVisitor fn, void* context);

struct SlabDebugStats {
  size_t live_objects;
  size_t live_bytes;          // asked for
  size_t quarantined_objects;
  size_t quarantined_bytes;   // whole debug blocks
  size_t max_quarantine_objects;
  size_t max_quarantine_bytes;
  uint32_t last_seq;
  size_t problems_found;      // reports made by the debug layer since the last reset
};
SlabDebugStats slab_debug_stats();

// Check every live and quarantined debug object: header, redzones, poison of
// quarantined objects. Reports each problem; returns how many were found.
size_t slab_debug_validate();
// Print the live debug objects with seq > since_seq (the `leaks` command):
// address, size, cache, seq, allocation site. Returns how many were listed.
size_t slab_debug_print_leaks(uint32_t since_seq);

// --- The hooks (called from the public entry points; site = their caller) ---
void* slab_debug_kmalloc(size_t size, const void* site);
void* slab_debug_kzalloc(size_t size, const void* site);
void* slab_debug_kmalloc_aligned(size_t size, size_t align, const void* site);
void* slab_debug_krealloc(void* p, size_t new_size, const void* site);
void slab_debug_kfree(const void* p, const void* site);
size_t slab_debug_ksize(const void* p);
KmemCache* slab_debug_cache_create(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor);
void* slab_debug_cache_alloc(KmemCache* cache, const void* site);
void* slab_debug_cache_zalloc(KmemCache* cache, const void* site);
void slab_debug_cache_free(KmemCache* cache, void* p, const void* site);
bool slab_debug_cache_destroy(KmemCache* cache);

}  // namespace kheap
