// lib/slab/cache.cpp — object caches: KmemCache and SlabPage lifecycle, the
// slow paths of allocation and free, and the checked free.
//
// Owns: every KmemCache (the kmalloc caches are static, see kmalloc.cpp; the
// others are objects of the "kmem_cache" meta cache) and every slab run.
//
// Slab size (compute_layout): the smallest run of 1..8 pages whose waste —
// header, alignment padding and the unused tail — is at most 12.5% of the run
// and that holds at least kWordBits objects (a whole group: kmalloc then
// switches groups or slabs at most once per kWordBits allocations in a churn,
// and there are few headers); failing that, at least 8 objects; failing that, the smallest run of 1..16
// pages with waste <= 12.5% (8192-byte objects need 9 pages for that: 4
// objects, 11.1%); failing that (huge custom objects), the least wasteful run
// of up to 64 pages. Every kmalloc class meets the 12.5% bound.
//
// Invariants (kmem_cache_check): each slab is the cpu slab, or private to
// exactly one thread cache (on the private_slabs list, frozen), or full (on no
// list), or on the list matching its inuse (partial: 0 < inuse < n, empty: 0), the
// counters match the lists, a slab's free bits number n - inuse and no bit is
// set past object n - 1, the cpu slab's current-group word is 0 (its bits are
// in cache->cur_bits | cur_freed, disjoint), at most kKeepEmptySlabs empty slabs are kept, and the
// page heap names the SlabPage as owner of every page of its run.
#include <new>

#include "core/assert.h"
#include "core/bitops.h"
#include "core/checked.h"
#include "core/format.h"
#include "core/report.h"
#include "platform/platform.h"
#include "slab/cache_internal.h"
#include "debug/slab_debug.h"
#include "slab/thread_cache.h"

