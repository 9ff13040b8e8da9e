// lib/slab/slab_report.cpp — what the slab layer tells people: the
// /proc/slabinfo (version 2.1) view, per-cache statistics, and "what is this
// address" for the `block` command and reports. Read-only: nothing here
// changes allocator state (free-ness comes from the slab's free bits and the
// thread caches' magazines). Like /proc/slabinfo with SLUB's per-CPU slabs,
// active_objs counts objects cached in magazines as active.
#include "core/format.h"
#include "core/string_util.h"
#include "slab/cache_internal.h"
#include "slab/thread_cache.h"

namespace kheap {

using namespace slab;

namespace {

void fill_stats(const KmemCache* c, CacheStats* out) {
  out->name = c->name;
  out->object_size = c->size;
  out->active_objects = cache_active_objects(c);
  out->total_objects = cache_total_slabs(c) * c->objects_per_slab;
  out->objects_per_slab = c->objects_per_slab;
  out->pages_per_slab = c->pages_per_slab;
  // A slab is active when it holds a live object.
  size_t active = c->partial_count + c->full_count;
  if (c->cpu_slab && frozen_slab_in_use(c, c->cpu_slab)) ++active;
  for (const SlabPage* s : c->private_slabs) active += frozen_slab_in_use(c, s) != 0;
  out->active_slabs = active;
  out->total_slabs = cache_total_slabs(c);
}

}  // namespace

size_t cache_count() {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready) return 0;
  return g_slab.caches.size();
}

bool cache_stats(size_t index, CacheStats* out) {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready) return false;
  for (const KmemCache* c : g_slab.caches) {
    if (index-- == 0) {
      fill_stats(c, out);
      return true;
    }
  }
  return false;
}

KmemCache* find_cache(const char* name) {
  RecursiveGuard guard(g_slab.lock);
  if (!g_slab.ready || !name) return nullptr;
  for (KmemCache* c : g_slab.caches)
    if (str_equal(c->name, name)) return c;
  return nullptr;
}

void print_slabinfo() {
  RecursiveGuard guard(g_slab.lock);
  print("slabinfo - version: 2.1\n");
  print("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
        "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n");
  if (!g_slab.ready) return;
  for (const KmemCache* c : g_slab.caches) {
    CacheStats st;
    fill_stats(c, &st);
    print("%-17s %6zu %6zu %6zu %4zu %4zu : tunables %4u %4u %4u : slabdata %6zu %6zu %6u\n", st.name,
          st.active_objects, st.total_objects, st.object_size, st.objects_per_slab, st.pages_per_slab, 0u, 0u, 0u,
          st.active_slabs, st.total_slabs, 0u);
  }
}

void print_thread_cache() {
  RecursiveGuard guard(g_slab.lock);
  const ThreadCache* tc = t_thread_cache;
  if (tc == &g_no_thread_cache || tc == &g_exited_thread_cache) {
    print("thread cache: none yet (made on the first kmalloc that misses)\n");
    return;
  }
  print("thread cache %p: magazines with objects (alloc: kmalloc pops, kfree pushes; freed: where kfree pushes when alloc is full)\n",
        static_cast<const void*>(tc));
  size_t total = 0, bytes = 0;
  for (size_t i = 0; i < kNumClasses; ++i) {
    const Magazine& a = tc->alloc[i];
    const Magazine& f = tc->freed[i];
    if (!a.count && !f.count) continue;
    print("  %-14s alloc %2zu/%zu  freed %2zu/%zu\n", g_hot.class_cache[i]->name, a.count, a.capacity, f.count,
          f.capacity);
    total += a.count + f.count;
    bytes += (a.count + f.count) * kClassSizes[i];
  }
  print("  %zu objects cached, %zu bytes\n", total, bytes);
}

BlockInfo describe_address(const void* addr) {
  RecursiveGuard guard(g_slab.lock);
  BlockInfo b{};
  b.kind = BlockInfo::NotInHeap;
  b.object_index = ~size_t{0};
  if (!g_slab.ready) return b;
  const vm::PageHeap* ph = g_slab.page_heap;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t window_base = reinterpret_cast<uintptr_t>(ph->page_info_array());
  if (a < window_base || a >= ph->top()) return b;
  if (a < ph->data_start()) {
    b.kind = BlockInfo::PageHeapMetadata;
    b.run_start = reinterpret_cast<void*>(window_base);
    b.run_pages = ph->metadata_pages_reserved();
    b.offset = a - window_base;
    return b;
  }
  vm::RunInfo ri;
  if (!ph->run_of(addr, &ri)) {
    b.kind = BlockInfo::FreePages;
    ph->for_each_free_range([&](void* start, size_t pages) {
      uintptr_t s = reinterpret_cast<uintptr_t>(start);
      if (a >= s && a < s + (pages << kPageShift)) {
        b.run_start = start;
        b.run_pages = pages;
        b.offset = a - s;
      }
    });
    return b;
  }
  b.run_start = ri.start;
  b.run_pages = ri.pages;
  b.offset = a - reinterpret_cast<uintptr_t>(ri.start);
  if (ri.owner == vm::RunOwner::Large) {
    b.kind = BlockInfo::LargeBlock;
    size_t head = ph->lookup(ri.start)->tag;
    b.object_start = static_cast<char*>(ri.start) + (head << kPageShift);
    b.object_size = reinterpret_cast<size_t>(ri.owner_ptr);  // the size asked for
    b.offset = a - reinterpret_cast<uintptr_t>(b.object_start);
    b.allocated = a >= reinterpret_cast<uintptr_t>(b.object_start);
    return b;
  }
  if (ri.owner != vm::RunOwner::Slab) {
    b.kind = BlockInfo::OtherRun;
    return b;
  }
  const auto* s = static_cast<const SlabPage*>(ri.owner_ptr);
  const KmemCache* c = s->cache;
  b.cache = c;
  b.cache_name = c->name;
  b.object_size = c->size;
  uintptr_t first = reinterpret_cast<uintptr_t>(s->objects);
  size_t index = a >= first ? (a - first) / c->size : 0;
  if (a < first || index >= c->objects_per_slab) {
    b.kind = BlockInfo::SlabHeader;  // the header, padding or the unused tail
    return b;
  }
  b.kind = BlockInfo::SlabObject;
  b.object_index = index;
  b.object_start = object_at(c, s, index);
  b.offset = a - reinterpret_cast<uintptr_t>(b.object_start);
  // (A search even when the free mark is gone: an object whose mark a
  // use-after-free write destroyed is still free, in its magazine.)
  b.in_thread_cache = c->tc_class < kNumClasses && thread_cache_holding(b.object_start);
  b.allocated = !object_is_free(c, s, b.object_start) && !b.in_thread_cache;
  return b;
}

}  // namespace kheap
