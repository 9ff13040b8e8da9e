// lib/core/spinlock.cpp — the per-thread identity RecursiveSpinlock uses: the
// address of a per-thread variable (one per host thread; the kernel's one CPU
// has one).
#include "core/spinlock.h"

namespace kheap {

namespace {
KHEAP_PER_THREAD char t_lock_identity;
}  // namespace

const void* RecursiveSpinlock::self() { return &t_lock_identity; }

}  // namespace kheap