namespace kheap::slab {

SlabGlobals g_slab;

/* --- Layout ---------------------------------------------------------------- */

namespace {

constexpr size_t kHeaderSize = sizeof(SlabPage);

struct Candidate {
  bool ok;
  SlabLayout layout;
  size_t waste;
};

Candidate try_pages(size_t pages, size_t slot, size_t object_align, size_t header) {
  Candidate c{};
  size_t run = pages * kPageSize;
  size_t offset = align_up(header, object_align);
  if (offset >= run) return c;
  size_t objects = (run - offset) / slot;
  if (objects > kMaxObjectsPerSlab) objects = kMaxObjectsPerSlab;
  if (objects == 0) return c;
  c.ok = true;
  c.layout = {static_cast<uint32_t>(pages), static_cast<uint32_t>(objects), static_cast<uint32_t>(offset)};
  c.waste = run - objects * slot;
  return c;
}

bool waste_ok(const Candidate& c) { return c.ok && c.waste * 8 <= c.layout.pages * kPageSize; }

}  // namespace

bool compute_layout(size_t slot, size_t object_align, SlabLayout* out, bool off_slab) {
  size_t header = off_slab ? 0 : kHeaderSize;
  if (!off_slab) {
    // Only kmem_slab (the off-slab headers) is on-slab. Big slabs, so the headers of many
    // slabs are contiguous and spread over every cache set (slabs of one page
    // each, every ~64 pages apart in the page heap, would all fall into the
    // same few L2 sets). The largest run of <= 16 pages not past kMaxObjectsPerSlab.
    for (size_t n = 16; n >= 1; --n) {
      Candidate c = try_pages(n, slot, object_align, header);
      if (c.ok && (n == 1 || (n * kPageSize - c.layout.objects_offset) / slot <= kMaxObjectsPerSlab))
        return *out = c.layout, true;
    }
  }
  if (slot == 0 || !is_power_of_two(object_align) || object_align > kPageSize) return false;
  if (slot > kMaxPagesPerSlab * kPageSize) return false;
  const size_t wants[] = {kWordBits, 8};
  for (size_t want : wants)
    for (size_t n = 1; n <= 8; ++n) {
      Candidate c = try_pages(n, slot, object_align, header);
      if (waste_ok(c) && c.layout.objects >= want) return *out = c.layout, true;
    }
  for (size_t n = 1; n <= 16; ++n) {
    Candidate c = try_pages(n, slot, object_align, header);
    if (waste_ok(c)) return *out = c.layout, true;
  }
  Candidate best{};
  for (size_t n = 1; n <= kMaxPagesPerSlab; ++n) {
    Candidate c = try_pages(n, slot, object_align, header);
    // waste/pages smaller than best's (cross-multiplied, no division)
    if (c.ok && (!best.ok || c.waste * best.layout.pages < best.waste * c.layout.pages)) best = c;
  }
  if (!best.ok) return false;
  *out = best.layout;
  return true;
}

// Why kfree's fixed rotate works (W = word bits, R = kFastRotate, size =
// d0 << k with d0 odd and k <= R, a slab of n objects spanning < 2^18 bytes so
// n * d0 <= 2^18 >> k, and -2^12 < off < 2^18 for p inside the run):
// x = off * inv(d0) * 2^(R-k) mod 2^W, y = rotr(x, R).
//  - off has a set bit below k: x has a set bit below R, which the rotate
//    moves to bit >= W - R, so y >= 2^(W-R) >= 2^19 > n.
//  - off = m << k: y = m * inv(d0) mod 2^(W-R); y < n means m == y * d0
//    (mod 2^(W-R)) with y * d0 < 2^18 < 2^(W-R), i.e. m = y * d0 exactly for
//    0 <= m < 2^18, and no negative m (its residue is >= 2^19 - 2^18).
// So y < n exactly when off = y * size. (W - R >= 19 needs W = 32 at least;
// kfree's inline path computes with W = 32 on every target.)
void compute_inverse(size_t size, uintptr_t* inv, uint32_t* shift) {
  KHEAP_ASSERT(size != 0);
  // ctzll only where size_t is 64-bit (on i386 it would need libgcc's __ctzdi2;
  // ctzl is 32-bit on 64-bit Windows).
  uint32_t k = sizeof(size_t) > sizeof(unsigned) ? static_cast<uint32_t>(__builtin_ctzll(size))
                                                 : static_cast<uint32_t>(__builtin_ctz(static_cast<unsigned>(size)));
  uintptr_t odd = size >> k;
  // Newton's iteration for the inverse modulo 2^W: x = odd is right to 3
  // bits (odd * odd == 1 mod 8) and each step doubles that: 6 steps reach 192.
  uintptr_t x = odd;
  for (int i = 0; i < 6; ++i) x *= 2 - odd * x;
  KHEAP_ASSERT(x * odd == 1);
  *inv = x;
  *shift = k;
}

/* --- Cache set-up and the registry ------------------------------------------ */

namespace {

void copy_name(char* dst, const char* src) {
  if (!src) src = "(unnamed)";
  size_t i = 0;
  for (; src[i] && i + 1 < kCacheNameMax; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

size_t natural_align(size_t size) {
  size_t a = size & (~size + 1);  // lowest set bit
  return a > kPageSize ? kPageSize : a;
}

}  // namespace

bool cache_init(KmemCache* c, const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor,
                void* owner, bool is_kmalloc) {
  const char* shown = name ? name : "(unnamed)";
  if (size == 0) {
    report_bug(BugClass::BadArgument, "kmem_cache_create(%s): object size 0\n", shown);
    return false;
  }
  if (align == 0) align = kMinAlign;
  if (!is_power_of_two(align) || align > kPageSize) {
    report_bug(BugClass::BadArgument, "kmem_cache_create(%s): alignment %zu is not a power of two <= %zu\n", shown,
               align, kPageSize);
    return false;
  }
  if ((flags & SLAB_HWCACHE_ALIGN) && align < 64) align = 64;
  if (align < kMinAlign) align = kMinAlign;

  // Free objects hold nothing of the allocator's (the free bits are in the
  // slab header), so a constructor's state survives while an object is free.
  size_t slot;
  if (!checked_align_up(size, align, &slot)) {
    report_bug(BugClass::SizeOverflow, "kmem_cache_create(%s): object size %zu overflows\n", shown, size);
    return false;
  }
  size_t object_align = is_kmalloc ? natural_align(slot) : align;
  // Every cache but kmem_slab keeps its slab headers off-slab (dense).
  bool off_slab = c != &g_slab.slab_meta;
  SlabLayout layout;
  if (!compute_layout(slot, object_align, &layout, off_slab)) {
    report_bug(BugClass::BadArgument, "kmem_cache_create(%s): object size %zu does not fit a slab of %zu pages\n",
               shown, size, kMaxPagesPerSlab);
    return false;
  }

  new (c) KmemCache();
  compute_inverse(slot, &c->inv, &c->shift);
  c->size = slot;
  c->object_size = slot;
  c->align = object_align;
  c->objects_offset = layout.objects_offset;
  c->objects_per_slab = layout.objects;
  c->pages_per_slab = layout.pages;
  c->flags = flags;
  c->ctor = ctor;
  c->owner = owner;
  c->is_kmalloc = is_kmalloc;
  c->tc_class = kNumClasses;  // kmalloc_init_caches sets the kmalloc classes'
  c->off_slab = off_slab;
  c->id = g_slab.next_id++;
  // Objects of owned caches are never freed by kfree's inline path: the
  // checked path handles (refuses) them. The other conditions are those of
  // the proof in compute_inverse (the tail holds no whole slot, the odd part
  // of the size is small enough for 32-bit words).
  size_t tail = layout.pages * kPageSize - layout.objects_offset - size_t{layout.objects} * slot;
  constexpr uint32_t kMaxOdd = ((uint32_t{1} << (32 - kFastRotate)) - (uint32_t{1} << 18)) / 32;  // (32-bit words)
  c->kfree_inline = !owner && c->shift <= kFastRotate && tail < slot && (slot >> c->shift) <= kMaxOdd;
  c->fast_inv = c->kfree_inline ? static_cast<uint32_t>(c->inv << (kFastRotate - c->shift)) : 1;
  copy_name(c->name, name);
  c->magic = kCacheMagic;
  g_slab.caches.push_back(c);
  return true;
}

bool cache_is_live(const KmemCache* c) {
  if (!c || !g_slab.ready) return false;
  for (const KmemCache* k : g_slab.caches)
    if (k == c) return c->magic == kCacheMagic;
  return false;
}

/* --- Slabs ------------------------------------------------------------------ */

namespace {

void* slab_meta_alloc();
void slab_meta_free(SlabPage* s);

SlabPage* slab_create(KmemCache* c) {
  vm::PageHeap* ph = g_slab.page_heap;
  void* header = nullptr;
  if (c->off_slab && !(header = slab_meta_alloc())) return nullptr;
  // A kmalloc slab's run is tagged with its class's alloc magazine (where
  // kfree's inline path puts the object); other slabs with the cache's id.
  bool kmalloc_class = c->tc_class < kNumClasses;
  uint16_t tag = kmalloc_class ? alloc_magazine_offset(c->tc_class) : c->id;
  void* run = ph->alloc_run(c->pages_per_slab, vm::RunOwner::Slab, header, tag);
  if (!run) {
    if (header) slab_meta_free(static_cast<SlabPage*>(header));
    return nullptr;
  }
  // Every object is written below (its free mark, or by the constructor):
  // fault the run's pages in at once.
  if (kmalloc_class || c->ctor) kheap_platform_populate(run, size_t{c->pages_per_slab} << kPageShift);
  if (!header) {
    header = run;
    ph->set_owner(run, vm::RunOwner::Slab, run, tag);
  }
  // kfree's inline path checks a kmalloc object with the words in the
  // PageInfo of its page alone, without touching this header: the object
  // index of p is rotr32(uint32(p) * word1 - word0, kFastRotate), which is
  // below word2 exactly for the objects' starts (cache_internal.h).
  if (kmalloc_class) {
    KHEAP_ASSERT(c->kfree_inline && c->objects_offset == 0);
    uint32_t base = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(run));
    ph->set_owner_words(run, base * c->fast_inv, c->fast_inv, c->objects_per_slab);
  }
  auto* s = new (header) SlabPage{};
  s->cache = c;
  s->objects = static_cast<char*>(run) + c->objects_offset;
  s->magic = kSlabMagic;
  // Constructors run here, once per object. Every object starts free (and a
  // kmalloc object carries the free mark while free: thread_cache.h).
  if (c->ctor)
    for (size_t i = 0; i < c->objects_per_slab; ++i) c->ctor(object_at(c, s, i));
  if (c->tc_class < kNumClasses)
    for (size_t i = 0; i < c->objects_per_slab; ++i) free_mark_word(object_at(c, s, i)) = g_hot.free_mark;
  // Every object free: whole words, then the bits of the last partial word.
  size_t n = c->objects_per_slab;
  for (size_t w = 0; w < n / kWordBits; ++w) s->free_bits[w] = ~uintptr_t{0};
  if (n % kWordBits) s->free_bits[n / kWordBits] = (uintptr_t{1} << (n % kWordBits)) - 1;
  s->inuse = 0;
  return s;
}

size_t slab_destroy(SlabPage* s) {
  KmemCache* c = s->cache;
  size_t pages = c->pages_per_slab;
  s->magic = 0;
  bool ok = g_slab.page_heap->free_run(slab_run(c, s));
  KHEAP_ASSERT(ok);
  if (c->off_slab) slab_meta_free(s);
  return pages;
}

void list_add(KmemCache* c, SlabPage* s, SlabState st) {
  s->state = st;
  switch (st) {
    case SlabState::Partial:
      // FIFO: by the time a partial slab is taken for allocation it has
      // collected more frees than one that just lost its first object.
      c->partial.push_back(s);
      ++c->partial_count;
      break;
    case SlabState::Full:
      ++c->full_count;  // on no list
      break;
    case SlabState::Private:
      c->private_slabs.push_back(s);
      ++c->private_count;
      break;
    default:
      c->empty.push_front(s);
      ++c->empty_count;
      break;
  }
}

void list_del(KmemCache* c, SlabPage* s) {
  switch (s->state) {
    case SlabState::Partial: c->partial.remove(s); --c->partial_count; break;
    case SlabState::Full: --c->full_count; break;
    case SlabState::Empty: c->empty.remove(s); --c->empty_count; break;
    case SlabState::Private: c->private_slabs.remove(s); --c->private_count; break;
    case SlabState::Cpu: KHEAP_ASSERT(!"list_del of the cpu slab"); break;
  }
}

// Full slabs are on no list: find them through the page heap's entries, in
// address order. fn(slab) may free the slab; returns false to stop.
template <typename Fn>
bool for_each_full_slab(const KmemCache* c, Fn fn) {
  const vm::PageHeap* ph = g_slab.page_heap;
  const vm::PageInfo* info = ph->page_info_array();
  if (!c->full_count) return true;
  const uintptr_t base = reinterpret_cast<uintptr_t>(info);  // the window's base
  for (size_t i = (ph->data_start() - base) >> kPageShift; i < ((ph->top() - base) >> kPageShift);) {
    const vm::PageInfo& e = info[i];
    bool head = e.kind == vm::PageKind::RunHead || e.kind == vm::PageKind::FreeHead;
    size_t next = i + (head && e.pages ? e.pages : 1);
    if (e.kind == vm::PageKind::RunHead && e.owner == vm::RunOwner::Slab) {
      auto* s = static_cast<SlabPage*>(e.owner_ptr);
      if (s->cache == c && s->state == SlabState::Full && !fn(s)) return false;
    }
    i = next;
  }
  return true;
}

SlabState state_for(const KmemCache* c, uint32_t inuse) {
  return inuse == 0 ? SlabState::Empty : inuse == c->objects_per_slab ? SlabState::Full : SlabState::Partial;
}

// Keep at most `keep` empty slabs; returns the pages given back.
size_t trim_empty(KmemCache* c, size_t keep) {
  size_t pages = 0;
  while (c->empty_count > keep) {
    SlabPage* s = c->empty.back();  // the one emptied longest ago
    list_del(c, s);
    pages += slab_destroy(s);
  }
  return pages;
}

size_t words_of(const KmemCache* c) { return (c->objects_per_slab + kWordBits - 1) / kWordBits; }

size_t count_free_bits(const KmemCache* c, const SlabPage* s) {
  size_t n = 0;
  for (size_t w = 0; w < words_of(c); ++w) n += popcount_word(s->free_bits[w]);
  return n;
}

// Make the first non-zero word of the cpu slab `s` the current group (its
// bits move to c->cur_bits). False if the slab has no free object.
bool take_group(KmemCache* c, SlabPage* s) {
  for (size_t w = 0, n = words_of(c); w < n; ++w) {
    uintptr_t bits = s->free_bits[w];
    if (!bits) continue;
    s->free_bits[w] = 0;
    s->cur_word = static_cast<uint8_t>(w);
    c->cur_bits = bits;
    c->cur_freed = 0;
    c->cur_base = s->objects + w * kWordBits * c->size;
    return true;
  }
  return false;
}

// Hand the current group's bits back to the cpu slab's own word.
void put_group(KmemCache* c, SlabPage* s) {
  s->free_bits[s->cur_word] |= c->cur_bits | c->cur_freed;
  c->cur_bits = c->cur_freed = 0;
  c->cur_base = nullptr;
}

void freeze(KmemCache* c, SlabPage* s) {
  c->cpu_slab = s;
  s->inuse = c->objects_per_slab;
  s->state = SlabState::Cpu;
  bool ok = take_group(c, s);
  KHEAP_ASSERT(ok);
}

// Free objects of the cpu slab (current group included).
size_t cpu_free_count(const KmemCache* c) {
  return c->cpu_slab ? count_free_bits(c, c->cpu_slab) + popcount_word(c->cur_bits | c->cur_freed) : 0;
}

// Give the cpu slab back to the lists.
void deactivate(KmemCache* c) {
  SlabPage* s = c->cpu_slab;
  if (!s) return;
  put_group(c, s);
  size_t free = count_free_bits(c, s);
  KHEAP_ASSERT(free <= c->objects_per_slab);
  s->inuse = static_cast<uint32_t>(c->objects_per_slab - free);
  c->cpu_slab = nullptr;
  list_add(c, s, state_for(c, s->inuse));
}

}  // namespace

namespace {

// kmem_slab's objects: the off-slab headers. kmem_slab's own slabs are
// on-slab, so this recurses at most once.
void* slab_meta_alloc() { return cache_alloc_slow(&g_slab.slab_meta); }

void slab_meta_free(SlabPage* s) {
  KmemCache* m = &g_slab.slab_meta;
  SlabPage* ms = slab_page_of(s);
  KHEAP_ASSERT(ms && ms->cache == m);
  uintptr_t i = object_index(m, ms, s);
  KHEAP_ASSERT(i < m->objects_per_slab && !index_is_free(m, ms, i));
  slab_free_object(m, ms, i);
}

}  // namespace

void* cache_alloc_slow(KmemCache* c) {
  if (c->magic != kCacheMagic || !(g_slab.ready || c == &g_slab.slab_meta)) return nullptr;
  if (!c->cur_bits && c->cur_freed) {  // the frees since the last refill
    c->cur_bits = c->cur_freed;
    c->cur_freed = 0;
  }
  if (!c->cur_bits && !(c->cpu_slab && take_group(c, c->cpu_slab))) {
    // The cpu slab (if any) has no free object left: it is full.
    if (SlabPage* old = c->cpu_slab) {
      old->state = SlabState::Full;  // on no list
      ++c->full_count;
      c->cpu_slab = nullptr;
    }
    SlabPage* s;
    if ((s = c->partial.pop_front())) {
      --c->partial_count;
    } else if ((s = c->empty.pop_front())) {
      --c->empty_count;
    } else if (!(s = slab_create(c))) {
      return nullptr;
    }
    freeze(c, s);
  }
  uintptr_t bits = c->cur_bits;
  c->cur_bits = bits & (bits - 1);
  return c->cur_base + ctz_word(bits) * c->size;
}

/* --- Private slabs (thread caches' own) ------------------------------------- */

namespace {

// A slab for the own refills of thread cache `home`, so that the threads'
// objects do not share slabs: the oldest partial slab that is home's or
// nobody's (home 0) among the first kHomeScan, else an empty slab,
// else a new one (on two threads, taking another thread's partial slab
// first made private churn 1.25x slower); another live thread's partial
// slab only if there is no memory. A slab whose home has exited (its full
// slabs kept its serial) counts as nobody's. Live threads' slabs the
// scan passes over go to the back of the list, so that an idle thread's
// slabs cannot sit at the front and hide everyone else's; and before a new
// slab is made, up to kHomeScanFar more partial slabs are looked at (a new
// slab costs more than that walk). Frozen.
SlabPage* private_slab_acquire(KmemCache* c, uintptr_t home) {
  auto ours = [&](const SlabPage* p) { return p->home == home || !p->home || !thread_cache_is_live(p->home); };
  SlabPage* s = nullptr;
  for (size_t looked = 0; looked < kHomeScan; ++looked) {
    SlabPage* p = c->partial.front();
    if (!p) break;
    if (ours(p)) {
      s = p;
      break;
    }
    c->partial.remove(p);
    c->partial.push_back(p);
  }
  if (!s) s = c->empty.front();
  if (!s) {
    size_t looked = 0;
    for (SlabPage* p : c->partial) {
      if (ours(p)) {
        s = p;
        break;
      }
      if (++looked == kHomeScanFar) break;
    }
  }
  if (s) {
    list_del(c, s);
  } else if (!(s = slab_create(c))) {
    if (!(s = c->partial.front())) return nullptr;
    list_del(c, s);
  }
  s->inuse = c->objects_per_slab;
  s->home = home;
  list_add(c, s, SlabState::Private);
  return s;
}

}  // namespace

void private_slab_release(KmemCache* c, SlabPage* s) {
  KHEAP_ASSERT(s->cache == c && s->state == SlabState::Private);
  list_del(c, s);
  s->inuse = static_cast<uint32_t>(c->objects_per_slab - count_free_bits(c, s));
  list_add(c, s, state_for(c, s->inuse));
  if (c->empty_count > kKeepEmptySlabs) trim_empty(c, kKeepEmptySlabs);
}

void private_slabs_orphan(KmemCache* c, uintptr_t home) {
  for (SlabPage* s : c->partial)
    if (s->home == home) s->home = 0;
}

size_t private_slab_take(KmemCache* c, SlabPage** mine, uintptr_t home, void** out, size_t want) {
  const uintptr_t mark = g_hot.free_mark;
  const size_t words = words_of(c);
  size_t n = 0;
  while (n < want) {
    SlabPage* s = *mine;
    if (!s && !(s = *mine = private_slab_acquire(c, home))) break;  // no memory
    KHEAP_ASSERT(s->state == SlabState::Private && s->cache == c);
    for (size_t w = 0; w < words && n < want; ++w) {
      uintptr_t bits = s->free_bits[w];
      if (!bits) continue;
      char* const base = s->objects + w * kWordBits * c->size;
      do {
        void* p = base + ctz_word(bits) * c->size;
        bits &= bits - 1;
        if (__builtin_expect(free_mark_word(p) == mark, 1))
          out[n++] = p;
        else  // written after its free: allocated as far as the slab knows, never handed out
          report_free_mark_overwritten(p, "kmalloc (refill)");
      } while (bits && n < want);
      s->free_bits[w] = bits;
    }
    if (n < want) {  // s has no free object left: it goes back (full) and another one comes
      private_slab_release(c, s);
      *mine = nullptr;
    }
  }
  return n;
}

/* --- Free ------------------------------------------------------------------- */

namespace {

enum class FreeState { Allocated, Free };

FreeState free_state(const KmemCache* c, const SlabPage* s, const void* p) {
  return index_is_free(c, s, object_index(c, s, p)) ? FreeState::Free : FreeState::Allocated;
}

}  // namespace

bool object_is_free(const KmemCache* c, const SlabPage* s, const void* p) {
  return free_state(c, s, p) != FreeState::Allocated;
}

// Mark a validated, allocated object free. O(1).
void slab_free_object(KmemCache* c, SlabPage* s, size_t index) {
  if (c->tc_class < kNumClasses) free_mark_word(object_at(c, s, index)) = g_hot.free_mark;
  slab_release_object(c, s, index);
}

void slab_release_object(KmemCache* c, SlabPage* s, size_t index) {
  *free_word(c, s, index) |= uintptr_t{1} << (index % kWordBits);
  slab_account_released(c, s, 1);
}

void slab_account_released(KmemCache* c, SlabPage* s, uint32_t n) {
  if (s == c->cpu_slab || s->state == SlabState::Private) return;  // frozen: inuse counts all its slots
  KHEAP_ASSERT(s->inuse >= n && n > 0 && s->state != SlabState::Cpu);
  uint32_t was = s->inuse;
  s->inuse = was - n;
  if (was == c->objects_per_slab) {  // full (on no list) -> partial, or empty if all of it came back
    --c->full_count;
    if (s->inuse) {
      s->state = SlabState::Partial;
      c->partial.push_back(s);  // FIFO: see list_add
      ++c->partial_count;
      return;
    }
  } else if (s->inuse) {
    return;  // still partial
  } else {
    c->partial.remove(s);
    --c->partial_count;
  }
  s->state = SlabState::Empty;
  c->empty.push_front(s);
  if (++c->empty_count > kKeepEmptySlabs) trim_empty(c, kKeepEmptySlabs);
}

bool check_slab_object(KmemCache* expected, SlabPage* s, const void* p, const char* op, bool frees) {
  if (s->magic != kSlabMagic || !s->cache || s->cache->magic != kCacheMagic) {
    report_bug(BugClass::FreeListCorruption, "%s(%p): the header of slab %p is corrupt (magic %#x)\n", op, p,
               static_cast<void*>(s), s->magic);
    return false;
  }
  KmemCache* c = s->cache;
  uintptr_t i = object_index(c, s, p);
  BugClass bad = frees ? BugClass::InvalidFree : BugClass::BadArgument;
  if (i >= c->objects_per_slab) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p), first = reinterpret_cast<uintptr_t>(s->objects);
    if (a < first) {
      report_bug(bad, "%s(%p): points into the header of a slab (%p) of cache %s\n", op, p, static_cast<void*>(s),
                 c->name);
    } else if ((a - first) / c->size >= c->objects_per_slab) {
      report_bug(bad, "%s(%p): points past the last object of a slab (%p) of cache %s\n", op, p,
                 static_cast<void*>(s), c->name);
    } else {
      size_t idx = (a - first) / c->size;
      report_bug(bad, "%s(%p): not the start of an object: %zu bytes into object %zu (%p) of cache %s (object size %zu)\n",
                 op, p, (a - first) - idx * c->size, idx, object_at(c, s, idx), c->name, c->size);
    }
    return false;
  }
  if (expected && expected != c) {
    report_bug(BugClass::WrongHeap,
               "%s(%s, %p): object %zu belongs to cache %s (object size %zu), not to cache %s; refused\n", op,
               expected->name, p, static_cast<size_t>(i), c->name, c->size, expected->name);
    return false;
  }
  if (!expected && c->owner) {
    report_bug(BugClass::WrongHeap, "%s(%p): object %zu of private cache %s (owner %p) belongs to its owner\n", op,
               p, static_cast<size_t>(i), c->name, c->owner);
    return false;
  }
  switch (free_state(c, s, p)) {
    case FreeState::Free:
      report_bug(frees ? BugClass::DoubleFree : BugClass::BadArgument,
                 "%s(%p): object %zu of cache %s (object size %zu) is already free\n", op, p, static_cast<size_t>(i),
                 c->name, c->size);
      return false;
    case FreeState::Allocated:
      break;
  }
  // Free in a magazine? (The slabs count those objects as allocated; they
  // carry the free mark, and the search confirms it.)
  if (c->tc_class < kNumClasses && free_mark_word(const_cast<void*>(p)) == g_hot.free_mark) {
    if (const ThreadCache* tc = thread_cache_holding(p)) {
      report_bug(frees ? BugClass::DoubleFree : BugClass::BadArgument,
                 "%s(%p): object %zu of cache %s (object size %zu) is already free (in the %sthread cache %p)\n", op,
                 p, static_cast<size_t>(i), c->name, c->size, tc == t_thread_cache ? "calling " : "other ",
                 static_cast<const void*>(tc));
      return false;
    }
  }
  return true;
}

