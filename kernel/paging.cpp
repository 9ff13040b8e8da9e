// kernel/paging.cpp — page tables for the kernel (see paging.h for the layout).
//
// Invariants: page 0 is never mapped (null dereferences fault); the kernel's
// .text and .rodata are read-only (a stray write faults); the identity
// area's tables are static and never freed; a break-window page table is
// allocated from the PMM on the first map into its 4 MiB and freed again when
// its last page is unmapped (g_table_entries counts present entries per
// table), so unmapping everything returns every frame; every change to a
// present entry is followed by invlpg.
#include "paging.h"

#include "core/assert.h"
#include "kernel_memory.h"

extern "C" char __kernel_start[];
extern "C" char __readonly_end[];

namespace kheap::kernel {

namespace {

constexpr uint32_t kPresent = 1u << 0;
constexpr uint32_t kWritable = 1u << 1;
constexpr uint32_t kIdentityTables = kIdentityLimit >> 22;
constexpr uint32_t kRecursiveSlot = 1023;

alignas(4096) uint32_t g_page_directory[1024];
alignas(4096) uint32_t g_identity_tables[kIdentityTables][1024];
uint32_t g_window_tables = 0;
uint16_t g_table_entries[1024];  // present entries in the page table of each directory slot

uint32_t* directory() { return reinterpret_cast<uint32_t*>(0xFFFFF000u); }
uint32_t* table_for(uint32_t virt) { return reinterpret_cast<uint32_t*>(kRecursiveBase + ((virt >> 22) << 12)); }
void invlpg(uint32_t virt) { asm volatile("invlpg (%0)" : : "r"(virt) : "memory"); }

}  // namespace

void paging_init() {
  for (uint32_t t = 0; t < kIdentityTables; ++t) {
    for (uint32_t i = 0; i < 1024; ++i) {
      uint32_t addr = (t << 22) | (i << 12);
      // The kernel's code and read-only data are mapped read-only (CR0.WP makes that hold in ring 0 too).
      bool readonly = addr >= reinterpret_cast<uint32_t>(__kernel_start) &&
                      addr < reinterpret_cast<uint32_t>(__readonly_end);
      g_identity_tables[t][i] = addr == 0 ? 0 : (addr | kPresent | (readonly ? 0 : kWritable));
    }
    g_page_directory[t] = reinterpret_cast<uint32_t>(g_identity_tables[t]) | kPresent | kWritable;
  }
  g_page_directory[kRecursiveSlot] = reinterpret_cast<uint32_t>(g_page_directory) | kPresent | kWritable;
  asm volatile(
      "mov %0, %%cr3\n"
      "mov %%cr0, %%eax\n"
      "or $0x80010000, %%eax\n"  // PG | WP
      "mov %%eax, %%cr0\n"
      :
      : "r"(g_page_directory)
      : "eax", "memory");
}

bool map_page(uint32_t virt, uint32_t phys) {
  KHEAP_ASSERT((virt & 0xFFF) == 0 && (phys & 0xFFF) == 0);
  KHEAP_ASSERT(virt >= kIdentityLimit && virt < kRecursiveBase);
  uint32_t pde = virt >> 22;
  if ((directory()[pde] & kPresent) == 0) {
    PhysAddr table = g_pmm.alloc_frame(pmm::kOwnerPageTable);
    if (table == 0) return false;
    directory()[pde] = table | kPresent | kWritable;
    invlpg(reinterpret_cast<uint32_t>(table_for(virt)));
    uint32_t* t = table_for(virt);
    for (int i = 0; i < 1024; ++i) t[i] = 0;
    ++g_window_tables;
  }
  uint32_t& pte = table_for(virt)[(virt >> 12) & 1023];
  KHEAP_ASSERT((pte & kPresent) == 0);
  pte = phys | kPresent | kWritable;
  ++g_table_entries[pde];
  invlpg(virt);
  return true;
}

uint32_t unmap_page(uint32_t virt) {
  KHEAP_ASSERT((virt & 0xFFF) == 0 && virt >= kIdentityLimit && virt < kRecursiveBase);
  if ((directory()[virt >> 22] & kPresent) == 0) return 0;
  uint32_t& pte = table_for(virt)[(virt >> 12) & 1023];
  if ((pte & kPresent) == 0) return 0;
  uint32_t frame = pte & ~0xFFFu;
  pte = 0;
  invlpg(virt);
  uint32_t pde = virt >> 22;
  KHEAP_ASSERT(g_table_entries[pde] > 0);
  if (--g_table_entries[pde] == 0) {
    // The table maps nothing any more: give its frame back.
    uint32_t table = directory()[pde] & ~0xFFFu;
    directory()[pde] = 0;
    invlpg(reinterpret_cast<uint32_t>(table_for(virt)));
    g_pmm.free_frame(table);
    --g_window_tables;
  }
  return frame;
}

uint32_t translate(uint32_t virt) {
  if ((directory()[virt >> 22] & kPresent) == 0) return 0;
  uint32_t pte = table_for(virt)[(virt >> 12) & 1023];
  if ((pte & kPresent) == 0) return 0;
  return (pte & ~0xFFFu) | (virt & 0xFFF);
}

bool is_mapped(uint32_t virt) {
  if ((directory()[virt >> 22] & kPresent) == 0) return false;
  return (table_for(virt)[(virt >> 12) & 1023] & kPresent) != 0;
}

uint32_t page_table_frames() { return g_window_tables; }

}  // namespace kheap::kernel
