// lib/debug/slab_debug_config.cpp — the debug layer's spec string (grammar in
// slab_debug.h): parsing, cache selection by name, and printing it back.
// Pure functions of their arguments; no allocator state.
#include "core/format.h"
#include "core/string_util.h"
#include "debug/slab_debug_internal.h"

namespace kheap::slab::debug {

namespace {

constexpr const char kLetters[] = "FZPUQ";  // bit i of the checks = kLetters[i]

bool starts_with(const char* s, const char* prefix) {
  while (*prefix)
    if (*s++ != *prefix++) return false;
  return true;
}

int letter_bit(char ch) {
  if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  for (int i = 0; kLetters[i]; ++i)
    if (kLetters[i] == ch) return i;
  return -1;
}

}  // namespace

bool parse_spec(const char* spec, DebugConfig* out) {
  DebugConfig c{};
  if (!spec) {
    *out = c;
    return true;
  }
  const char* s = spec;
  while (*s == ' ') ++s;
  if (starts_with(s, "slub_debug")) {
    s += 10;
    if (*s == '=') ++s;
    else if (*s && *s != ' ') return false;  // e.g. "slub_debugx"
  }
  // Off: "-", "0", "off".
  if ((s[0] == '-' || s[0] == '0') && (s[1] == 0 || s[1] == ' ')) {
    *out = c;
    return true;
  }
  if (starts_with(s, "off") && (s[3] == 0 || s[3] == ' ')) {
    *out = c;
    return true;
  }
  // Options: letters up to ',' or the end. "1"/"on"/"all"/nothing mean all.
  uint32_t checks = 0;
  if (s[0] == '1' && (s[1] == 0 || s[1] == ',' || s[1] == ' ')) {
    ++s;
  } else if (starts_with(s, "on") && (s[2] == 0 || s[2] == ',' || s[2] == ' ')) {
    s += 2;
  } else if (starts_with(s, "all") && (s[3] == 0 || s[3] == ',' || s[3] == ' ')) {
    s += 3;
  } else {
    for (; *s && *s != ',' && *s != ' '; ++s) {
      int bit = letter_bit(*s);
      if (bit < 0) return false;
      checks |= 1u << bit;
    }
  }
  if (checks == 0) checks = kSlabDebugAll;
  checks |= kSlabDebugSanity;  // F is always on in debug mode
  c.checks = checks;
  c.all_caches = true;
  if (*s == ',') {
    ++s;
    c.all_caches = false;
    size_t used = 0;
    while (*s && *s != ' ') {
      const char* name = s;
      while (*s && *s != ',' && *s != ' ') ++s;
      size_t len = static_cast<size_t>(s - name);
      if (*s == ',') ++s;
      if (len == 0) continue;
      if (c.name_count == kMaxSelectedNames || used + len + 1 > kNameBytes) return false;
      for (size_t i = 0; i < len; ++i) c.name_text[used + i] = name[i];
      c.name_text[used + len] = 0;
      c.names[c.name_count++] = c.name_text + used;
      used += len + 1;
    }
    if (c.name_count == 0) c.all_caches = true;  // "FZ," : a list of nothing = every cache
  }
  while (*s == ' ') ++s;
  if (*s) return false;
  // Pointers into c.name_text must follow the copy.
  *out = c;
  for (size_t i = 0; i < out->name_count; ++i) out->names[i] = out->name_text + (c.names[i] - c.name_text);
  return true;
}

bool config_selects(const DebugConfig& config, const char* cache_name) {
  if (!config.checks || !cache_name) return false;
  if (config.all_caches) return true;
  for (size_t i = 0; i < config.name_count; ++i) {
    const char* want = config.names[i];
    size_t len = str_length(want);
    if (len && want[len - 1] == '*') {
      size_t k = 0;
      while (k + 1 < len && cache_name[k] == want[k]) ++k;
      if (k + 1 == len) return true;
    } else if (str_equal(want, cache_name)) {
      return true;
    }
  }
  return false;
}

size_t format_spec(const DebugConfig& config, char* buf, size_t cap) {
  if (!config.checks) return format(buf, cap, "-");
  char letters[8];
  size_t n = 0;
  for (int i = 0; kLetters[i]; ++i)
    if (config.checks & (1u << i)) letters[n++] = kLetters[i];
  letters[n] = 0;
  size_t len = format(buf, cap, "%s", letters);
  for (size_t i = 0; !config.all_caches && i < config.name_count; ++i)
    len += format(buf + (len < cap ? len : cap), len < cap ? cap - len : 0, ",%s", config.names[i]);
  return len;
}

}  // namespace kheap::slab::debug