void cache_free_checked(KmemCache* expected, void* p, const char* op) {
  SlabPage* s = slab_page_of(p);
  KHEAP_ASSERT(s != nullptr);  // callers handle non-slab pointers
  if (check_slab_object(expected, s, p, op, true)) slab_free_object(s->cache, s, object_index(s->cache, s, p));
}

/* --- Public cache API ---------------------------------------------------------- */

}  // namespace kheap::slab

namespace kheap {

using namespace slab;

namespace {

bool check_handle(const KmemCache* c, const char* op) {
  if (cache_is_live(c)) return true;
  report_bug(BugClass::InvalidHandle, "%s(%p): not a live cache\n", op, static_cast<const void*>(c));
  return false;
}

KmemCache* create(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor, void* owner) {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready) return nullptr;
  void* mem = kmem_cache_alloc(&g_slab.meta);
  if (!mem) return nullptr;
  auto* c = static_cast<KmemCache*>(mem);
  if (!cache_init(c, name, size, align, flags, ctor, owner, false)) {
    kmem_cache_free(&g_slab.meta, mem);
    return nullptr;
  }
  return c;
}

bool is_internal(const KmemCache* c) {
  return c->is_kmalloc || c == &g_slab.meta || c == &g_slab.slab_meta || c == &g_slab.thread_meta;
}

// Every slab of `c`, cpu slab included. Returns pages freed.
size_t free_all_slabs(KmemCache* c) {
  size_t pages = 0;
  if (SlabPage* s = c->cpu_slab) {
    put_group(c, s);
    c->cpu_slab = nullptr;
    pages += slab_destroy(s);
  }
  SlabList* lists[] = {&c->partial, &c->empty, &c->private_slabs};
  for (SlabList* l : lists)
    while (SlabPage* s = l->pop_front()) pages += slab_destroy(s);
  for_each_full_slab(c, [&](SlabPage* s) {
    pages += slab_destroy(s);
    return true;
  });
  c->partial_count = c->full_count = c->empty_count = c->private_count = 0;
  return pages;
}

void retire(KmemCache* c) {
  g_slab.caches.remove(c);
  c->magic = 0;
  kmem_cache_free(&g_slab.meta, c);
}


// Calls fn(slab) for every slab of c (cpu slab first); fn returns false to stop.
template <typename Fn>
bool for_each_slab(const KmemCache* c, Fn fn) {
  if (c->cpu_slab && !fn(c->cpu_slab)) return false;
  const SlabList* lists[] = {&c->private_slabs, &c->partial, &c->empty};
  for (const SlabList* l : lists)
    for (SlabPage* s : *l)
      if (!fn(s)) return false;
  return for_each_full_slab(c, fn);
}

}  // namespace

