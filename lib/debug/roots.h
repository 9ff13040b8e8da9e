// lib/debug/roots.h — where a debugger (tools/gdb/kheap.py) finds the memory stack.
//
// The kernel keeps its buddy allocator, break and page heap in globals; a host
// program keeps them inside a HostMachine. Both publish them here when they
// bring the stack up, so the gdb extension reads one well-known symbol,
// `kheap::debug::g_roots`, on the i386 kernel and the x86-64 host binaries alike.
// The slab caches and the Win32-style heaps are globals of their layers.
#pragma once

#include "pmm/buddy.h"
#include "pmm/memory_map.h"
#include "vm/kernel_break.h"
#include "vm/page_heap.h"

namespace kheap::debug {

struct Roots {
  pmm::BuddyAllocator* pmm;
  vm::KernelBreak* kernel_break;
  vm::PageHeap* page_heap;
  const pmm::NormalizedMap* memory_map;  // nullptr on the host
  uint64_t kernel_image_bytes;           // 0 on the host
};

extern Roots g_roots;

inline void publish_roots(const Roots& roots) { g_roots = roots; }

}  // namespace kheap::debug
