// kernel/commands_heap.cpp — monitor commands for the Win32-style heaps:
// heaptest1 and heaptest2 (the two heap programs of Irvine's "Assembly Language
// for x86 Processors", ch. 11, with the same constants) and `heaps`.
//
// heaptest2's arithmetic with the defaults: a 500,000-byte block is a large
// block of 123 pages (503,808 bytes, its record is kept outside the run); the
// 400,000,000-byte maximum rounds up to 97,657 pages; the 2,000,000-byte
// initial commit (489 pages) holds the first 3 blocks and its unused tail is
// given back when the maximum is reached. So the heap stops at
// floor(97,657 / 123) = 793 blocks = 396,500,000 bytes, when RAM allows
// (-m 512M); with less RAM it stops earlier, when frames run out.
#include "core/bitops.h"
#include "core/format.h"
#include "heap/win32_heap.h"
#include "slab/slab.h"
#include "kernel_memory.h"
#include "monitor.h"

namespace kheap::kernel {

using namespace kheap::win32;

namespace {

// As Irvine's WriteWindowsMsg: "Error N: <system message>".
void write_windows_msg() {
  DWORD e = GetLastError();
  print("Error %u: %s\n", static_cast<unsigned>(e), heap_error_text(e));
}

bool parse_size(const char* cmd, const char* text, size_t* out) {
  int64_t v;
  if (!parse_arg(cmd, text, &v)) return false;
  if (v < 0 || static_cast<uint64_t>(v) > SIZE_MAX) {
    print("%s: '%s' is not a size\n", cmd, text);
    return false;
  }
  *out = static_cast<size_t>(v);
  return true;
}

}  // namespace

// heaptest1: HeapAlloc 1000 (or SIZE) bytes from the process heap with HEAP_ZERO_MEMORY, fill with 0FFh,
// show them in hex (32 bytes a line), HeapFree.
MONITOR_COMMAND(heaptest1, "[SIZE]", "Irvine's HeapTest1: zeroed block from the process heap, 0FFh-filled, in hex") {
  size_t size = 1000;
  if (argc > 1 && !parse_size("heaptest1", argv[1], &size)) return 1;
  HANDLE heap = GetProcessHeap();
  if (!heap) {
    print("heaptest1: GetProcessHeap failed\n");
    write_windows_msg();
    return 1;
  }
  auto* array = static_cast<uint8_t*>(HeapAlloc(heap, HEAP_ZERO_MEMORY, size));
  if (!array) {
    print("heaptest1: HeapAlloc failed (%zu bytes)\n", size);
    write_windows_msg();
    return 1;
  }
  size_t nonzero = 0;
  for (size_t i = 0; i < size; ++i) nonzero += array[i] != 0;
  print("heaptest1: %zu bytes at %p from the process heap %p, %s\n", size, static_cast<void*>(array), heap,
        nonzero ? "NOT ZEROED" : "zeroed");
  for (size_t i = 0; i < size; ++i) array[i] = 0xFF;  // fill_array
  constexpr size_t kShown = 4096;
  for (size_t i = 0; i < size && i < kShown; i += 32) {  // display_array
    char line[96];
    size_t n = format(line, sizeof line, "%04zx: ", i);
    for (size_t j = i; j < i + 32 && j < size; ++j) n += format(line + n, sizeof line - n, "%02X", array[j]);
    print("%s\n", line);
  }
  if (size > kShown) print("... (%zu more bytes)\n", size - kShown);
  SIZE_T reported = HeapSize(heap, 0, array);
  if (!HeapFree(heap, 0, array)) {
    print("heaptest1: HeapFree failed\n");
    write_windows_msg();
    return 1;
  }
  print("heaptest1: HeapSize was %zu; freed\n", static_cast<size_t>(reported));
  return nonzero || reported != size ? 1 : 0;
}

// heaptest2: HeapCreate(0, 2000000, 400000000), up to 2000 HeapAlloc of 500000 bytes with HEAP_ZERO_MEMORY
// ('.' each), HeapDestroy; ends with 'heaptest2: N blocks allocated, B bytes'.
MONITOR_COMMAND(heaptest2, "[INIT MAX BLOCK N]", "Irvine's HeapTest2: 500000-byte blocks until a 400 MB heap is full") {
  size_t initial = 2000000, maximum = 400000000, block = 500000, count = 2000;
  size_t* args[] = {&initial, &maximum, &block, &count};
  for (int i = 1; i < argc && i <= 4; ++i)
    if (!parse_size("heaptest2", argv[i], args[i - 1])) return 1;

  size_t frames_before = g_pmm.free_frame_count();
  size_t metadata_before = g_page_heap.metadata_pages_mapped();
  HANDLE heap = HeapCreate(0, initial, maximum);
  if (!heap) {
    print("heaptest2: HeapCreate failed\n");
    write_windows_msg();
    return 1;
  }
  print("heaptest2: HeapCreate(0, %zu, %zu) = %p; up to %zu blocks of %zu bytes\n", initial, maximum, heap, count,
        block);
  size_t n = 0;
  bool failed = false;
  while (n < count) {
    if (!HeapAlloc(heap, HEAP_ZERO_MEMORY, block)) {
      failed = true;
      break;
    }
    ++n;
    print("%s", n % 64 == 0 ? ".\n" : ".");
  }
  if (n % 64) print("\n");
  if (failed) {
    print("Memory allocation failed\n");
    HeapStats st{};
    heap_stats(heap, &st);
    size_t need = align_up(block, kPageSize);
    if (st.maximum_bytes && st.committed_bytes + need > st.maximum_bytes)
      print("heaptest2: the heap's maximum is reached: %zu of %zu bytes committed\n",
            static_cast<size_t>(st.committed_bytes), static_cast<size_t>(st.maximum_bytes));
    else
      print("heaptest2: out of memory: %zu bytes committed, %zu frames free\n",
            static_cast<size_t>(st.committed_bytes), g_pmm.free_frame_count());
    write_windows_msg();
  }
  print("heaptest2: %zu blocks allocated, %llu bytes\n", n,
        static_cast<unsigned long long>(n) * static_cast<unsigned long long>(block));
  if (!HeapDestroy(heap)) {
    print("heaptest2: HeapDestroy failed\n");
    write_windows_msg();
    return 1;
  }
  // The page heap keeps one spare page of its own metadata after a trim
  // (hysteresis); give it back if this run created it, so that the frame
  // count returns exactly to where it was.
  if (g_page_heap.metadata_pages_mapped() > metadata_before) g_page_heap.release_unused_metadata();
  // Likewise the slab caches keep a few empty slabs (hysteresis): the first
  // heap ever created leaves one in the cache of KmemCache objects. Give
  // empty slabs back so "every frame back" is exact, and say how many.
  if (size_t pages = kheap::slab_shrink_all()) print("heaptest2: %zu empty slab pages given back (kmem_cache_shrink)\n", pages);
  size_t frames_after = g_pmm.free_frame_count();
  print("heaptest2: HeapDestroy ok; free frames %zu before, %zu after\n", frames_before, frames_after);
  return 0;
}

MONITOR_COMMAND(heaps, "", "every Win32-style heap: handle, flags, committed, maximum, blocks, bytes in use, free") {
  print_heaps();
  return 0;
}

}  // namespace kheap::kernel
