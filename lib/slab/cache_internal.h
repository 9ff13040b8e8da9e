// lib/slab/cache_internal.h — private to lib/slab: the cache and slab
// structures, the size-class table and the inline helpers the fast paths share.
//
// Concepts
//   slot      one object's place in a slab: `size` bytes, a multiple of the
//             object alignment; objects[i] = slab->objects + i * size.
//   slab      a page-heap run of `pages_per_slab` pages (RunOwner::Slab, every
//             page's owner_ptr = the SlabPage): objects_per_slab slots from the
//             start of the run, then an unused tail. The SlabPage header lives
//             off-slab, as an object of the "kmem_slab" cache (g_slab.slab_meta),
//             so the headers are dense. Only kmem_slab's own slabs carry their
//             header on-slab, at the start of the run (off_slab false).
//   free bits which objects are free is a bitmap in the SlabPage header
//             (free_bits, bit i = object i free), never anything inside a free
//             object: alloc and free touch only headers (dense, cache-resident),
//             not the objects themselves, and nothing a caller writes into a
//             freed object can corrupt the allocator. The double-free check is
//             one bit test, exact.
//   group     kWordBits consecutive objects: one word of free_bits.
//   cpu slab  (SLUB's "frozen" slab) the slab the cache allocates from. One of
//             its groups is the current group: its free bits live in the
//             cache (the slab's word is 0 meanwhile), split in two disjoint
//             words: cur_bits, which kmalloc takes the lowest bit of, and
//             cur_freed, which kfree sets bits in (so the next kmalloc does not
//             wait for the free's index arithmetic: no loop-carried dependency
//             between the two). When cur_bits runs out, cur_freed becomes
//             cur_bits; when both are empty the next non-zero word of the cpu
//             slab becomes the current group. cache->cur_base is the address
//             of the group's first object. Frees into the cpu slab's other
//             groups set bits in the slab's words. The cpu slab's inuse counts every slot as used (frozen);
//             it is on no list.
//   private slab (SLUB's per-CPU slab, for each thread) a kmalloc slab that
//             one thread's cache (thread_cache.h; in the kernel the CPU's)
//             refills its magazines from, and no other: so the objects one
//             thread allocates come from its own slabs and share no cache
//             line or page with another thread's (two threads churning
//             privately on shared slabs ran 1.8x slower than on their own).
//             One per class per thread cache, taken from the partial list
//             (else the empty list, else a new slab) when the thread's last
//             one has no free object left — a partial slab whose `home` is
//             this thread cache if one is among the first kHomeScan, for a
//             slab that was another thread's still holds that thread's
//             objects (without it two threads ran 1.6x slower, not 1.05x,
//             than on disjoint slabs) — and given back to the lists (full,
//             partial or empty by its free bits) then and when the thread
//             exits. Frozen like the cpu slab: inuse counts every slot,
//             its free bits are exact (frees by any thread set them, under
//             the lock), it sits on the cache's private_slabs list.
//   lists     every other slab is partial, full or empty, by inuse. Partial
//             and empty slabs are on the cache's lists; full slabs are on no
//             list (as in SLUB: a refill and a free into a full slab touch no
//             list neighbours) and are found through the page heap's PageInfo
//             entries when a whole-cache walk needs them. At most
//             kKeepEmptySlabs empty slabs are kept per cache (hysteresis),
//             further ones go back to the page heap at once.
//
// Object index and boundary check without a division: size = odd << shift;
// inv is odd's inverse modulo 2^W. For off = p - objects (mod 2^W),
// rotr(off * inv, shift) equals off / size when off is a multiple of size and
// is >= 2^W / size otherwise, so `rotr(off * inv, shift) < objects_per_slab`
// is the whole "p is the start of object i of this slab" test (and it yields i).
// kfree's inline path uses a fixed rotate and 32-bit words instead (no
// shift count to load; the same arithmetic on i386 and x86-64):
// rotr32(off * (inv << (13 - shift)), 13) — the same test for any p inside
// the slab run (0 <= off < 2^18, shift <= 13; proof in compute_inverse):
// exact object starts give i < objects_per_slab <= kMaxObjectsPerSlab,
// anything else a value >= 2^19. It needs neither the slab header nor the
// cache: a kmalloc slab's pages carry the test in their PageInfo owner words
// (set in cache.cpp's slab_create; every other page has owner_word2 == 0, so
// nothing passes), and the tag of its run says which magazine takes the object.
//
// Locking: see SlabGlobals below; the per-thread caches in front of the
// kmalloc caches are in thread_cache.h.
#pragma once

