// lib/debug/slab_debug_internal.h — private to the debug layer
// (slab_debug*.cpp): the parsed setting, and the non-debug allocator paths the
// debug layer stands on (lib/slab/debug_support.cpp).
#pragma once

#include "core/types.h"
#include "debug/slab_debug.h"
#include "slab/debug_support.h"

namespace kheap::slab::debug {

/* --- The setting (slab_debug_config.cpp) -------------------------------------- */

inline constexpr size_t kMaxSelectedNames = 16;
inline constexpr size_t kNameBytes = 256;

struct DebugConfig {
  uint32_t checks;                 // kSlabDebug* bits; 0: off
  bool all_caches;                 // no cache list: every cache
  size_t name_count;
  const char* names[kMaxSelectedNames];  // into name_text; a trailing '*' is a prefix match
  char name_text[kNameBytes];
};

// Parse a spec (see slab_debug.h). False if malformed (out untouched).
bool parse_spec(const char* spec, DebugConfig* out);
bool config_selects(const DebugConfig& config, const char* cache_name);
// The spec that parse_spec would turn into `config` ("-" when off).
size_t format_spec(const DebugConfig& config, char* buf, size_t cap);

}  // namespace kheap::slab::debug
