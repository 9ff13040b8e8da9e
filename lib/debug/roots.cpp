// lib/debug/roots.cpp — the one instance of kheap::debug::g_roots (see roots.h).
#include "debug/roots.h"

namespace kheap::debug {

Roots g_roots = {nullptr, nullptr, nullptr, nullptr, 0};

}  // namespace kheap::debug