#include "core/list.h"
#include "core/spinlock.h"
#include "core/types.h"
#include "slab/slab.h"
#include "vm/page_heap.h"

namespace kheap::slab {

inline constexpr size_t kMinAlign = kKmallocMinAlign;  // >= alignof(max_align_t) on the host
inline constexpr size_t kWordBits = sizeof(uintptr_t) * 8;
inline constexpr uint32_t kSlabMagic = 0x51AB9A6E;
inline constexpr uint32_t kCacheMagic = 0xCAC4E5EE;
inline constexpr size_t kKeepEmptySlabs = 2;           // per cache
inline constexpr size_t kMaxObjectsPerSlab = 512;       // the free bitmap in each SlabPage
inline constexpr size_t kBitmapWords = kMaxObjectsPerSlab / kWordBits;
inline constexpr size_t kMaxPagesPerSlab = 64;          // only huge custom objects go past 16
inline constexpr size_t kSmallMax = 1024;               // direct size -> class table up to here
inline constexpr size_t kCacheNameMax = 32;
inline constexpr unsigned kFastRotate = 13;             // >= the shift of every kmalloc class (8192 = 1 << 13)

// The kmalloc size classes (why these: see kmalloc.cpp). 8 and 24 only where
// the minimum alignment is 8 (i386).
#if defined(__x86_64__)
inline constexpr size_t kClassSizes[] = {16,   32,   48,   64,   80,   96,   112,  128,  160,  192,  224,
                                         256,  320,  384,  448,  512,  640,  768,  896,  1024, 1280, 1536,
                                         1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192};
#else
inline constexpr size_t kClassSizes[] = {8,    16,   24,   32,   48,   64,   80,   96,   112,  128,  160,  192,
                                         224,  256,  320,  384,  448,  512,  640,  768,  896,  1024, 1280, 1536,
                                         1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192};
#endif
inline constexpr size_t kNumClasses = sizeof(kClassSizes) / sizeof(kClassSizes[0]);
static_assert(kClassSizes[kNumClasses - 1] == kKmallocMaxClass);

enum class SlabState : uint8_t { Cpu, Partial, Full, Empty, Private };

struct SlabPage {
  KmemCache* cache;
  char* objects;         // slot 0
  uint32_t inuse;        // allocated objects (all of them while this is the cpu slab)
  uint32_t magic;        // kSlabMagic
  ListNode link;         // on the cache's partial or empty list (unlinked when full or cpu)
  SlabState state;
  uint8_t cur_word;      // cpu slab: the word of free_bits whose bits are in the cache (cur_bits | cur_freed)
  uintptr_t home;        // serial of the thread cache this slab was last private to, 0: nobody's (see private slab)
  uintptr_t free_bits[kBitmapWords];  // bit i % W of word i / W: object i is free
};

using SlabList = List<SlabPage, &SlabPage::link>;

}  // namespace kheap::slab

