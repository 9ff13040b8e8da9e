// lib/host/linux_platform.cpp — the platform hooks of lib/ on a Linux host:
// console output goes to stderr, a panic aborts (as other allocators do).
#if defined(__linux__)  // the Windows host is in lib/host/*windows*.cpp

#include <cstdlib>
#include <unistd.h>

#include "platform/platform.h"

extern "C" void kheap_platform_write(const char* text, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(2, text, len);
    if (n <= 0) return;
    text += n;
    len -= static_cast<size_t>(n);
  }
}

extern "C" [[noreturn]] void kheap_platform_panic(const char* message) {
  static const char prefix[] = "kheap: panic: ";
  kheap_platform_write(prefix, sizeof prefix - 1);
  size_t n = 0;
  while (message[n]) ++n;
  kheap_platform_write(message, n);
  kheap_platform_write("\n", 1);
  std::abort();
}

#endif  // __linux__
