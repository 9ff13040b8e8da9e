// kernel/commands_debug.cpp — monitor commands of the slab debug mode
// (lib/debug/slab_debug.h):
//   debug [SPEC]         show the setting and counters, or change it (slub_debug syntax)
//   validate             check every live and quarantined debug object, and every slab cache
//   leaks [SEQ]          the live debug objects (allocated after SEQ), with their allocation sites
//   poke ADDR|last±N V   write one byte (to overflow an object on purpose)
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "monitor.h"
#include "slab/slab.h"
#include "debug/slab_debug.h"

namespace kheap::kernel {

void* monitor_last_kmalloc();  // commands_slab.cpp

MONITOR_COMMAND(debug, "[SPEC]", "slab debug mode: show it, or set it (slub_debug syntax: FZPUQ[,CACHE...], - for off)") {
  if (argc > 1 && !slab_debug_configure(argv[1])) {
    print("debug: cannot parse '%s' (OPTIONS: F sanity, Z redzones, P poison, U sites, Q quarantine; then ,CACHE...; "
          "- for off)\n", argv[1]);
    return 1;
  }
  SlabDebugStats s = slab_debug_stats();
  print("slub_debug: %s%s\n", slab_debug_spec(), slab_debug_checks() ? "" : " (off)");
  print("debug objects: %zu live (%zu bytes), %zu quarantined (%zu bytes; at most %zu objects, %zu bytes), last seq %u, "
        "%zu problems found\n", s.live_objects, s.live_bytes, s.quarantined_objects, s.quarantined_bytes,
        s.max_quarantine_objects, s.max_quarantine_bytes, s.last_seq, s.problems_found);
  print("reports: %s\n", report_action() == ReportAction::Panic ? "panic (kheap_panic_on_bug)" : "report and refuse");
  return 0;
}

MONITOR_COMMAND(validate, "", "check every live and quarantined debug object (redzones, poison) and every slab cache") {
  uint32_t before = report_count();
  SlabDebugStats s = slab_debug_stats();
  size_t problems = slab_debug_validate();
  bool slabs_ok = slab_check();
  print("validate: %zu live and %zu quarantined debug objects: %zu problem%s; slab caches %s\n", s.live_objects,
        s.quarantined_objects, problems, problems == 1 ? "" : "s", slabs_ok ? "ok" : "CORRUPT");
  return problems || !slabs_ok || report_count() != before ? 1 : 0;
}

MONITOR_COMMAND(leaks, "[SEQ]", "the live debug objects (allocated after SEQ) with their allocation sites") {
  int64_t since = 0;
  if (argc > 1 && !parse_arg("leaks", argv[1], &since)) return 1;
  if (!slab_debug_checks() && !slab_debug_stats().live_objects)
    print("leaks: debug mode is off (boot with slub_debug, or 'debug FZPUQ'): only debug objects are tracked\n");
  slab_debug_print_leaks(since < 0 ? 0 : static_cast<uint32_t>(since));
  return 0;
}

MONITOR_COMMAND(poke, "ADDR|last[+-N] BYTE", "write one byte at ADDR (last: what the last kmalloc returned)") {
  if (argc < 3) {
    print("usage: poke ADDR|last[+-N] BYTE\n");
    return 1;
  }
  const char* text = argv[1];
  uintptr_t a;
  if (text[0] == 'l' && text[1] == 'a' && text[2] == 's' && text[3] == 't') {
    int64_t off = 0;
    if (text[4] && !parse_arg("poke", text + 4, &off)) return 1;  // "+64", "-1"
    a = reinterpret_cast<uintptr_t>(monitor_last_kmalloc()) + static_cast<uintptr_t>(off);
  } else {
    int64_t v;
    if (!parse_arg("poke", text, &v)) return 1;
    a = static_cast<uintptr_t>(v);
  }
  int64_t value;
  if (!parse_arg("poke", argv[2], &value)) return 1;
  if (value < -128 || value > 255) {
    print("poke: BYTE must be 0..255\n");
    return 1;
  }
  auto* p = reinterpret_cast<volatile uint8_t*>(a);
  uint8_t old = *p;
  *p = static_cast<uint8_t>(value);
  print("poke: [0x%08x] = 0x%02x (was 0x%02x)\n", static_cast<uint32_t>(a), static_cast<unsigned>(*p),
        static_cast<unsigned>(old));
  return 0;
}

}  // namespace kheap::kernel