namespace kheap {

struct alignas(64) KmemCache {
  // --- read-mostly (set at creation), one cache line of its own, so that
  // refills and drains on another CPU (which write the fields below) do not
  // take it away from every slow-path free ---
  size_t size;                    // slot size
  uintptr_t inv;                  // inverse of (size >> shift) mod 2^W
  uint32_t fast_inv;              // inv << (kFastRotate - shift), mod 2^32 (kfree's inline index check); 1 if not kfree_inline
  uint32_t shift;                 // size = odd << shift
  uint32_t objects_per_slab;
  uint32_t magic;                 // kCacheMagic while live
  uint8_t tc_class;               // kmalloc caches: the size class (its magazine); others kNumClasses
  // --- the cpu slab (written by every allocation from the slabs) ---
  alignas(64) uintptr_t cur_bits; // free objects of the cpu slab's current group that kmalloc takes
  uintptr_t cur_freed;            // those freed since cur_bits was last refilled (disjoint from cur_bits)
  char* cur_base;                 // the current group's first object
  slab::SlabPage* cpu_slab;
  // --- layout ---
  size_t object_size;             // usable bytes per object
  size_t align;
  size_t objects_offset;          // slab->objects - slab
  uint32_t pages_per_slab;
  uint32_t flags;
  uint16_t id;                    // page-heap tag of its slabs
  bool is_kmalloc;
  bool kfree_inline;              // not owned, shift <= kFastRotate
  bool off_slab;                  // SlabPage from kmem_slab (all but kmem_slab itself)
  KmemCtor ctor;
  void* owner;
  // --- slabs ---
  slab::SlabList partial;
  slab::SlabList empty;           // full slabs: full_count only (see above)
  slab::SlabList private_slabs;   // thread caches' own slabs (see "private slab" at the top of the file)
  size_t partial_count;
  size_t full_count;
  size_t empty_count;
  size_t private_count;
  ListNode cache_link;            // the registry of all caches
  char name[slab::kCacheNameMax];
};

}  // namespace kheap

