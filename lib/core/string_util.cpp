// lib/core/string_util.cpp — number parsing for the monitor and the kernel command line.
#include "core/string_util.h"

namespace kheap {

bool parse_number(const char* s, int64_t* out) {
  if (s == nullptr || *s == 0) return false;
  bool negative = false;
  if (*s == '+' || *s == '-') negative = *s++ == '-';
  unsigned base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  if (*s == 0) return false;
  uint64_t value = 0;
  for (; *s; ++s) {
    unsigned digit;
    if (*s >= '0' && *s <= '9') digit = static_cast<unsigned>(*s - '0');
    else if (base == 16 && *s >= 'a' && *s <= 'f') digit = static_cast<unsigned>(*s - 'a' + 10);
    else if (base == 16 && *s >= 'A' && *s <= 'F') digit = static_cast<unsigned>(*s - 'A' + 10);
    else break;
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, digit, &value)) return false;
  }
  if (*s == 'k' || *s == 'K' || *s == 'm' || *s == 'M') {
    uint64_t mult = (*s == 'k' || *s == 'K') ? 1024 : 1024 * 1024;
    if (__builtin_mul_overflow(value, mult, &value)) return false;
    ++s;
  }
  if (*s != 0) return false;
  if (value > static_cast<uint64_t>(INT64_MAX) + (negative ? 1 : 0)) return false;
  *out = negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
  return true;
}

}  // namespace kheap
