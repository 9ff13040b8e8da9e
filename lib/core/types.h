// lib/core/types.h — the handful of types and constants every layer shares.
//
// Only freestanding headers here (<cstdint>, <cstddef>): lib/ is compiled with
// -ffreestanding for the kernel and unchanged for the host.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kheap {

using PhysAddr = uintptr_t;   // a physical (kernel) or memfd-offset (host) address
using VirtAddr = uintptr_t;

inline constexpr size_t kPageShift = 12;
inline constexpr size_t kPageSize = size_t{1} << kPageShift;

static_assert(sizeof(void*) == 4 || sizeof(void*) == 8, "i386 or x86-64 only");

}  // namespace kheap
