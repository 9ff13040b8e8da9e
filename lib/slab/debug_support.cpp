// lib/slab/debug_support.cpp — what the slab layer offers its debug mode
// (declared in debug_support.h): plain kmalloc blocks and cache objects,
// "what is this address", and the normal checks (with the normal reports)
// for pointers that are not debug objects.
//
// The public entry points branch to the debug layer (lib/debug/slab_debug.cpp)
// when it is active, so the debug layer cannot call them for its own memory.
// These functions use lib/slab's internals instead (cache_alloc_slow,
// check_slab_object, slab_free_object, the page heap), mirroring kmalloc.cpp,
// with the slab lock held by the debug layer's callers.
#include "core/bitops.h"
#include "core/checked.h"
#include "core/report.h"
#include "slab/debug_support.h"
#include "debug/slab_debug_internal.h"

namespace kheap::slab::debug {

size_t kmalloc_class_index(size_t size) {
  if (size > kKmallocMaxClass) return kNumClasses;
  if (size <= kSmallMax) return g_hot.size_class[size];
  size_t i = g_hot.size_class[kSmallMax];
  while (kClassSizes[i] < size) ++i;
  return i;
}

KmemCache* kmalloc_class_cache(size_t size) {
  size_t i = kmalloc_class_index(size);
  return i < kNumClasses ? g_hot.class_cache[i] : nullptr;
}

void* alloc_block(size_t size, size_t align, size_t* usable) {
  if (size <= kKmallocMaxClass && align <= kPageSize) {
    for (size_t i = kmalloc_class_index(size); i < kNumClasses; ++i) {
      KmemCache* c = g_hot.class_cache[i];
      if (c->align < align) continue;
      void* p = cache_alloc_slow(c);
      if (p) *usable = c->size;
      return p;
    }
  }
  if (size == 0) size = 1;
  void* p = large_alloc(size, align);  // kmalloc.cpp's
  if (p) *usable = pages_for(size) << kPageShift;
  return p;
}

void* alloc_object(KmemCache* cache) { return cache_alloc_slow(cache); }

Where locate(const void* p) {
  Where w{};
  w.kind = Where::None;
  if (!g_slab.ready) return w;
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (SlabPage* s = slab_page_of(p)) {
    if (s->magic != kSlabMagic || !s->cache || s->cache->magic != kCacheMagic) return w;
    KmemCache* c = s->cache;
    uintptr_t first = reinterpret_cast<uintptr_t>(s->objects);
    if (a < first) return w;
    size_t index = (a - first) / c->size;
    if (index >= c->objects_per_slab) return w;
    w.kind = Where::Slab;
    w.cache = c;
    w.slab = s;
    w.index = index;
    w.start = static_cast<char*>(object_at(c, s, index));
    w.usable = c->size;
    w.offset = a - reinterpret_cast<uintptr_t>(w.start);
    w.allocated = !index_is_free(c, s, index);
    w.run = slab_run(c, s);
    w.run_pages = c->pages_per_slab;
    return w;
  }
  vm::PageHeap* ph = g_slab.page_heap;
  if (a < ph->data_start() || a >= ph->top()) return w;
  vm::RunInfo ri;
  if (!ph->run_of(p, &ri) || ri.owner != vm::RunOwner::Large) return w;
  size_t head = ph->lookup(ri.start)->tag;
  char* start = static_cast<char*>(ri.start) + (head << kPageShift);
  if (a < reinterpret_cast<uintptr_t>(start)) return w;
  w.kind = Where::Large;
  w.start = start;
  w.usable = (ri.pages - head) << kPageShift;
  w.offset = a - reinterpret_cast<uintptr_t>(start);
  w.allocated = true;
  w.run = ri.start;
  w.run_pages = ri.pages;
  return w;
}

void free_block(const Where& w) {
  KHEAP_ASSERT(w.allocated && w.kind != Where::None);
  if (w.kind == Where::Slab) {
    slab_free_object(w.cache, w.slab, w.index);
  } else {
    bool ok = g_slab.page_heap->free_run(w.run);
    KHEAP_ASSERT(ok);
  }
}

bool check_plain(const void* p, KmemCache* expected, const char* op, bool frees, Where* out) {
  BugClass bad = frees ? BugClass::InvalidFree : BugClass::BadArgument;
  if (!g_slab.ready) {
    report_bug(BugClass::BadArgument, "%s(%p): the slab allocator is not initialized\n", op, p);
    return false;
  }
  if (SlabPage* s = slab_page_of(p)) {
    if (!check_slab_object(expected, s, p, op, frees)) return false;
    *out = locate(p);
    return out->kind == Where::Slab && out->offset == 0;
  }
  vm::PageHeap* ph = g_slab.page_heap;
  vm::RunInfo ri;
  if (!large_run_or_report(p, op, frees, &ri)) return false;
  if (expected) {
    report_bug(BugClass::WrongHeap, "%s(%s, %p): not an object of any cache (a large kmalloc block)\n", op,
               expected->name, p);
    return false;
  }
  Where w = locate(p);
  if (w.kind != Where::Large || w.offset != 0) {
    size_t head = ph->lookup(ri.start)->tag;
    uintptr_t start = reinterpret_cast<uintptr_t>(ri.start) + (head << kPageShift);
    report_bug(bad,
               "%s(%p): not the start of a large block: %zd bytes into the block at %p (%zu pages, %zu bytes asked)\n",
               op, p, static_cast<ptrdiff_t>(reinterpret_cast<uintptr_t>(p) - start), reinterpret_cast<void*>(start),
               ri.pages - head,
               reinterpret_cast<size_t>(ri.owner_ptr));
    return false;
  }
  *out = w;
  return true;
}

KmemCache* create_cache(const char* name, size_t size, size_t align, uint32_t flags, KmemCtor ctor) {
  if (!g_slab.ready) return nullptr;
  // kmem_cache_create's create(): the cache of caches is never a debug cache.
  void* mem = cache_alloc_slow(&g_slab.meta);
  if (!mem) return nullptr;
  auto* c = static_cast<KmemCache*>(mem);
  if (!cache_init(c, name, size, align, flags, ctor, nullptr, false)) {
    cache_free_checked(&g_slab.meta, mem, "kmem_cache_create");
    return nullptr;
  }
  return c;
}

}  // namespace kheap::slab::debug
