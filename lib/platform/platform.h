// lib/platform/platform.h — the hooks lib/ needs from whoever hosts it.
//
// lib/ calls nothing else outside itself. The undefined-symbol check in
// `make test` (tools/check-lib-symbols.sh) allows exactly these, plus the
// compiler's own helpers (memcpy, memset, memmove, memcmp; on i386 libgcc's
// 64-bit division helpers). The kernel implements them in kernel/platform.cpp,
// the Linux host in lib/host/linux_platform.cpp.
#pragma once

#include "core/types.h"

extern "C" {

// Write `len` bytes of text to the console (kernel: serial + VGA; host: stderr).
void kheap_platform_write(const char* text, size_t len);

// Stop for good after an unrecoverable error (kernel: report and leave QEMU
// with a failing status; host: abort()).
[[noreturn]] void kheap_platform_panic(const char* message);

// Provided by the kernel's C runtime or by libc.
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
}
