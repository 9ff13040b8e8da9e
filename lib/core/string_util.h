// lib/core/string_util.h — the few string helpers lib/ and the kernel need.
#pragma once

#include "core/types.h"

namespace kheap {

inline size_t str_length(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}

inline bool str_equal(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// Copy at most cap-1 characters and always NUL-terminate (cap > 0).
inline void str_copy(char* dst, const char* src, size_t cap) {
  size_t i = 0;
  for (; i + 1 < cap && src[i]; ++i) dst[i] = src[i];
  dst[i] = 0;
}

// Parse a number: decimal, 0x hex, optional leading sign, optional k/K, m/M
// suffix (x1024, x1048576). Returns false on anything else, or on overflow.
bool parse_number(const char* s, int64_t* out);

}  // namespace kheap
