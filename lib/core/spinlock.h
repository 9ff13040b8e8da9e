// lib/core/spinlock.h — a test-and-test-and-set spinlock on compiler atomics.
//
// Freestanding (no OS): on the single-CPU kernel it is uncontended; on the host
// it protects shared allocator state between threads. Not recursive.
#pragma once

#include "core/types.h"

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

}  // namespace kheap