namespace kheap::slab {

using CacheRegistry = List<KmemCache, &KmemCache::cache_link>;

// Everything the kmalloc/kfree fast paths touch, in one object (one base
// address for the PIE host build).
struct SlabHot {
  constexpr SlabHot();  // the tables; a dummy page heap until slab_init (kmalloc.cpp)
  // kfree's inline path looks at a pointer only if it lies below this offset
  // from data_start: the page heap's top_offset(), published to here — or 0
  // (nothing passes) while no page heap is attached or debug mode or
  // route_to_slow_paths sends every call to the slow paths.
  size_t top_offset;
  uintptr_t data_start;            // page_heap->data_start(): the PageInfo of address a >= data_start is
  uintptr_t data_info;            // data_info + ((a - data_start) >> 12) * sizeof(PageInfo)
  KmemCache* class_cache[kNumClasses];  // &kmalloc_caches[i]
  uintptr_t free_mark;             // the first word of every free kmalloc object (thread_cache.h)
  uint8_t size_class[kSmallMax + 1];  // size -> class index, for size <= kSmallMax
  // kmalloc's inline path: offset in a ThreadCache of the alloc magazine of
  // size_class[size] — in debug mode, of the always-empty extra one.
  uint16_t fast_magazine[kSmallMax + 1];
  KmemCache kmalloc_caches[kNumClasses];
};
extern SlabHot g_hot;

// Slow-path state (cache.cpp).
// Locking: g_slab.lock (recursive) guards everything here, every slab and
// every cache; only the magazine pops and pushes of the calling thread's own
// cache (thread_cache.h) run without it.
struct SlabGlobals {
  RecursiveSpinlock lock;
  vm::PageHeap* page_heap;
  bool ready;
  CacheRegistry caches;
  KmemCache meta;                 // the cache of KmemCache objects ("kmem_cache")
  KmemCache slab_meta;            // the cache of off-slab SlabPage headers ("kmem_slab")
  KmemCache thread_meta;          // the cache of ThreadCache objects ("kmem_thread")
  uint16_t next_id;
};
extern SlabGlobals g_slab;

// --- inline helpers ---------------------------------------------------------

// Index of the lowest set bit; x != 0. (bsf straight into a uintptr_t: the
// builtins return int, which costs a sign extension on the fast path.)
inline uintptr_t ctz_word(uintptr_t x) {
  uintptr_t r;
  asm("bsf %1, %0" : "=r"(r) : "rm"(x) : "cc");
  return r;
}

// Index of the lowest set bit of x, and whether x is 0 (from bsf's ZF: no
// separate test on kmalloc's fast path).
inline uintptr_t ctz_word_or_zero(uintptr_t x, bool* zero) {
  uintptr_t r;
  asm("bsf %2, %0" : "=r"(r), "=@ccz"(*zero) : "rm"(x));
  return r;
}

// (a & b) != 0 in one instruction with b in memory.
inline bool intersects(uintptr_t a, const uintptr_t& b) {
  bool nz;
  asm("test %1, %2" : "=@ccnz"(nz) : "r"(a), "m"(b));
  return nz;
}

// word with bit `bit` (< kWordBits) cleared, in one instruction.
inline uintptr_t clear_bit(uintptr_t word, uintptr_t bit) {
  asm("btr %1, %0" : "+r"(word) : "r"(bit) : "cc");
  return word;
}

// Sets bit `bit` (< kWordBits) of *word; returns whether it was set already.
inline bool test_and_set_bit(uintptr_t* word, uintptr_t bit) {
  bool was;
  asm("bts %2, %0" : "+r"(*word), "=@ccc"(was) : "r"(bit));
  return was;
}

// Set bits of a word (SWAR: no libgcc __popcount on i386). Slow paths only.
inline unsigned popcount_word(uintptr_t x) {
  unsigned n = 0;
  for (; x; x &= x - 1) ++n;
  return n;
}

inline uintptr_t rotr(uintptr_t x, unsigned k) { return (x >> k) | (x << ((kWordBits - k) & (kWordBits - 1))); }
inline uint32_t rotr32(uint32_t x, unsigned k) { return (x >> k) | (x << ((32 - k) & 31)); }

// Index of `p` in `slab` if p is exactly an object start, else a value >= objects_per_slab.
inline uintptr_t object_index(const KmemCache* c, const SlabPage* slab, const void* p) {
  uintptr_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(slab->objects);
  return rotr(off * c->inv, c->shift);
}



// The first byte of the slab run (the header itself when on-slab).
inline char* slab_run(const KmemCache* c, const SlabPage* slab) { return slab->objects - c->objects_offset; }

inline void* object_at(const KmemCache* c, const SlabPage* slab, size_t index) {
  return slab->objects + index * c->size;
}

// The word a free of object `index` sets its bit in: the slab's, or
// cache->cur_freed for the current group of the cpu slab.
inline uintptr_t* free_word(KmemCache* c, SlabPage* s, size_t index) {
  size_t w = index / kWordBits;
  return s == c->cpu_slab && w == s->cur_word ? &c->cur_freed : &s->free_bits[w];
}
inline bool index_is_free(const KmemCache* c, const SlabPage* s, size_t index) {
  size_t w = index / kWordBits;
  uintptr_t bits = s == c->cpu_slab && w == s->cur_word ? c->cur_bits | c->cur_freed : s->free_bits[w];
  return (bits >> (index % kWordBits)) & 1u;
}

// The SlabPage of the slab run containing `p`, or nullptr (outside the page
// heap, or not in a slab run). No reports; O(1).
inline SlabPage* slab_page_of(const void* p) {
  uintptr_t off = reinterpret_cast<uintptr_t>(p) - g_hot.data_start;
  if (!g_slab.page_heap || off >= g_slab.page_heap->top_offset()) return nullptr;  // (g_hot's copy is 0 while routed)
  const vm::PageInfo* e = reinterpret_cast<const vm::PageInfo*>(g_hot.data_info) + (off >> kPageShift);
  if (e->owner != vm::RunOwner::Slab) return nullptr;
  return static_cast<SlabPage*>(e->owner_ptr);
}

// --- cache.cpp ----------------------------------------------------------------

// Pure layout choice, exposed for tests: pages per slab and objects for a slot
// size and object alignment (off_slab: no header in the run). False if no slab
// of <= kMaxPagesPerSlab pages holds one.
struct SlabLayout {
  uint32_t pages;
  uint32_t objects;
  uint32_t objects_offset;
};
bool compute_layout(size_t slot_size, size_t object_align, SlabLayout* out, bool off_slab = true);
// size = odd << *shift; *inv = odd^-1 mod 2^W.
void compute_inverse(size_t size, uintptr_t* inv, uint32_t* shift);

bool cache_init(KmemCache* c, const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor,
                void* owner, bool is_kmalloc);
void* cache_alloc_slow(KmemCache* c);
// An object from the cpu slab's current group, or the slow path. Under the lock.
inline void* cache_alloc_locked(KmemCache* c) {
  uintptr_t bits = c->cur_bits;
  bool empty;
  uintptr_t i = ctz_word_or_zero(bits, &empty);
  if (__builtin_expect(empty, 0)) {
    // Refill from the frees since the last refill.
    bits = c->cur_freed;
    i = ctz_word_or_zero(bits, &empty);
    if (empty) return cache_alloc_slow(c);
    c->cur_freed = 0;
  }
  c->cur_bits = clear_bit(bits, i);
  return c->cur_base + i * c->size;
}
// The checked free: validates and reports (op names the entry point, for the
// report); expected == nullptr accepts any non-owned cache (kfree).
void cache_free_checked(KmemCache* expected, void* p, const char* op);
// The checks of cache_free_checked without the free: is p an allocated object
// of `s` (and of `expected`, or of a non-owned cache if expected is nullptr)?
// Reports and returns false if not; `frees` picks the bug classes of a free
// (InvalidFree/DoubleFree) or of a query (BadArgument).
bool check_slab_object(KmemCache* expected, SlabPage* s, const void* p, const char* op, bool frees);
// Mark allocated object `index` of `s` (already validated) free. O(1).
void slab_free_object(KmemCache* c, SlabPage* s, size_t index);
// The same for an object that carries the free mark already (drained from a
// magazine): the mark is left as it is, so a use-after-free write made while
// the object sat in the magazine is still found when it is next handed out.
void slab_release_object(KmemCache* c, SlabPage* s, size_t index);
// The bookkeeping half of it, for `n` objects of `s` whose free bits the
// caller has just set (drain does a slab's worth at a time): inuse and the
// full/partial/empty lists. `s` may be given back to the page heap here.
void slab_account_released(KmemCache* c, SlabPage* s, uint32_t n);
// Private slabs (a thread cache's own, for the refills of kmalloc class
// cache `c`): up to `want` free objects with an intact free mark into `out`,
// from *mine — which, when it has none left, goes back to the lists and is
// replaced by another slab (home: the serial of the thread cache asking) (partial, empty or new; *mine is nullptr if there
// is no memory for one). Objects whose free mark was overwritten are
// reported and kept out of use. Returns how many. Under the lock.
size_t private_slab_take(KmemCache* c, SlabPage** mine, uintptr_t home, void** out, size_t want);
inline constexpr size_t kHomeScan = 16;      // partial slabs looked at for one of the caller's own
inline constexpr size_t kHomeScanFar = 256;  // ... and before a new slab is made
// The thread cache with serial `home` is going away: its partial slabs of
// `c` become nobody's (any thread's refills take them first). Full ones
// keep the serial, which no live thread cache has any more: once they are
// partial, private_slab_acquire treats them as nobody's too.
void private_slabs_orphan(KmemCache* c, uintptr_t home);
// Objects in use in the cpu slab or a private slab of `c` (their inuse
// counts every slot: they are frozen).
size_t frozen_slab_in_use(const KmemCache* c, const SlabPage* s);
// Give private slab `s` back to the lists (its thread cache is going away).
void private_slab_release(KmemCache* c, SlabPage* s);
// Is the object at `p` (an exact object start in `slab`) free? Exact.
bool object_is_free(const KmemCache* c, const SlabPage* slab, const void* p);
bool cache_is_live(const KmemCache* c);  // a registered cache with a good magic
size_t cache_active_objects(const KmemCache* c);
size_t cache_total_slabs(const KmemCache* c);

// --- kmalloc.cpp --------------------------------------------------------------

// Is `p`, which is in no slab run, inside a large kmalloc block's run? Then
// true and *ri describes the run. Anywhere else — outside the kernel heap, in
// the page heap's own metadata, in free pages, in another owner's run — it
// is reported (an invalid free / bad argument, by `frees`; a double free for a
// page-aligned pointer into free pages) and false. Under the slab lock.
bool large_run_or_report(const void* p, const char* op, bool frees, vm::RunInfo* ri);
void kmalloc_init_caches();
// A large kmalloc block: a page-heap run (RunOwner::Large, owner_ptr = the
// size asked for, tag = the pages skipped to reach `align` > the page size) of
// at least `reserve` bytes (0: `size`). Takes the slab lock.
void* large_alloc(size_t size, size_t align, size_t reserve = 0);

}  // namespace kheap::slab
