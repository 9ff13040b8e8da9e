// kernel/multiboot.h — the multiboot v1 information structure (the parts kheap reads).
#pragma once

#include <cstdint>

namespace kheap::kernel {

inline constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;

enum : uint32_t {
  kMultibootInfoMemory = 1u << 0,
  kMultibootInfoCmdline = 1u << 2,
  kMultibootInfoModules = 1u << 3,
  kMultibootInfoMemoryMap = 1u << 6,
};

struct [[gnu::packed]] MultibootInfo {
  uint32_t flags;
  uint32_t mem_lower;  // KiB below 1 MiB
  uint32_t mem_upper;  // KiB above 1 MiB
  uint32_t boot_device;
  uint32_t cmdline;
  uint32_t mods_count;
  uint32_t mods_addr;
  uint32_t syms[4];
  uint32_t mmap_length;
  uint32_t mmap_addr;
};

struct [[gnu::packed]] MultibootModule {
  uint32_t mod_start;
  uint32_t mod_end;
  uint32_t string;
  uint32_t reserved;
};

// One entry of the memory map; `size` does not count itself.
struct [[gnu::packed]] MultibootMmapEntry {
  uint32_t size;
  uint64_t base;
  uint64_t length;
  uint32_t type;
};

}  // namespace kheap::kernel