KmemCache* kmem_cache_create(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor) {
  if (__builtin_expect(g_slab_debug_active || (flags & kSlabDebugCreateFlags), 0)) return slab_debug_cache_create(name, size, align, flags, ctor);
  return create(name, size, align, flags, ctor, nullptr);
}

KmemCache* kmem_cache_create_owned(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor,
                                   void* owner) {
  if (!owner) {
    report_bug(BugClass::BadArgument, "kmem_cache_create_owned(%s): owner is null\n", name ? name : "(unnamed)");
    return nullptr;
  }
  return create(name, size, align, flags, ctor, owner);
}

void* kmem_cache_owner(const KmemCache* c) {
  return c && c->magic == kCacheMagic && c != &g_slab.meta && c != &g_slab.slab_meta && c != &g_slab.thread_meta
             ? c->owner
             : nullptr;
}

void* kmem_cache_alloc(KmemCache* c) {
  if (__builtin_expect(c && (c->flags & SLAB_DEBUG_OBJECTS), 0)) return slab_debug_cache_alloc(c, __builtin_return_address(0));
  RecursiveGuard guard(g_slab.lock);
  if (!c || c->magic != kCacheMagic) {
    report_bug(BugClass::InvalidHandle, "kmem_cache_alloc(%p): not a live cache\n", static_cast<void*>(c));
    return nullptr;
  }
  void* p = cache_alloc_locked(c);
  if (p && c->tc_class < kNumClasses) free_mark_word(p) = 0;  // a kmalloc cache's object, handed out directly
  return p;
}

