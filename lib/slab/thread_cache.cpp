// lib/slab/thread_cache.cpp — the slow sides of the per-thread caches:
// creating a thread's cache, refilling and draining magazines in batches
// under the slab lock, the search behind the double-free check, release at
// thread exit and after fork(). The pops and pushes themselves are inline in
// fast_path.h. Concepts and invariants: thread_cache.h.
#include "slab/thread_cache.h"
#include "slab/fast_path.h"

#include <new>

#include "core/format.h"
#include "core/report.h"
#include "core/spinlock.h"
#include "platform/platform.h"

namespace kheap::slab {

KHEAP_PER_THREAD constinit ThreadCache* t_thread_cache = &g_no_thread_cache;
constinit ThreadCache g_no_thread_cache{};
constinit ThreadCache g_exited_thread_cache{};

namespace {

// Every live thread cache (under the slab lock).
ThreadCacheList g_thread_caches;
uintptr_t g_next_serial;  // the last ThreadCache::serial handed out (under the slab lock)
// Live serials by serial % kLiveSlots, so that thread_cache_is_live is O(1)
// (the refill's slab scan asks it for every other thread's slab it meets,
// under the lock: walking the list made one refill take ~450 us with 256
// idle threads). A new serial skips to a free slot; g_live_unslotted live
// caches found none (then is_live walks the list).
constexpr size_t kLiveSlots = 1024;
uintptr_t g_live[kLiveSlots];
size_t g_live_unslotted;

bool is_placeholder(const ThreadCache* tc) { return tc == &g_no_thread_cache || tc == &g_exited_thread_cache; }

void release_at_exit(void* arg);

// The calling thread's cache, created on first use; nullptr if the thread has
// exited (its exit callback ran) or there is no memory for a cache.
ThreadCache* own_cache_locked() {
  ThreadCache* tc = t_thread_cache;
  if (!is_placeholder(tc)) return tc;
  if (tc == &g_exited_thread_cache || !g_slab.ready) return nullptr;
  void* mem = kmem_cache_alloc(&g_slab.thread_meta);
  if (!mem) return nullptr;
  tc = new (mem) ThreadCache{};
  for (size_t i = 0; i < kNumClasses; ++i)
    tc->alloc[i].capacity = tc->freed[i].capacity = magazine_capacity(kClassSizes[i]);
  tc->magic = kThreadCacheMagic;
  tc->serial = ++g_next_serial;
  for (size_t tries = 1; g_live[tc->serial % kLiveSlots] && tries < kLiveSlots; ++tries) tc->serial = ++g_next_serial;
  if (!g_live[tc->serial % kLiveSlots]) g_live[tc->serial % kLiveSlots] = tc->serial;
  else ++g_live_unslotted;
  g_thread_caches.push_back(tc);
  t_thread_cache = tc;
  kheap_platform_at_thread_exit(release_at_exit, tc);
  return tc;
}

// Return `n` objects from the bottom of magazine `m` (the ones cached longest)
// to their slabs. Objects freed together often share a slab: a run of them
// sets its free bits one by one and does the slab's bookkeeping once. The
// free marks stay as they are (slab_release_object).
void drain(Magazine& m, size_t n) {
  KHEAP_ASSERT(n <= m.count);
  KmemCache* c = nullptr;
  SlabPage* s = nullptr;
  uint32_t pending = 0;           // objects of s released but not yet accounted
  uintptr_t first = 0, span = 0;  // s's objects: [first, first + span)
  // (s's and its cache's fields in locals: the bitmap stores below could
  // alias them as far as the compiler knows)
  uintptr_t inv = 0;
  unsigned shift = 0;
  size_t cpu_word = ~size_t{0};   // s's word whose bits are lent to the cache (cur_freed), if s is the cpu slab
  for (size_t j = 0; j < n; ++j) {
    uintptr_t off = reinterpret_cast<uintptr_t>(m.slots()[j]) - first;
    if (off >= span) {
      if (pending) slab_account_released(c, s, pending);  // (s may be gone after this)
      s = slab_page_of(m.slots()[j]);
      KHEAP_ASSERT(s && s->magic == kSlabMagic);
      c = s->cache;
      first = reinterpret_cast<uintptr_t>(s->objects);
      span = c->objects_per_slab * c->size;
      inv = c->inv;
      shift = c->shift;
      cpu_word = s == c->cpu_slab ? s->cur_word : ~size_t{0};
      pending = 0;
      off = reinterpret_cast<uintptr_t>(m.slots()[j]) - first;
    }
    size_t index = rotr(off * inv, shift);  // (object_index)
    KHEAP_ASSERT_INTERNAL(index == object_index(c, s, m.slots()[j]) && !index_is_free(c, s, index));
    size_t w = index / kWordBits;
    *(w == cpu_word ? &c->cur_freed : &s->free_bits[w]) |= uintptr_t{1} << (index % kWordBits);
    ++pending;
  }
  if (pending) slab_account_released(c, s, pending);
  m.count -= n;
  memmove(m.slots(), m.slots() + n, m.count * sizeof(void*));
}

// Objects move from a freed magazine into its class's alloc magazine
// without the lock (their slots already copied): `to`'s new count is
// published before `from`'s, so that another thread looking for an object
// (thread_cache_holding: freed first, then alloc) sees it in at least one of
// the two, not in neither. For a moment it is in both: a fork() that catches
// a thread there leaves the child to drop the copies (drop_torn_moves).
void publish_move(Magazine& from, uintptr_t from_count, Magazine& to, uintptr_t to_count) {
  __atomic_store_n(&to.count, to_count, __ATOMIC_RELEASE);
  __atomic_store_n(&from.count, from_count, __ATOMIC_RELEASE);
}

// In the child after fork(), for the cache of a thread that did not come
// along: objects in both magazines of a class (it was between the two
// stores of publish_move) stay in the alloc one only.
void drop_torn_moves(ThreadCache* tc) {
  for (size_t cls = 0; cls < kNumClasses; ++cls) {
    Magazine& a = tc->alloc[cls];
    Magazine& f = tc->freed[cls];
    uintptr_t kept = 0;
    for (uintptr_t j = 0; j < f.count; ++j) {
      bool in_alloc = false;
      for (uintptr_t k = 0; k < a.count && !in_alloc; ++k) in_alloc = a.slots()[k] == f.slots()[j];
      if (!in_alloc) f.slots()[kept++] = f.slots()[j];
    }
    f.count = kept;
  }
}

// Move every object of `from` into the empty magazine `to`.
void move_all(Magazine& from, Magazine& to) {
  KHEAP_ASSERT(to.count == 0 && from.count <= to.capacity);
  memcpy(to.slots(), from.slots(), from.count * sizeof(void*));
  publish_move(from, 0, to, from.count);
}

void release_locked(ThreadCache* tc) {
  thread_cache_drain_all(tc);
  for (size_t cls = 0; cls < kNumClasses; ++cls) {
    if (SlabPage* s = tc->slab[cls]) {
      s->home = 0;
      private_slab_release(g_hot.class_cache[cls], s);
      tc->slab[cls] = nullptr;
    }
    private_slabs_orphan(g_hot.class_cache[cls], tc->serial);
  }
  g_thread_caches.remove(tc);
  if (g_live[tc->serial % kLiveSlots] == tc->serial) g_live[tc->serial % kLiveSlots] = 0;
  else --g_live_unslotted;
  tc->magic = 0;
  kmem_cache_free(&g_slab.thread_meta, tc);
}

// The exit callback, on the exiting thread: `arg` is its cache. Released only
// if it is one of this slab layer's (not left over from before a slab_init or
// slab_shutdown, which forget every cache without touching them).
void release_at_exit(void* arg) {
  auto* tc = static_cast<ThreadCache*>(arg);
  if (!tc) return;
  RecursiveGuard g(g_slab.lock);
  for (ThreadCache* live : g_thread_caches)
    if (live == tc) {
      release_locked(tc);
      break;
    }
  // Later calls of this thread (other exit callbacks may still free) go to
  // the slabs.
  t_thread_cache = &g_exited_thread_cache;
}

// Drop (report) overwritten objects from the top of `m`; true if an intact one is on top.
bool intact_top(Magazine& m) {
  while (m.count) {
    void* p = m.slots()[m.count - 1];
    if (free_mark_word(p) == g_hot.free_mark) return true;
    --m.count;
    report_free_mark_overwritten(p, "kmalloc");
  }
  return false;
}

}  // namespace

void report_free_mark_overwritten(void* p, const char* where, bool taken_out) {
  RecursiveGuard g(g_slab.lock);
  const SlabPage* s = slab_page_of(p);
  const KmemCache* c = s ? s->cache : nullptr;
  char bytes[3 * 16 + 1];
  format_hex_bytes(bytes, sizeof bytes, p, c && c->size < 16 ? c->size : 16);
  // The object stays allocated as far as its slab knows: it is never handed
  // out again (a leak of one object, rather than memory someone may still be
  // writing to).
  report_bug(BugClass::UseAfterFreeWrite,
             "%s: object %zu of cache %s (object size %zu) at %p was written after it was freed\n"
             "  first bytes: %s (its first word should hold the free mark %#zx)\n"
             "  %s\n",
             where, c ? static_cast<size_t>(object_index(c, s, p)) : ~size_t{0}, c ? c->name : "?",
             c ? c->size : 0, p, bytes, static_cast<size_t>(g_hot.free_mark),
             taken_out ? "the object is taken out of use"
                       : "the object is free in its slab; the refill that reaches it takes it out of use");
}

void* magazine_reload_pop(size_t size) {
  uintptr_t offset = g_hot.fast_magazine[size];
  if (offset == alloc_magazine_offset(kNumClasses)) return nullptr;  // routed to the slow paths (debug mode, route_to_slow_paths)
  ThreadCache* tc = t_thread_cache;  // (the placeholders' magazines are empty: nothing moves)
  size_t cls = (offset - alloc_magazine_offset(0)) / sizeof(Magazine);
  Magazine& a = tc->alloc[cls];
  Magazine& f = tc->freed[cls];
  uintptr_t n = f.count;
  if (a.count != 0 || n == 0) return nullptr;
  memcpy(a.slots(), f.slots(), n * sizeof(void*));  // (move_all, without its checks: n <= f.capacity == a.capacity)
  publish_move(f, 0, a, n);
  return magazine_pop(offset);
}

bool thread_cache_refill(size_t cls) {
  ThreadCache* tc = t_thread_cache;
  if (!is_placeholder(tc)) {
    Magazine& a = tc->alloc[cls];
    if (a.count && intact_top(a)) return true;
    if (!a.count && tc->freed[cls].count) {  // the thread's own frees: no lock
      move_all(tc->freed[cls], a);
      if (intact_top(a)) return true;
    }
  }
  RecursiveGuard g(g_slab.lock);
  if (!(tc = own_cache_locked())) return false;
  Magazine& m = tc->alloc[cls];
  if (intact_top(m)) return true;
  // A full magazine, from the thread's private slab of the class (objects
  // without an intact free mark are reported and left out there).
  uintptr_t n = m.count;
  n += private_slab_take(g_hot.class_cache[cls], &tc->slab[cls], tc->serial, m.slots() + n, m.capacity - n);
  m.count = n;
  return n != 0;
}

bool thread_cache_make_room(size_t cls) {
  RecursiveGuard g(g_slab.lock);
  ThreadCache* tc = own_cache_locked();
  if (!tc) return false;
  Magazine& a = tc->alloc[cls];
  Magazine& f = tc->freed[cls];
  if (a.count == a.capacity && f.count == f.capacity) drain(f, f.capacity / 2);
  return true;
}

const ThreadCache* thread_cache_holding(const void* object) {
  RecursiveGuard g(g_slab.lock);
  const SlabPage* s = slab_page_of(object);
  if (!s) return nullptr;
  size_t cls = s->cache->tc_class;
  if (cls >= kNumClasses) return nullptr;
  for (const ThreadCache* tc : g_thread_caches) {
    // (freed first: objects move freed -> alloc without the lock, see publish_move)
    const Magazine* both[] = {&tc->freed[cls], &tc->alloc[cls]};
    for (const Magazine* m : both) {
      // Another thread may be pushing or popping: read its count once, and
      // its slots as they are (this is a check, not bookkeeping).
      uintptr_t n = __atomic_load_n(&m->count, __ATOMIC_ACQUIRE);
      for (uintptr_t j = 0; j < n && j < kMagazineMax; ++j)
        if (__atomic_load_n(&m->slots()[j], __ATOMIC_RELAXED) == object) return tc;
    }
  }
  return nullptr;
}

bool thread_cache_is_live(uintptr_t serial) {
  if (g_live[serial % kLiveSlots] == serial) return true;
  if (!g_live_unslotted) return false;
  for (const ThreadCache* live : g_thread_caches)
    if (live->serial == serial) return true;
  return false;
}

void thread_cache_drain_all(ThreadCache* tc) {
  RecursiveGuard g(g_slab.lock);
  for (Magazine& m : tc->alloc) drain(m, m.count);
  for (Magazine& m : tc->freed) drain(m, m.count);
}

size_t thread_cache_objects(size_t cls) {
  RecursiveGuard g(g_slab.lock);
  size_t n = 0;
  for (const ThreadCache* tc : g_thread_caches)
    n += __atomic_load_n(&tc->alloc[cls].count, __ATOMIC_RELAXED) + __atomic_load_n(&tc->freed[cls].count, __ATOMIC_RELAXED);
  return n;
}

bool thread_cache_check() {
  RecursiveGuard g(g_slab.lock);
  size_t private_slabs[kNumClasses] = {};
  for (const ThreadCache* tc : g_thread_caches) {
    if (tc->magic != kThreadCacheMagic) {
      report_bug(BugClass::FreeListCorruption, "thread cache %p: bad magic %#x\n", static_cast<const void*>(tc),
                 tc->magic);
      return false;
    }
    // (another thread may be between its pop's two xors: then the mark is in it)
    uintptr_t empty = __atomic_load_n(&tc->empty_word, __ATOMIC_RELAXED);
    if (empty != kEmptyWord && empty != (kEmptyWord ^ g_hot.free_mark)) {
      report_bug(BugClass::FreeListCorruption, "thread cache %p: empty word %#zx, expected %#zx\n",
                 static_cast<const void*>(tc), static_cast<size_t>(empty), static_cast<size_t>(kEmptyWord));
      return false;
    }
    if (tc->alloc[kNumClasses].stack[0] != &tc->empty_word || tc->alloc[kNumClasses].count != 0) {
      report_bug(BugClass::FreeListCorruption, "thread cache %p: the always-empty magazine holds %zu (bottom %p)\n",
                 static_cast<const void*>(tc), static_cast<size_t>(tc->alloc[kNumClasses].count),
                 tc->alloc[kNumClasses].stack[0]);
      return false;
    }
    for (size_t k = 0; k < 2 * kNumClasses; ++k) {
      size_t cls = k % kNumClasses;
      const Magazine& m = k < kNumClasses ? tc->alloc[cls] : tc->freed[cls];
      const KmemCache* c = g_hot.class_cache[cls];
      if (m.stack[0] != &tc->empty_word) {
        report_bug(BugClass::FreeListCorruption, "thread cache %p: magazine %s: bottom %p, expected %p\n",
                   static_cast<const void*>(tc), c->name, m.stack[0], static_cast<const void*>(&tc->empty_word));
        return false;
      }
      if (m.count > m.capacity || m.capacity > kMagazineMax) {
        report_bug(BugClass::FreeListCorruption, "thread cache %p: magazine %s holds %zu of %zu\n",
                   static_cast<const void*>(tc), c->name, m.count, m.capacity);
        return false;
      }
      for (uintptr_t j = 0; j < m.count; ++j) {
        void* p = m.slots()[j];
        const SlabPage* s = slab_page_of(p);
        bool ok = s && s->magic == kSlabMagic && s->cache == c && object_index(c, s, p) < c->objects_per_slab &&
                  !index_is_free(c, s, object_index(c, s, p));
        for (uintptr_t k = 0; ok && k < j; ++k) ok = m.slots()[k] != p;
        if (ok && free_mark_word(p) != g_hot.free_mark) {
          report_free_mark_overwritten(p, "thread cache check");
          return false;
        }
        if (!ok) {
          report_bug(BugClass::FreeListCorruption,
                     "thread cache %p: magazine %s slot %zu (%p) is not a distinct cached object of the class "
                     "(free mark %#zx)\n",
                     static_cast<const void*>(tc), c->name, j, p, s ? static_cast<size_t>(free_mark_word(p)) : 0);
          return false;
        }
      }
    }
    for (size_t cls = 0; cls < kNumClasses; ++cls) {
      const SlabPage* s = tc->slab[cls];
      if (!s) continue;
      ++private_slabs[cls];
      if (s->magic != kSlabMagic || s->cache != g_hot.class_cache[cls] || s->state != SlabState::Private) {
        report_bug(BugClass::FreeListCorruption, "thread cache %p: private slab %p of %s is not one (magic %#x, state %u)\n",
                   static_cast<const void*>(tc), static_cast<const void*>(s), g_hot.class_cache[cls]->name, s->magic,
                   static_cast<unsigned>(s->state));
        return false;
      }
    }
  }
  for (size_t cls = 0; cls < kNumClasses; ++cls)
    if (private_slabs[cls] != g_hot.class_cache[cls]->private_count) {
      report_bug(BugClass::FreeListCorruption, "%s: %zu private slabs, but the thread caches hold %zu\n",
                 g_hot.class_cache[cls]->name, g_hot.class_cache[cls]->private_count, private_slabs[cls]);
      return false;
    }
  return true;
}

}  // namespace kheap::slab

