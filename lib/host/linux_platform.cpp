// lib/host/linux_platform.cpp — the platform hooks of lib/ on a Linux host:
// console output goes to stderr, a panic aborts (as other allocators do), a
// spinning thread yields the CPU, thread-exit callbacks run from a pthread key
// destructor.
#if defined(__linux__)  // the Windows host is in lib/host/*windows*.cpp

#include <cstdlib>
#include <pthread.h>
#include <sched.h>
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

extern "C" void kheap_platform_yield() { sched_yield(); }

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
