// lib/core/checked.h — overflow-checked size arithmetic, in one place.
//
// Every size computation that takes a caller's number goes through these; on
// overflow they return false and the caller fails cleanly (never wraps).
#pragma once

#include "core/types.h"

namespace kheap {

[[nodiscard]] inline bool checked_add(size_t a, size_t b, size_t* out) { return !__builtin_add_overflow(a, b, out); }
[[nodiscard]] inline bool checked_mul(size_t a, size_t b, size_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Round `x` up to a multiple of the power of two `a`, failing on overflow.
[[nodiscard]] inline bool checked_align_up(size_t x, size_t a, size_t* out) {
  size_t t;
  if (!checked_add(x, a - 1, &t)) return false;
  *out = t & ~(a - 1);
  return true;
}

}  // namespace kheap
