// lib/host/linux_platform.cpp — the platform hooks of lib/ on a Linux host:
// console output goes to stderr (a panic aborts: host_panic.cpp), a
// spinning thread yields the CPU, pages about to be written are faulted in
// with one madvise, thread-exit callbacks run from a pthread key destructor.
#if defined(__linux__)  // the Windows host is in lib/host/*windows*.cpp

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
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

// kheap_platform_panic: lib/host/host_panic.cpp (shared by both hosts).

extern "C" void kheap_platform_yield() { sched_yield(); }

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels say EINVAL and the pages fault in one by one
#endif
extern "C" void kheap_platform_populate(void* addr, size_t bytes) { ::madvise(addr, bytes, MADV_POPULATE_WRITE); }

namespace {
pthread_key_t g_exit_key;
pthread_once_t g_exit_key_once = PTHREAD_ONCE_INIT;
void (*g_exit_fn)(void*);  // one callback for the process (lib/slab's thread-cache release)
void run_exit_fn(void* arg) {
  if (g_exit_fn) g_exit_fn(arg);
}
void make_exit_key() { pthread_key_create(&g_exit_key, run_exit_fn); }
}  // namespace

extern "C" void kheap_platform_at_thread_exit(void (*fn)(void*), void* arg) {
  pthread_once(&g_exit_key_once, make_exit_key);
  g_exit_fn = fn;
  pthread_setspecific(g_exit_key, arg);
}

#endif  // __linux__
