// lib/platform/platform.h — the hooks lib/ needs from whoever hosts it.
//
// lib/ calls nothing else outside itself. The undefined-symbol check in
// `make test` (tools/check-lib-symbols.sh) allows exactly these, plus the
// compiler's own helpers (memcpy, memset, memmove, memcmp; on i386 libgcc's
// 64-bit division helpers). The kernel implements them in kernel/platform.cpp,
// the Linux host in lib/host/linux_platform.cpp.
#pragma once

#include "core/types.h"

// KHEAP_PER_THREAD declares a variable with one instance per thread of the
// host process; in the kernel (freestanding, one CPU, no TLS set up) one
// plain global — per-CPU storage when there are several CPUs. On ELF hosts:
// in executables' code (libkheap_host.a: -fPIE or no PIC, never in a .so)
// the local-exec model makes an access one %fs-relative operand; in
// libkheap.so the initial-exec model makes it a %fs-relative load through
// the GOT (two instructions; fine since libkheap.so is LD_PRELOADed, so it
// fits the static TLS block).
#if !__STDC_HOSTED__
#define KHEAP_PER_THREAD
#elif defined(__ELF__) && (defined(__PIE__) || !defined(__PIC__))
#define KHEAP_PER_THREAD thread_local __attribute__((tls_model("local-exec")))
#elif defined(__ELF__)
#define KHEAP_PER_THREAD thread_local __attribute__((tls_model("initial-exec")))
#else
#define KHEAP_PER_THREAD thread_local
#endif

extern "C" {

// Write `len` bytes of text to the console (kernel: serial + VGA; host: stderr).
void kheap_platform_write(const char* text, size_t len);

// Stop for good after an unrecoverable error (kernel: report and leave QEMU
// with a failing status; host: abort()).
[[noreturn]] void kheap_platform_panic(const char* message);

// Give the CPU away while spinning on a lock someone else holds (host: the
// holder may not be running; kernel: a pause).
void kheap_platform_yield(void);

// The caller is about to write every byte of [addr, addr + bytes) (whole
// pages, mapped): a platform whose pages appear on first touch may fault
// them in now, all at once (host: MADV_POPULATE_WRITE — one system call
// instead of a page fault per page, ~2.5 us each on a VM; the slab layer
// makes new slabs under its lock). A hint: nothing if unsupported.
void kheap_platform_populate(void* addr, size_t bytes);

// Call fn(arg) when the calling thread exits (host: a thread-specific-data
// destructor; the kernel, one CPU and no threads yet: never). One
// registration per thread; a second call replaces the first, and arg nullptr
// cancels it.
void kheap_platform_at_thread_exit(void (*fn)(void*), void* arg);

// Provided by the kernel's C runtime or by libc.
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
}
