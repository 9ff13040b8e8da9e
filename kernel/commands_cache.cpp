// kernel/commands_cache.cpp — monitor commands to drive a named object cache by
// hand (and from boot scripts), so kmem_cache_create/alloc/free/shrink/destroy
// can be watched at the prompt or stepped through in gdb:
//   cache_create NAME SIZE [ALIGN]   kmem_cache_create
//   cache_alloc NAME [COUNT]         kmem_cache_alloc, printing each object's 0x address first
//   cache_free NAME ADDR|last        kmem_cache_free (`last`: the object the last cache_alloc returned)
//   cache_shrink NAME                kmem_cache_shrink
//   cache_destroy NAME               kmem_cache_destroy (refused, listing live objects, if any remain)
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "monitor.h"
#include "slab/slab.h"

namespace kheap::kernel {

namespace {

void* g_last_object = nullptr;  // for `cache_free NAME last`

// Names are kept by the cache by pointer: give each created cache its own copy.
constexpr size_t kMaxNamedCaches = 16;
char g_names[kMaxNamedCaches][32];
size_t g_name_count = 0;

KmemCache* cache_arg(const char* cmd, int argc, char** argv, int needed, const char* usage) {
  if (argc < needed) {
    print("usage: %s %s\n", cmd, usage);
    return nullptr;
  }
  KmemCache* c = find_cache(argv[1]);
  if (!c) print("%s: no cache named '%s' (see slabinfo)\n", cmd, argv[1]);
  return c;
}

}  // namespace

MONITOR_COMMAND(cache_create, "NAME SIZE [ALIGN]", "create a named object cache (kmem_cache_create)") {
  if (argc < 3) {
    print("usage: cache_create NAME SIZE [ALIGN]\n");
    return 1;
  }
  int64_t size, align = 0;
  if (!parse_arg("cache_create", argv[2], &size) || (argc > 3 && !parse_arg("cache_create", argv[3], &align)))
    return 1;
  if (size <= 0 || align < 0 || size > 0x7FFFFFFF || align > 0x7FFFFFFF) {
    print("cache_create: SIZE must be positive and ALIGN non-negative\n");
    return 1;
  }
  if (find_cache(argv[1])) {
    print("cache_create: a cache named '%s' exists already\n", argv[1]);
    return 1;
  }
  if (g_name_count == kMaxNamedCaches) {
    print("cache_create: at most %zu caches can be created from the monitor\n", kMaxNamedCaches);
    return 1;
  }
  char* name = g_names[g_name_count];
  str_copy(name, argv[1], sizeof g_names[0]);
  KmemCache* c = kmem_cache_create(name, static_cast<size_t>(size), static_cast<size_t>(align), 0, nullptr);
  if (!c) {
    print("cache_create: kmem_cache_create(%s, %lld, %lld) failed\n", name, static_cast<long long>(size),
          static_cast<long long>(align));
    return 1;
  }
  ++g_name_count;
  print("%p cache %s: object size %zu\n", static_cast<void*>(c), name, kmem_cache_object_size(c));
  return 0;
}

MONITOR_COMMAND(cache_alloc, "NAME [COUNT]", "allocate from a named cache; prints each object's address first") {
  KmemCache* c = cache_arg("cache_alloc", argc, argv, 2, "NAME [COUNT]");
  if (!c) return 1;
  int64_t count = 1;
  if (argc > 2 && !parse_arg("cache_alloc", argv[2], &count)) return 1;
  for (int64_t i = 0; i < count; ++i) {
    void* p = kmem_cache_alloc(c);
    if (!p) {
      print("0x00000000 cache_alloc %s: failed (out of memory) after %lld objects\n", argv[1],
            static_cast<long long>(i));
      return 1;
    }
    g_last_object = p;
    print("%p cache_alloc %s\n", p, argv[1]);
  }
  return 0;
}

MONITOR_COMMAND(cache_free, "NAME ADDR|last", "free an object to a named cache (a bad free is reported, refused)") {
  KmemCache* c = cache_arg("cache_free", argc, argv, 3, "NAME ADDR|last");
  if (!c) return 1;
  void* p;
  if (str_equal(argv[2], "last")) {
    p = g_last_object;
    if (!p) {
      print("cache_free: no object from the last cache_alloc left to free\n");
      return 1;
    }
  } else {
    int64_t a;
    if (!parse_arg("cache_free", argv[2], &a)) return 1;
    p = reinterpret_cast<void*>(static_cast<uintptr_t>(a));
  }
  uint32_t reports = report_count();
  kmem_cache_free(c, p);
  if (report_count() != reports) {
    print("cache_free %s %p: refused\n", argv[1], p);
    return 1;
  }
  if (p == g_last_object) g_last_object = nullptr;
  print("cache_free %s %p: done\n", argv[1], p);
  return 0;
}

MONITOR_COMMAND(cache_shrink, "NAME", "give a cache's empty slabs back (kmem_cache_shrink)") {
  KmemCache* c = cache_arg("cache_shrink", argc, argv, 2, "NAME");
  if (!c) return 1;
  print("cache_shrink %s: %zu pages given back\n", argv[1], kmem_cache_shrink(c));
  return 0;
}

MONITOR_COMMAND(cache_destroy, "NAME", "destroy a cache (refused, listing live objects, if any remain)") {
  KmemCache* c = cache_arg("cache_destroy", argc, argv, 2, "NAME");
  if (!c) return 1;
  if (!kmem_cache_destroy(c)) return 1;
  print("cache_destroy %s: done\n", argv[1]);
  return 0;
}

}  // namespace kheap::kernel
