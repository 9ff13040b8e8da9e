// lib/heap/heap_internal.h — the Heap object behind a Win32-style HANDLE.
// Private to lib/heap (heap.cpp: create/alloc/free; heap_walk.cpp: walk,
// validate, compact, stats).
//
// A heap owns three kinds of memory, and nothing else is ever charged to it:
//   * small blocks: objects of its own size-class caches (kmem_cache_create_owned,
//     owner = the heap), each object = BlockHeader + the caller's bytes;
//   * large blocks (header + size > kSmallLimit): whole page runs of the page
//     heap (RunOwner::Heap, owner_ptr = the heap, tag = kTagLarge) with their
//     metadata OUT of the run, in a kmalloc'd LargeBlock record, so a block of
//     n pages' worth of bytes costs exactly n pages;
//   * the reserve: dwInitialSize rounded up to pages, one run (tag =
//     kTagReserve) committed at HeapCreate. Large blocks are carved from it
//     first (page-granular first fit, reserve_slots[i] = the record using page
//     i); when a fixed heap hits its maximum, the free tail of the reserve is
//     given back so the budget can go to slabs or other runs.
// Its bookkeeping lives in runs it owns too: the "home" run (tag kTagHome)
// holds the Heap object itself followed by reserve_slots; "record" pages
// (tag kTagRecords, given back when empty) hold the LargeBlock records. Nothing of a heap
// is kmalloc'd, so HeapDestroy returns every page at once and exactly —
// kmem_cache_destroy_all on every cache, free_run on every large run, the
// reserve, the record pages and last the home run — whatever is allocated,
// and independently of the kmalloc caches' hysteresis.
//
// committed = reserve pages + standalone large-run pages + slab pages of the
// heap's caches: the memory that holds or can hold blocks. The home and record
// pages are bookkeeping, shown apart (meta_pages), not counted. A fixed heap
// (maximum != 0) never lets committed pass maximum.
//
// Invariants (heap_validate_locked): every live block has a valid header
// (small) or record (large); blocks_in_use / bytes_in_use equal what a walk
// finds; every large record's run is an in-use RunOwner::Heap run naming this
// heap; reserve_slots agree with the reserve records; committed <= maximum.
//
// Locking: g_registry_lock (leaf) guards the registry list; each heap has a
// recursive lock (HeapLock nests with the heap's own calls on one thread).
// This layer's page-heap calls take the slab layer's lock (slab_lock()), the
// one lock of the layers below, which the slab layer's own page-heap calls
// take too. Order: a heap's lock, then the slab lock (never the reverse).
#pragma once

#include "core/list.h"
#include "core/spinlock.h"
#include "core/types.h"
#include "heap/win32_heap.h"
#include "slab/slab.h"
#include "vm/page_heap.h"

namespace kheap::win32::detail {

struct Heap;

inline constexpr size_t kBlockAlign = 2 * sizeof(void*);

// The header in front of every small block. check mixes the heap's cookie,
// the block address and the requested size. (Once freed, the slab layer keeps
// its free-list words there; whether a slot is allocated is the slab's answer.)
struct BlockHeader {
  size_t requested;
  uintptr_t check;
};
static_assert(sizeof(BlockHeader) == kBlockAlign, "the header keeps blocks aligned to 2*sizeof(void*)");

// Slot sizes of the small classes (header included). Multiples of 16.
inline constexpr size_t kClassSizes[] = {16,   32,   48,   64,   96,   128,  192,  256,   384,   512,
                                         768,  1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384};
inline constexpr size_t kClassCount = sizeof(kClassSizes) / sizeof(kClassSizes[0]);
inline constexpr size_t kSmallLimit = kClassSizes[kClassCount - 1];  // header + size above this: large
static_assert(kSmallLimit == kHeapLargeBlockThreshold);

inline constexpr uint16_t kTagReserve = 1;
inline constexpr uint16_t kTagLarge = 2;
inline constexpr uint16_t kTagHome = 3;     // the Heap object and its reserve_slots
inline constexpr uint16_t kTagRecords = 4;  // a page of LargeBlock records
inline constexpr uint32_t kHeapMagic = 0x48454150;  // "HEAP"

// A lock that the thread holding it may take again (HeapLock, then HeapWalk).
class RecursiveLock {
 public:
  void lock();
  bool try_lock();
  bool unlock();  // false if the caller does not hold it
  bool held_by_caller() const;
  bool is_locked() const { return spin_.is_locked(); }

 private:
  Spinlock spin_;
  uintptr_t owner_ = 0;  // thread token of the holder (0: none)
  uint32_t depth_ = 0;
};

// Holds a heap's lock for one call unless HEAP_NO_SERIALIZE (per call or per heap).
class Serialized {
 public:
  Serialized(Heap* h, DWORD flags);
  ~Serialized();
  Serialized(const Serialized&) = delete;
  Serialized& operator=(const Serialized&) = delete;

 private:
  Heap* h_;
  bool on_;
};

struct LargeBlock {
  ListNode link;     // on Heap::large (live); a free record is chained through `start`
  void* start;       // the block == the start of its pages
  size_t pages;
  size_t requested;
  bool in_reserve;   // carved from the reserve (else a run of its own)
};

struct Heap {
  uint32_t magic;
  uint32_t serial;
  ListNode registry_link;
  DWORD flags;           // creation flags, plus HEAP_GROWABLE when maximum == 0
  size_t maximum;        // bytes (page multiple); 0 = growable
  uintptr_t cookie;
  bool is_process_heap;
  RecursiveLock lock;

  KmemCache* caches[kClassCount];
  size_t class_pages[kClassCount];  // slab pages of each cache, as last measured
  char cache_names[kClassCount][24];

  List<LargeBlock, &LargeBlock::link> large;
  void* record_pages;        // RecordPage list (heap.cpp); a page goes back when all its records are free
  size_t meta_pages;         // home + record pages
  size_t large_run_pages;  // pages of standalone large runs
  size_t large_count;

  void* reserve;               // nullptr when dwInitialSize was 0 (or all trimmed)
  size_t reserve_pages;
  size_t reserve_free_pages;
  LargeBlock** reserve_slots;  // reserve_pages entries

  size_t blocks_in_use;
  size_t bytes_in_use;  // sum of requested sizes
};

// --- shared by heap.cpp and heap_walk.cpp ---------------------------------

extern Spinlock g_registry_lock;
extern List<Heap, &Heap::registry_link> g_registry;
vm::PageHeap* page_heap();

bool is_live_heap_locked(const Heap* h);  // registry lock held
uintptr_t block_check(const Heap* h, const void* block, size_t requested);
size_t slab_pages(const Heap* h);
size_t committed_bytes(const Heap* h);
size_t refresh_class_pages(Heap* h, size_t cls);  // re-measure one cache; returns its pages
void refresh_all_class_pages(Heap* h);
size_t class_capacity(size_t cls);  // usable bytes of a slot

// What a pointer is, from this heap's point of view.
enum class BlockState : uint8_t { Live, Freed, NotABlock, Corrupt, OtherHeap };
struct BlockRef {
  BlockState state;
  bool large;
  Heap* owner;          // the heap that owns the memory (when known)
  void* block;
  size_t requested;     // Live/Corrupt: from the header or record
  size_t capacity;      // usable bytes without moving
  size_t cls;           // small: size class
  BlockHeader* header;  // small
  LargeBlock* record;   // large
};
BlockRef locate_block(Heap* h, const void* p);
const char* block_state_text(BlockState s);

}  // namespace kheap::win32::detail