void* kmem_cache_zalloc(KmemCache* c) {
  if (__builtin_expect(c && (c->flags & SLAB_DEBUG_OBJECTS), 0)) return slab_debug_cache_zalloc(c, __builtin_return_address(0));
  void* p = kmem_cache_alloc(c);
  if (p) memset(p, 0, c->object_size);
  return p;
}

void kmem_cache_free(KmemCache* c, void* p) {
  if (__builtin_expect(c && (c->flags & SLAB_DEBUG_OBJECTS), 0)) return slab_debug_cache_free(c, p, __builtin_return_address(0));
  if (!p) return;
  RecursiveGuard guard(g_slab.lock);
  SlabPage* s = slab_page_of(p);
#ifndef KHEAP_NO_FREE_CHECKS
  // An allocated object of a live slab of this cache: free it; anything else
  // takes the checked path below, which reports it.
  if (__builtin_expect(s != nullptr && s->cache == c && s->magic == kSlabMagic, 1)) {
    uintptr_t i = object_index(c, s, p);
    if (__builtin_expect(i < c->objects_per_slab && !index_is_free(c, s, i), 1)) return slab_free_object(c, s, i);
  }
#else
  // Measurement-only build (see the top of kmalloc.cpp): no ownership,
  // boundary or double-free check.
  if (__builtin_expect(s != nullptr, 1)) return slab_free_object(s->cache, s, object_index(s->cache, s, p));
#endif
  if (!check_handle(c, "kmem_cache_free")) return;
  if (!s) {
    vm::RunInfo ri{};
    const char* what = "outside the slab allocator's pages";
    bool large = g_slab.page_heap->run_of(p, &ri) && ri.owner == vm::RunOwner::Large;
    if (large) what = "a large kmalloc block";
    else if (ri.start) what = "a page-heap run that is not a slab";
    report_bug(large ? BugClass::WrongHeap : BugClass::InvalidFree,
               "kmem_cache_free(%s, %p): not an object of any cache (%s)\n", c->name, p, what);
    return;
  }
  cache_free_checked(c, p, "kmem_cache_free");
}

