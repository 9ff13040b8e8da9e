// kernel/commands_slab.cpp — monitor commands for the slab layer:
//   slabinfo        /proc/slabinfo (version 2.1) of every cache
//   tcache          the CPU's thread cache (magazines of free kmalloc objects)
//   block ADDR      what ADDR is: page-heap run, slab, cache, object index and offset, allocated or free
//   kmalloc N       allocate N bytes; prints the object's 0x address first on the line
//   kfree ADDR      free it (a bad or repeated kfree is reported and refused; the prompt comes back)
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "monitor.h"
#include "slab/slab.h"

namespace kheap::kernel {

namespace {

void* g_last_kmalloc = nullptr;  // for `kfree last` (kept after the free, so `kfree last` twice is a double free)

uint32_t u32(const void* p) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)); }

// ADDR, or `last` (what the last `kmalloc` returned), or `last+N`.
bool parse_address(const char* cmd, int argc, char** argv, void** out) {
  int64_t a;
  if (argc < 2) {
    print("usage: %s ADDR|last[+N]\n", cmd);
    return false;
  }
  const char* text = argv[1];
  if (text[0] == 'l' && text[1] == 'a' && text[2] == 's' && text[3] == 't') {
    int64_t offset = 0;
    if (text[4] == '+' && !parse_arg(cmd, text + 5, &offset)) return false;
    if (text[4] != 0 && text[4] != '+') {
      print("%s: bad address '%s'\n", cmd, text);
      return false;
    }
    *out = static_cast<char*>(g_last_kmalloc) + offset;
    return true;
  }
  if (!parse_arg(cmd, text, &a)) return false;
  if (a < 0 || a > 0xFFFFFFFFll) {
    print("%s: address out of range\n", cmd);
    return false;
  }
  *out = reinterpret_cast<void*>(static_cast<uintptr_t>(a));
  return true;
}

}  // namespace

void* monitor_last_kmalloc() { return g_last_kmalloc; }  // for commands_debug.cpp (poke last+N)

MONITOR_COMMAND(slabinfo, "", "the slab caches, in /proc/slabinfo 2.1 format") {
  print_slabinfo();
  return 0;
}

MONITOR_COMMAND(tcache, "", "the CPU's thread cache: objects in its magazines, per size class") {
  print_thread_cache();
  return 0;
}

MONITOR_COMMAND(block, "ADDR|last[+N]", "what ADDR is: run, slab, cache, object index and offset, allocated or free") {
  void* p;
  if (!parse_address("block", argc, argv, &p)) return 1;
  BlockInfo b = describe_address(p);
  switch (b.kind) {
    case BlockInfo::NotInHeap:
      print("0x%08x: not in the kernel heap\n", u32(p));
      break;
    case BlockInfo::PageHeapMetadata:
      print("0x%08x: page-heap metadata (PageInfo array at 0x%08x, %zu pages), offset %zu\n", u32(p),
            u32(b.run_start), b.run_pages, b.offset);
      break;
    case BlockInfo::FreePages:
      print("0x%08x: free pages of the page heap (range 0x%08x, %zu pages), offset %zu\n", u32(p), u32(b.run_start),
            b.run_pages, b.offset);
      break;
    case BlockInfo::SlabHeader:
      print("0x%08x: slab header/padding of a slab of cache %s (run 0x%08x, %zu pages), offset %zu\n", u32(p),
            b.cache_name, u32(b.run_start), b.run_pages, b.offset);
      break;
    case BlockInfo::SlabObject:
      print("0x%08x: object %zu of cache %s (object size %zu) at 0x%08x, offset %zu, %s; slab run 0x%08x (%zu pages)\n",
            u32(p), b.object_index, b.cache_name, b.object_size, u32(b.object_start), b.offset,
            b.allocated ? "allocated" : b.in_thread_cache ? "free (in the CPU's thread cache)" : "free",
            u32(b.run_start), b.run_pages);
      break;
    case BlockInfo::LargeBlock:
      print("0x%08x: large kmalloc block at 0x%08x (%zu bytes asked, run 0x%08x, %zu pages), offset %zd, %s\n",
            u32(p), u32(b.object_start), b.object_size, u32(b.run_start), b.run_pages,
            static_cast<ptrdiff_t>(b.offset), b.allocated ? "allocated" : "alignment padding");
      break;
    case BlockInfo::OtherRun:
      print("0x%08x: inside a page-heap run 0x%08x (%zu pages) that is not the slab allocator's, offset %zu\n",
            u32(p), u32(b.run_start), b.run_pages, b.offset);
      break;
  }
  return 0;
}

MONITOR_COMMAND(kmalloc, "N", "allocate N bytes with kmalloc; prints the address first") {
  int64_t n;
  if (argc < 2) {
    print("usage: kmalloc N\n");
    return 1;
  }
  if (!parse_arg("kmalloc", argv[1], &n)) return 1;
  if (n < 0) {
    print("kmalloc: size must not be negative\n");
    return 1;
  }
  if (static_cast<uint64_t>(n) > SIZE_MAX) {
    print("kmalloc: %lld does not fit a size_t (%zu bits)\n", static_cast<long long>(n), sizeof(size_t) * 8);
    return 1;
  }
  void* p = kmalloc(static_cast<size_t>(n));
  if (!p) {
    print("0x00000000 kmalloc(%lld) failed\n", static_cast<long long>(n));
    return 1;
  }
  g_last_kmalloc = p;
  BlockInfo b = describe_address(p);
  if (b.kind == BlockInfo::SlabObject)
    print("0x%08x kmalloc(%lld): usable %zu, cache %s, object %zu\n", u32(p), static_cast<long long>(n), ksize(p),
          b.cache_name, b.object_index);
  else
    print("0x%08x kmalloc(%lld): usable %zu, large block (%zu pages)\n", u32(p), static_cast<long long>(n), ksize(p),
          b.run_pages);
  return 0;
}

MONITOR_COMMAND(kfree, "ADDR|last[+N]", "kfree ADDR (last: what the last kmalloc returned); bad frees are refused") {
  void* p;
  if (!parse_address("kfree", argc, argv, &p)) return 1;
  if (!p) {
    print("kfree: kfree(NULL) does nothing\n");
    return 0;
  }
  uint32_t before = report_count();
  kfree(p);
  if (report_count() != before) return 1;  // the report says why
  print("kfree: freed 0x%08x\n", u32(p));
  return 0;
}

}  // namespace kheap::kernel
