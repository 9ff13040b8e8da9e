// lib/core/report.cpp — report formatting, counting and the report action.
#include "core/report.h"

#include "core/assert.h"
#include "core/format.h"
#include "platform/platform.h"

namespace kheap {

bool g_expensive_checks = false;

namespace {
ReportAction g_action = ReportAction::Refuse;
bool g_echo = true;
uint32_t g_count = 0;
LastReport g_last{};

constexpr const char* kNames[] = {
    "double free",         "invalid free",        "wrong order",         "reserved frame",
    "out of range",        "unaligned address",   "invalid handle",      "wrong heap",
    "size overflow",       "free-list corruption", "redzone overwritten", "use-after-free write",
    "cache not empty",     "bad argument",
};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(BugClass::Count));
}  // namespace

const char* bug_class_name(BugClass c) {
  auto i = static_cast<size_t>(c);
  return i < static_cast<size_t>(BugClass::Count) ? kNames[i] : "unknown";
}

void set_report_action(ReportAction action) { g_action = action; }
ReportAction report_action() { return g_action; }
uint32_t report_count() { return g_count; }
const LastReport& last_report() { return g_last; }
void reset_reports() {
  g_count = 0;
  g_last.text[0] = 0;
}
void set_report_echo(bool echo) { g_echo = echo; }

void vreport_bug(BugClass c, const char* fmt, va_list args) {
  size_t n = format(g_last.text, sizeof g_last.text, "kheap: %s\n", bug_class_name(c));
  if (n < sizeof g_last.text) vformat(g_last.text + n, sizeof g_last.text - n, fmt, args);
  g_last.bug_class = c;
  ++g_count;
  if (g_echo) {
    size_t len = 0;
    while (g_last.text[len]) ++len;
    print_raw(g_last.text, len);
  }
  if (g_action == ReportAction::Panic) kheap_platform_panic(bug_class_name(c));
}

void report_bug(BugClass c, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vreport_bug(c, fmt, args);
  va_end(args);
}

size_t format_hex_bytes(char* buf, size_t cap, const void* addr, size_t len) {
  const auto* p = static_cast<const unsigned char*>(addr);
  size_t n = 0;
  if (cap) buf[0] = 0;
  for (size_t i = 0; i < len; ++i) {
    size_t w = format(buf + n, n < cap ? cap - n : 0, i ? " %02x" : "%02x", p[i]);
    n += w;
    if (n >= cap) break;
  }
  return n;
}

[[noreturn]] void assert_failed(const char* expr, const char* file, int line, const char* func) {
  char msg[256];
  format(msg, sizeof msg, "kheap: assertion failed: %s\n  at %s:%d in %s\n", expr, file, line, func);
  size_t len = 0;
  while (msg[len]) ++len;
  kheap_platform_write(msg, len);
  kheap_platform_panic("assertion failed");
}

}  // namespace kheap