size_t kmem_cache_shrink(KmemCache* c) {
  RecursiveGuard guard(g_slab.lock);
  if (!check_handle(c, "kmem_cache_shrink")) return 0;
  deactivate(c);
  return trim_empty(c, 0);
}

bool kmem_cache_destroy(KmemCache* c) {
  if (__builtin_expect(c && (c->flags & SLAB_DEBUG_OBJECTS), 0)) return slab_debug_cache_destroy(c);
  RecursiveGuard guard(g_slab.lock);
  if (!check_handle(c, "kmem_cache_destroy")) return false;
  if (is_internal(c)) {
    report_bug(BugClass::BadArgument, "kmem_cache_destroy(%s): a kmalloc/internal cache cannot be destroyed\n", c->name);
    return false;
  }
  size_t live = cache_active_objects(c);
  if (live) {
    char text[768];
    size_t len = format(text, sizeof text, "kmem_cache_destroy(%s): %zu live object%s remain; refused\n", c->name,
                        live, live == 1 ? "" : "s");
    size_t listed = 0;
    for_each_slab(c, [&](const SlabPage* s) {
      for (size_t i = 0; i < c->objects_per_slab; ++i) {
        if (index_is_free(c, s, i)) continue;
        if (listed++ < 12 && len < sizeof text)
          len += format(text + len, sizeof text - len, "  live: %p (object %zu of slab %p)\n", object_at(c, s, i), i,
                        static_cast<const void*>(s));
      }
      return true;
    });
    if (listed > 12 && len < sizeof text) format(text + len, sizeof text - len, "  ... and %zu more\n", listed - 12);
    report_bug(BugClass::CacheNotEmpty, "%s", text);
    return false;
  }
  free_all_slabs(c);
  retire(c);
  return true;
}

