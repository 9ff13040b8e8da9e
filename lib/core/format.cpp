// lib/core/format.cpp — the formatter behind format() and print().
//
// One pass over the format string; numbers are converted into a small stack
// buffer, then padded. No allocation, no libc, reentrant.
#include "core/format.h"

#include "platform/platform.h"

namespace kheap {

namespace {

struct Out {
  char* buf;
  size_t cap;
  size_t len;
  void put(char c) {
    if (len + 1 < cap) buf[len] = c;
    ++len;
  }
  void repeat(char c, int n) {
    while (n-- > 0) put(c);
  }
};

struct Spec {
  bool left = false, zero = false, plus = false, space = false, alt = false;
  int width = 0;
  int precision = -1;
};

void emit_number(Out& out, uint64_t value, bool negative, unsigned base, bool upper, const Spec& spec,
                 bool is_signed) {
  char digits[24];
  int n = 0;
  const bool was_zero = value == 0;
  const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  if (value == 0 && spec.precision != 0) digits[n++] = '0';
  while (value != 0) {
    digits[n++] = set[value % base];
    value /= base;
  }
  char sign = !is_signed ? 0 : negative ? '-' : spec.plus ? '+' : spec.space ? ' ' : 0;
  int zeros = spec.precision > n ? spec.precision - n : 0;
  // '#': 0x for nonzero hex; for octal, make sure the first digit is a 0.
  const char* prefix = "";
  if (spec.alt && base == 16 && !was_zero) prefix = upper ? "0X" : "0x";
  if (spec.alt && base == 8 && zeros == 0 && (n == 0 || digits[n - 1] != '0')) prefix = "0";
  int prefix_len = 0;
  while (prefix[prefix_len]) ++prefix_len;
  int body = n + zeros + prefix_len + (sign ? 1 : 0);
  int pad = spec.width > body ? spec.width - body : 0;
  if (spec.zero && !spec.left && spec.precision < 0) {
    zeros += pad;
    pad = 0;
  }
  if (!spec.left) out.repeat(' ', pad);
  if (sign) out.put(sign);
  for (int i = 0; i < prefix_len; ++i) out.put(prefix[i]);
  out.repeat('0', zeros);
  while (n > 0) out.put(digits[--n]);
  if (spec.left) out.repeat(' ', pad);
}

void emit_string(Out& out, const char* s, const Spec& spec) {
  if (s == nullptr) s = "(null)";
  int n = 0;
  while (s[n] && (spec.precision < 0 || n < spec.precision)) ++n;
  int pad = spec.width > n ? spec.width - n : 0;
  if (!spec.left) out.repeat(' ', pad);
  for (int i = 0; i < n; ++i) out.put(s[i]);
  if (spec.left) out.repeat(' ', pad);
}

}  // namespace

size_t vformat(char* buf, size_t cap, const char* fmt, va_list args) {
  Out out{buf, cap, 0};
  for (const char* p = fmt; *p; ++p) {
    if (*p != '%') {
      out.put(*p);
      continue;
    }
    ++p;
    Spec spec;
    for (;; ++p) {
      if (*p == '-') spec.left = true;
      else if (*p == '0') spec.zero = true;
      else if (*p == '+') spec.plus = true;
      else if (*p == ' ') spec.space = true;
      else if (*p == '#') spec.alt = true;
      else break;
    }
    if (*p == '*') {
      spec.width = va_arg(args, int);
      if (spec.width < 0) {
        spec.left = true;
        spec.width = -spec.width;
      }
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
    }
    if (*p == '.') {
      ++p;
      spec.precision = 0;
      if (*p == '*') {
        spec.precision = va_arg(args, int);
        ++p;
      } else {
        while (*p >= '0' && *p <= '9') spec.precision = spec.precision * 10 + (*p++ - '0');
      }
    }
    // Length: 0 int, 1 long, 2 long long, 3 size_t/ptrdiff_t/intmax_t, -1 char, -2 short
    int length = 0;
    if (*p == 'h') {
      length = -2;
      if (*++p == 'h') { length = -1; ++p; }
    } else if (*p == 'l') {
      length = 1;
      if (*++p == 'l') { length = 2; ++p; }
    } else if (*p == 'z' || *p == 't') {
      length = 3; ++p;
    } else if (*p == 'j') {
      length = 2; ++p;
    }
    char conv = *p;
    if (conv == 0) break;
    switch (conv) {
      case 'd':
      case 'i': {
        int64_t v;
        if (length == 2) v = va_arg(args, long long);
        else if (length == 1) v = va_arg(args, long);
        else if (length == 3) v = static_cast<int64_t>(va_arg(args, intptr_t));
        else v = va_arg(args, int);
        if (length == -1) v = static_cast<signed char>(v);
        if (length == -2) v = static_cast<short>(v);
        bool neg = v < 0;
        uint64_t mag = neg ? static_cast<uint64_t>(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        emit_number(out, mag, neg, 10, false, spec, true);
        break;
      }
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        uint64_t v;
        if (length == 2) v = va_arg(args, unsigned long long);
        else if (length == 1) v = va_arg(args, unsigned long);
        else if (length == 3) v = va_arg(args, size_t);
        else v = va_arg(args, unsigned);
        if (length == -1) v = static_cast<unsigned char>(v);
        if (length == -2) v = static_cast<unsigned short>(v);
        unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
        emit_number(out, v, false, base, conv == 'X', spec, false);
        break;
      }
      case 'p': {
        Spec ps = spec;
        ps.alt = true;
        emit_number(out, reinterpret_cast<uintptr_t>(va_arg(args, void*)), false, 16, false, ps, false);
        break;
      }
      case 'c': {
        char c = static_cast<char>(va_arg(args, int));
        char s[2] = {c, 0};
        emit_string(out, s, spec);
        break;
      }
      case 's':
        emit_string(out, va_arg(args, const char*), spec);
        break;
      case '%':
        out.put('%');
        break;
      default:  // unknown conversion: show it verbatim
        out.put('%');
        out.put(conv);
        break;
    }
  }
  if (cap > 0) buf[out.len < cap ? out.len : cap - 1] = 0;
  return out.len;
}

size_t format(char* buf, size_t cap, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t n = vformat(buf, cap, fmt, args);
  va_end(args);
  return n;
}

namespace {
void platform_sink(void*, const char* text, size_t len) { kheap_platform_write(text, len); }
PrintSink g_sink = platform_sink;
void* g_sink_context = nullptr;
}  // namespace

void set_print_sink(PrintSink sink, void* context) {
  g_sink = sink ? sink : platform_sink;
  g_sink_context = sink ? context : nullptr;
}

void print_raw(const char* text, size_t len) { g_sink(g_sink_context, text, len); }

void vprint(const char* fmt, va_list args) {
  char small[256];
  va_list copy;
  va_copy(copy, args);
  size_t n = vformat(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n < sizeof small) {
    print_raw(small, n);
    return;
  }
  // Too long for one buffer: format into a larger stack buffer, in pieces if need be.
  char big[2048];
  n = vformat(big, sizeof big, fmt, args);
  print_raw(big, n < sizeof big ? n : sizeof big - 1);
}

void print(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vprint(fmt, args);
  va_end(args);
}

}  // namespace kheap
