// kernel/memory_init.cpp — bringing the kernel's memory stack up, bottom to top.
//
//   1. copy the multiboot memory map (and note mem_lower/mem_upper)
//   2. list what must never be handed out: the first MiB, the kernel image,
//      the multiboot structures, the command line and modules
//   3. normalize the map and start the buddy allocator (its metadata carved
//      below kIdentityLimit, reached through the identity map)
//   4. turn paging on (identity map + recursive slot)
//   5. the kernel break over [kBreakWindowBase, kBreakWindowLimit), the page
//      heap inside it, then the slab layer and the Win32-style heaps.
// Any failure here is fatal and says which step failed.
#include "kernel_memory.h"

#include "core/format.h"
#include "debug/roots.h"
#include "heap/win32_heap.h"
#include "multiboot.h"
#include "paging.h"
#include "platform/platform.h"
#include "slab/slab.h"

extern "C" char __kernel_start[];
extern "C" char __kernel_end[];

namespace kheap::kernel {

BootMemoryInfo g_boot_memory;
pmm::BuddyAllocator g_pmm;
vm::KernelBreak g_break;
vm::PageHeap g_page_heap;

namespace {

class KernelFrameSource final : public platform::FrameSource {
 public:
  PhysAddr alloc_frame() override { return g_pmm.alloc_frame(pmm::kOwnerBreak); }
  bool free_frame(PhysAddr frame) override { return g_pmm.free_frame(frame); }
  size_t free_frame_count() const override { return g_pmm.free_frame_count(); }
};

class KernelMapper final : public platform::Mapper {
 public:
  bool map_page(VirtAddr virt, PhysAddr frame) override { return kernel::map_page(virt, frame); }
  PhysAddr unmap_page(VirtAddr virt) override { return kernel::unmap_page(virt); }
  PhysAddr translate(VirtAddr virt) const override {
    uint32_t t = kernel::translate(virt);
    return t & ~0xFFFu;
  }
};

KernelFrameSource g_frame_source;
KernelMapper g_mapper;

void add_reserved(uint64_t base, uint64_t length, const char* what) {
  auto& m = g_boot_memory;
  if (length == 0) return;
  if (m.reserved_count >= sizeof m.reserved / sizeof m.reserved[0])
    kheap_platform_panic("too many reserved ranges for g_boot_memory.reserved (raise its size)");
  m.reserved[m.reserved_count++] = {base, length, what};
}

uint32_t string_length(uint32_t addr) {
  const char* s = reinterpret_cast<const char*>(addr);
  uint32_t n = 0;
  while (s[n]) ++n;
  return n;
}

void require_step(bool ok, const char* step) {
  if (!ok) {
    print("kheap: memory bring-up failed at: %s\n", step);
    kheap_platform_panic(step);
  }
}

void* identity_phys_to_virt(PhysAddr phys, void*) { return reinterpret_cast<void*>(phys); }

}  // namespace

platform::FrameSource& kernel_frame_source() { return g_frame_source; }
platform::Mapper& kernel_mapper() { return g_mapper; }

void memory_init(const MultibootInfo* info) {
  auto& m = g_boot_memory;
  m.region_count = 0;
  m.reserved_count = 0;
  if (info->flags & kMultibootInfoMemory) {
    m.mem_lower_kb = info->mem_lower;
    m.mem_upper_kb = info->mem_upper;
  }
  m.has_mmap = (info->flags & kMultibootInfoMemoryMap) != 0;
  if (m.has_mmap) {
    uint32_t at = info->mmap_addr, end = info->mmap_addr + info->mmap_length;
    while (at < end && m.region_count < kMaxBootRegions) {
      const auto* e = reinterpret_cast<const MultibootMmapEntry*>(at);
      m.regions[m.region_count++] = {e->base, e->length, e->type};
      at += e->size + sizeof(e->size);
    }
    if (at < end) print("kheap: memory map has more than %zu entries; the rest are ignored\n", kMaxBootRegions);
  } else if (info->flags & kMultibootInfoMemory) {
    // No map: fall back to mem_lower/mem_upper, as the spec allows.
    m.regions[m.region_count++] = {0, uint64_t{info->mem_lower} * 1024, 1};
    m.regions[m.region_count++] = {0x100000, uint64_t{info->mem_upper} * 1024, 1};
  }
  require_step(m.region_count > 0, "the boot loader gave no memory information");

  add_reserved(0, 0x100000, "first MiB (BIOS, VGA, option ROMs)");
  add_reserved(reinterpret_cast<uint32_t>(__kernel_start), __kernel_end - __kernel_start, "kernel image");
  add_reserved(reinterpret_cast<uint32_t>(info), sizeof(MultibootInfo), "multiboot info");
  if (m.has_mmap) add_reserved(info->mmap_addr, info->mmap_length, "multiboot memory map");
  if (info->flags & kMultibootInfoCmdline) add_reserved(info->cmdline, string_length(info->cmdline) + 1, "command line");
  if (info->flags & kMultibootInfoModules) {
    add_reserved(info->mods_addr, info->mods_count * sizeof(MultibootModule), "module list");
    const auto* mods = reinterpret_cast<const MultibootModule*>(info->mods_addr);
    for (uint32_t i = 0; i < info->mods_count; ++i) {
      add_reserved(mods[i].mod_start, mods[i].mod_end - mods[i].mod_start, "module");
      if (mods[i].string) add_reserved(mods[i].string, string_length(mods[i].string) + 1, "module name");
    }
  }

  pmm::normalize_memory_map(m.regions, m.region_count, m.reserved, m.reserved_count, uint64_t{1} << 32,
                            &m.normalized);
  if (m.normalized.ignored_bytes)
    print("kheap: ignoring %llu MiB of memory above 4 GiB (no PAE)\n",
          static_cast<unsigned long long>(m.normalized.ignored_bytes >> 20));
  require_step(g_pmm.init(m.normalized, kIdentityLimit, identity_phys_to_virt, nullptr),
                  "page-frame allocator init");

  paging_init();

  g_break.init(kBreakWindowBase, kBreakWindowLimit, &g_frame_source, &g_mapper);
  require_step(g_page_heap.init(&g_break), "page heap init");
  debug::publish_roots({&g_pmm, &g_break, &g_page_heap, &m.normalized,
                        static_cast<uint64_t>(__kernel_end - __kernel_start)});
  require_step(slab_init(&g_page_heap), "slab allocator init");
  require_step(win32::heap_init(), "Win32-style heap init");
}

}  // namespace kheap::kernel
