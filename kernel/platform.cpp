// kernel/platform.cpp — lib/'s platform hooks in the kernel (lib/platform/platform.h):
// console output to serial (translating \n to \r\n) and VGA; a panic prints
// and leaves QEMU with a failing status.
#include "platform/platform.h"

#include "qemu_exit.h"
#include "serial.h"
#include "vga.h"

extern "C" void kheap_platform_write(const char* text, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (text[i] == '\n') kheap::kernel::serial_write_char('\r');
    kheap::kernel::serial_write_char(text[i]);
    kheap::kernel::vga_write_char(text[i]);
  }
}

extern "C" [[noreturn]] void kheap_platform_panic(const char* message) {
  static const char prefix[] = "\nkheap: PANIC: ";
  kheap_platform_write(prefix, sizeof prefix - 1);
  size_t n = 0;
  while (message[n]) ++n;
  kheap_platform_write(message, n);
  kheap_platform_write("\n", 1);
  kheap::kernel::qemu_exit(kheap::kernel::kFailureExitCode);
}

extern "C" void kheap_platform_yield() { __builtin_ia32_pause(); }

// The kernel break maps every page as it grows: nothing appears on first touch.
extern "C" void kheap_platform_populate(void*, size_t) {}

// One CPU, no threads: the per-CPU caches live as long as the kernel.
extern "C" void kheap_platform_at_thread_exit(void (*)(void*), void*) {}