size_t kmem_cache_destroy_all(KmemCache* c) {
  RecursiveGuard guard(g_slab.lock);
  if (!check_handle(c, "kmem_cache_destroy_all")) return 0;
  if (is_internal(c)) {
    report_bug(BugClass::BadArgument, "kmem_cache_destroy_all(%s): a kmalloc/internal cache cannot be destroyed\n",
               c->name);
    return 0;
  }
  size_t pages = free_all_slabs(c);
  retire(c);
  return pages;
}

const KmemCache* cache_of(const void* p) {
  RecursiveGuard guard(g_slab.lock);
  SlabPage* s = slab_page_of(p);
  if (!s || s->magic != kSlabMagic) return nullptr;
  const KmemCache* c = s->cache;
  if (object_index(c, s, p) >= c->objects_per_slab || free_state(c, s, p) != FreeState::Allocated) return nullptr;
  return c;
}

const char* kmem_cache_name(const KmemCache* c) { return c ? c->name : "(null)"; }
size_t kmem_cache_object_size(const KmemCache* c) { return c ? c->object_size : 0; }

size_t kmem_cache_pages(const KmemCache* c) {
  RecursiveGuard guard(g_slab.lock);
  return c ? cache_total_slabs(c) * c->pages_per_slab : 0;
}
size_t kmem_cache_live_objects(const KmemCache* c) {
  RecursiveGuard guard(g_slab.lock);
  return c ? cache_active_objects(c) : 0;
}

bool kmem_cache_for_each_object(const KmemCache* c, KmemObjectVisitor fn, void* context) {
  RecursiveGuard guard(g_slab.lock);
  if (!check_handle(c, "kmem_cache_for_each_object")) return true;
  return for_each_slab(c, [&](const SlabPage* s) {
    for (size_t i = 0; i < c->objects_per_slab; ++i)
      if (!fn(context, object_at(c, s, i), c->object_size, !index_is_free(c, s, i))) return false;
    return true;
  });
}

size_t slab_shrink_all() {
  RecursiveGuard guard(g_slab.lock);
  size_t pages = 0;
  if (!g_slab.ready) return 0;
  thread_cache_release_mine();  // (other threads' caches stay theirs until they exit)
  for (KmemCache* c : g_slab.caches) {
    deactivate(c);
    pages += trim_empty(c, 0);
  }
  // Shrinking the others freed headers into kmem_slab: give its pages back too.
  deactivate(&g_slab.slab_meta);
  return pages + trim_empty(&g_slab.slab_meta, 0);
}

/* --- Counting and checking -------------------------------------------------- */

size_t slab::frozen_slab_in_use(const KmemCache* c, const SlabPage* s) {
  size_t free = s == c->cpu_slab ? cpu_free_count(c) : count_free_bits(c, s);
  return c->objects_per_slab - free;
}

size_t slab::cache_active_objects(const KmemCache* c) {
  size_t n = c->full_count * c->objects_per_slab;
  for (const SlabPage* s : c->partial) n += s->inuse;
  if (c->cpu_slab) n += frozen_slab_in_use(c, c->cpu_slab);
  for (const SlabPage* s : c->private_slabs) n += frozen_slab_in_use(c, s);
  return n;
}

size_t slab::cache_total_slabs(const KmemCache* c) {
  return c->partial_count + c->full_count + c->empty_count + c->private_count + (c->cpu_slab ? 1 : 0);
}

namespace {

bool check_fail(const KmemCache* c, const char* what, const void* where) {
  report_bug(BugClass::FreeListCorruption, "kmem_cache_check(%s): %s (at %p)\n", c->name, what, where);
  return false;
}

bool check_slab(const KmemCache* c, const SlabPage* s, SlabState expect) {
  if (s->magic != kSlabMagic || s->cache != c) return check_fail(c, "slab header magic or cache pointer wrong", s);
  if (s->state != expect) return check_fail(c, "slab on the wrong list", s);
  const char* run = slab_run(c, s);
  if (!c->off_slab && run != reinterpret_cast<const char*>(s)) return check_fail(c, "slab objects pointer wrong", s);
  vm::RunInfo ri;
  if (!g_slab.page_heap->run_of(run, &ri) || ri.start != run || ri.pages != c->pages_per_slab ||
      ri.owner != vm::RunOwner::Slab || ri.owner_ptr != s)
    return check_fail(c, "page heap does not name this slab as the owner of its run", s);
  for (size_t p = 0; p < ri.pages; ++p) {
    const vm::PageInfo* e = g_slab.page_heap->lookup(static_cast<const char*>(ri.start) + p * kPageSize);
    if (!e || e->owner != vm::RunOwner::Slab || e->owner_ptr != s)
      return check_fail(c, "a page of the slab run does not point at the slab", s);
  }
  size_t n = c->objects_per_slab, words = words_of(c);
  for (size_t w = 0; w < kBitmapWords; ++w) {
    uintptr_t valid = w + 1 < words ? ~uintptr_t{0}
                      : w + 1 == words && n % kWordBits ? (uintptr_t{1} << (n % kWordBits)) - 1
                      : w + 1 == words ? ~uintptr_t{0} : 0;
    uintptr_t bits = s->free_bits[w];
    if (expect == SlabState::Cpu && w == s->cur_word) bits = c->cur_bits | c->cur_freed;
    if (bits & ~valid) return check_fail(c, "free bits set past the last object", s);
  }
  size_t free = count_free_bits(c, s);
  if (expect == SlabState::Cpu) {
    if (s->free_bits[s->cur_word] != 0 || s->inuse != n) return check_fail(c, "cpu slab not frozen", s);
    if (c->cur_bits & c->cur_freed) return check_fail(c, "an object both in cur_bits and cur_freed", s);
    if (c->cur_base != s->objects + s->cur_word * kWordBits * c->size) return check_fail(c, "current group base wrong", s);
    return true;
  }
  if (expect == SlabState::Private) {
    if (s->inuse != n) return check_fail(c, "private slab not frozen", s);
    return true;
  }
  if (free + s->inuse != n) return check_fail(c, "inuse + free objects != objects per slab", s);
  if (state_for(c, s->inuse) != expect) return check_fail(c, "slab state does not match inuse", s);
  return true;
}

}  // namespace

