// lib/core/bitops.h — power-of-two and alignment helpers, all constexpr.
#pragma once

#include "core/types.h"

namespace kheap {

constexpr bool is_power_of_two(uintptr_t x) { return x != 0 && (x & (x - 1)) == 0; }

// floor(log2(x)); x must be nonzero.
// (clzll, not clzl: `long` is 32 bits on 64-bit Windows, where uintptr_t is not.)
constexpr unsigned ilog2(uintptr_t x) {
  if constexpr (sizeof(uintptr_t) > sizeof(unsigned))
    return 63u - static_cast<unsigned>(__builtin_clzll(x));
  else
    return 31u - static_cast<unsigned>(__builtin_clz(static_cast<unsigned>(x)));
}

// ceil(log2(x)); ceil_log2(1) == 0.
constexpr unsigned ceil_log2(uintptr_t x) { return x <= 1 ? 0 : ilog2(x - 1) + 1; }

constexpr uintptr_t align_down(uintptr_t x, uintptr_t a) { return x & ~(a - 1); }
constexpr uintptr_t align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
constexpr bool is_aligned(uintptr_t x, uintptr_t a) { return (x & (a - 1)) == 0; }

constexpr uint64_t align_down64(uint64_t x, uint64_t a) { return x & ~(a - 1); }
constexpr uint64_t align_up64(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

constexpr size_t pages_for(size_t bytes) { return (bytes + kPageSize - 1) >> kPageShift; }

static_assert(ilog2(1) == 0 && ilog2(4096) == 12 && ceil_log2(4097) == 13 && ceil_log2(4096) == 12);

}  // namespace kheap
