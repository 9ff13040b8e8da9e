// lib/host/host_panic.cpp — kheap_platform_panic for both hosts (Linux and the
// mingw-w64 Windows build): print "kheap: panic: <message>" through
// kheap_platform_write (each host's own) and abort(), as other allocators do.
// The kernel's panic is in kernel/platform.cpp (it leaves QEMU instead).
#include <cstdlib>

#include "platform/platform.h"

extern "C" [[noreturn]] void kheap_platform_panic(const char* message) {
  static const char prefix[] = "kheap: panic: ";
  kheap_platform_write(prefix, sizeof prefix - 1);
  size_t n = 0;
  while (message[n]) ++n;
  kheap_platform_write(message, n);
  kheap_platform_write("\n", 1);
  std::abort();
}