bool kheap::thread_caches_check() { return slab::thread_cache_check(); }

namespace kheap::slab {

namespace {
// The placeholders' empty words are shared by every thread without a cache:
// a fork (or a slab_init) that caught a thread between its pop's two xors
// would leave kEmptyWord ^ mark there — harmless until a new mark equal to
// that ^ kEmptyWord came along, but set them right whenever nobody can be
// popping.
void reset_placeholder_empty_words() {
  g_no_thread_cache.empty_word = kEmptyWord;
  g_exited_thread_cache.empty_word = kEmptyWord;
}
}  // namespace

void thread_cache_reset() {
  g_thread_caches.reset();
  for (uintptr_t& l : g_live) l = 0;
  g_live_unslotted = 0;
  t_thread_cache = &g_no_thread_cache;
  reset_placeholder_empty_words();
}

void thread_cache_release_mine() {
  RecursiveGuard g(g_slab.lock);
  if (is_placeholder(t_thread_cache)) return;
  release_locked(t_thread_cache);
  t_thread_cache = &g_no_thread_cache;  // a new one on the next miss
  // Forget the exit callback too: the freed cache's memory may become
  // another thread's cache, which this thread's exit must not release.
  kheap_platform_at_thread_exit(release_at_exit, nullptr);
}

void thread_cache_after_fork_child() {
  g_slab.lock.reset_after_fork();
  RecursiveGuard g(g_slab.lock);
  // Only the forking thread exists in the child: the other threads' caches
  // will never be used or released by them. Their objects go back.
  for (ThreadCache* tc = g_thread_caches.front(); tc;) {
    ThreadCache* next = g_thread_caches.next(tc);
    if (tc != t_thread_cache) {
      drop_torn_moves(tc);
      release_locked(tc);
    }
    tc = next;
  }
  reset_placeholder_empty_words();
}

}  // namespace kheap::slab
