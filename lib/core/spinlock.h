// lib/core/spinlock.h — a test-and-test-and-set spinlock on compiler atomics,
// and a recursive variant that yields the CPU while it waits.
//
// Freestanding (no OS): on the single-CPU kernel it is uncontended; on the host
// it protects shared allocator state between threads. Spinlock is not
// recursive; RecursiveSpinlock is (its owner is identified by the address of
// a per-thread variable, so it needs no thread ids from the platform).
#pragma once

#include "core/types.h"
#include "platform/platform.h"

namespace kheap {

class Spinlock {
 public:
  void lock() {
    while (__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE)) {
      while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) __builtin_ia32_pause();
    }
  }
  bool try_lock() { return !__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE); }
  void unlock() { __atomic_store_n(&locked_, false, __ATOMIC_RELEASE); }
  bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED); }

 private:
  bool locked_ = false;
};

class SpinlockGuard {
 public:
  explicit SpinlockGuard(Spinlock& l) : lock_(l) { lock_.lock(); }
  ~SpinlockGuard() { lock_.unlock(); }
  SpinlockGuard(const SpinlockGuard&) = delete;
  SpinlockGuard& operator=(const SpinlockGuard&) = delete;

 private:
  Spinlock& lock_;
};

// One owner at a time; the owner may lock again (depth counts). Waiters spin
// with pause, then yield to the platform (the owner may be descheduled).
class RecursiveSpinlock {
 public:
  void lock() {
    const void* me = self();
    if (__atomic_load_n(&owner_, __ATOMIC_RELAXED) == me) {
      ++depth_;
      return;
    }
    for (unsigned spins = 0; __atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE);) {
      while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) {
        if (++spins < 128) {
          __builtin_ia32_pause();
        } else {
          kheap_platform_yield();
          spins = 0;
        }
      }
    }
    __atomic_store_n(&owner_, me, __ATOMIC_RELAXED);
    depth_ = 1;
  }
  void unlock() {
    if (--depth_ != 0) return;
    __atomic_store_n(&owner_, nullptr, __ATOMIC_RELAXED);
    __atomic_store_n(&locked_, false, __ATOMIC_RELEASE);
  }
  bool held_by_me() const { return __atomic_load_n(&owner_, __ATOMIC_RELAXED) == self(); }
  // After fork(), in the child: the one thread there owns nothing yet.
  void reset_after_fork() {
    owner_ = nullptr;
    depth_ = 0;
    __atomic_store_n(&locked_, false, __ATOMIC_RELEASE);
  }

 private:
  static const void* self();
  bool locked_ = false;
  const void* owner_ = nullptr;
  uint32_t depth_ = 0;
};

class RecursiveGuard {
 public:
  explicit RecursiveGuard(RecursiveSpinlock& l) : lock_(l) { lock_.lock(); }
  ~RecursiveGuard() { lock_.unlock(); }
  RecursiveGuard(const RecursiveGuard&) = delete;
  RecursiveGuard& operator=(const RecursiveGuard&) = delete;

 private:
  RecursiveSpinlock& lock_;
};

}  // namespace kheap