bool kmem_cache_check(const KmemCache* c) {
  RecursiveGuard guard(g_slab.lock);
  if (!check_handle(c, "kmem_cache_check")) return false;
  if (c->tc_class < kNumClasses && !thread_cache_check()) return false;
  if (c->cpu_slab) {
    if (!check_slab(c, c->cpu_slab, SlabState::Cpu)) return false;
  } else if (c->cur_bits || c->cur_freed) {
    return check_fail(c, "free objects without a cpu slab", c);
  }
  struct {
    const SlabList* list;
    size_t count;
    SlabState state;
  } lists[] = {{&c->partial, c->partial_count, SlabState::Partial},
               {&c->empty, c->empty_count, SlabState::Empty},
               {&c->private_slabs, c->private_count, SlabState::Private}};
  for (auto& l : lists) {
    if (l.list->size() != l.count) return check_fail(c, "list length != counter", c);
    for (const SlabPage* s : *l.list)
      if (!check_slab(c, s, l.state)) return false;
  }
  size_t full = 0;
  bool ok = true;
  for_each_full_slab(c, [&](const SlabPage* s) {
    ++full;
    return ok = check_slab(c, s, SlabState::Full);
  });
  if (!ok) return false;
  if (full != c->full_count) return check_fail(c, "full slabs found in the page heap != counter", c);
  if (c->empty_count > kKeepEmptySlabs) return check_fail(c, "more empty slabs kept than allowed", c);
  return true;
}

bool slab_free_marks_check() {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready) return true;
  bool ok = true;
  auto check = [&](const KmemCache* c, const SlabPage* s) {
    for (size_t i = 0; i < c->objects_per_slab; ++i) {
      void* p = object_at(c, s, i);
      if (index_is_free(c, s, i) && free_mark_word(p) != g_hot.free_mark) {
        report_free_mark_overwritten(p, "free-object check", false);
        ok = false;
      }
    }
  };
  for (const KmemCache* c : g_slab.caches) {
    if (c->tc_class >= kNumClasses) continue;
    if (c->cpu_slab) check(c, c->cpu_slab);
    const SlabList* lists[] = {&c->partial, &c->empty, &c->private_slabs};
    for (const SlabList* l : lists)
      for (const SlabPage* s : *l) check(c, s);
  }
  return ok;
}

bool slab_check() {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready) return true;
  for (const KmemCache* c : g_slab.caches)
    if (!kmem_cache_check(c)) return false;
  return true;
}

/* --- Bring-up --------------------------------------------------------------- */

namespace {

// A per-boot random value for the free mark (thread_cache.h): only needs to
// be unlikely in callers' data. The time-stamp counter, mixed.
uintptr_t make_free_mark() {
  uint64_t x = __builtin_ia32_rdtsc() ^ reinterpret_cast<uintptr_t>(&g_slab);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return static_cast<uintptr_t>(x) | 1;  // never 0 (what kmalloc leaves there)
}

}  // namespace

namespace {
// Forget the page heap: every lookup (kfree's inline path included) misses.
void detach_page_heap() {
  if (g_slab.page_heap) g_slab.page_heap->publish_top_offset(nullptr);
  g_slab.page_heap = nullptr;
  slab::g_hot.top_offset = 0;
  slab::g_hot.data_start = 0;
  slab::g_hot.data_info = 0;
}
}  // namespace

bool slab_init(vm::PageHeap* page_heap) {
  RecursiveGuard guard(g_slab.lock);
  thread_cache_reset();
  g_slab.ready = false;
  g_slab.caches.reset();
  g_slab.next_id = 1;
  detach_page_heap();
  if (!page_heap || !page_heap->page_info_array()) return false;
  g_slab.page_heap = page_heap;
  // (kfree's inline path gets the page heap's top from kmalloc_init_caches,
  // unless debug mode routes it to the slow path)
  slab::g_hot.data_start = page_heap->data_start();
  slab::g_hot.data_info = reinterpret_cast<uintptr_t>(page_heap->data_info());
  if (!cache_init(&g_slab.slab_meta, "kmem_slab", sizeof(SlabPage), alignof(SlabPage), 0, nullptr, &g_slab, false) ||
      !cache_init(&g_slab.meta, "kmem_cache", sizeof(KmemCache), alignof(KmemCache), 0, nullptr, &g_slab, false) ||
      !cache_init(&g_slab.thread_meta, "kmem_thread", sizeof(ThreadCache), alignof(ThreadCache), 0, nullptr, &g_slab,
                  false))
    return false;
  slab::g_hot.free_mark = make_free_mark();
  kmalloc_init_caches();
  g_slab.ready = true;
  return true;
}

vm::PageHeap* slab_page_heap() { return g_slab.page_heap; }

void slab_shutdown() {
  RecursiveGuard guard(g_slab.lock);
  thread_cache_reset();
  g_slab.ready = false;
  g_slab.caches.reset();
  detach_page_heap();
}
RecursiveSpinlock& slab_lock() { return g_slab.lock; }
void slab_fork_prepare() { g_slab.lock.lock(); }
void slab_fork_parent() { g_slab.lock.unlock(); }
void slab_fork_child() { thread_cache_after_fork_child(); }

}  // namespace kheap
