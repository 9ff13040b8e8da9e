// kernel/debug_boot.cpp — debugging options from the kernel command line,
// applied before the memory stack comes up (kernel_entry calls it before
// memory_init), so the slab layer's very first allocation is already covered:
//
//   slub_debug[=OPTIONS[,CACHE...]]   the slab debug mode (lib/debug/slab_debug.h)
//   kheap_panic_on_bug                every heap-misuse report stops the machine
//                                     (default: report and refuse, and go on)
//
// Options are the words before ` -- ` (after it comes the boot script). Also
// loads the kernel's function symbols (ksyms.cpp) for the reports' call sites.
#include "core/format.h"
#include "core/report.h"
#include "core/string_util.h"
#include "multiboot.h"
#include "debug/slab_debug.h"

namespace kheap::kernel {

size_t ksyms_init(const MultibootInfo* info);
bool ksyms_lookup(const void* address, char* buf, size_t cap);

namespace {

bool word_is(const char* word, size_t len, const char* name) {
  size_t n = str_length(name);
  return len >= n && __builtin_memcmp(word, name, n) == 0 && (len == n || word[n] == '=');
}

}  // namespace

void debug_boot_options(const char* cmdline, const MultibootInfo* info) {
  size_t symbols = ksyms_init(info);
  if (symbols) {
    slab_debug_set_symbolizer(ksyms_lookup);
    print("kheap: %zu function symbols for reports\n", symbols);
  } else {
    print("kheap: no ELF symbol table from the boot loader: reports show bare addresses\n");
  }
  for (const char* p = cmdline; *p;) {
    while (*p == ' ') ++p;
    const char* word = p;
    while (*p && *p != ' ') ++p;
    size_t len = static_cast<size_t>(p - word);
    if (len == 2 && word[0] == '-' && word[1] == '-') break;  // the boot script follows
    if (word_is(word, len, "slub_debug")) {
      char spec[256];
      str_copy(spec, word, len + 1 < sizeof spec ? len + 1 : sizeof spec);
      if (slab_debug_configure(spec))
        print("kheap: slub_debug: %s\n", slab_debug_spec());
      else
        print("kheap: slub_debug: cannot parse '%s' (OPTIONS are letters of FZPUQ; see lib/debug/slab_debug.h): "
              "ignored\n", spec);
    } else if (word_is(word, len, "kheap_panic_on_bug")) {
      set_report_action(ReportAction::Panic);
      print("kheap: heap-misuse reports panic (kheap_panic_on_bug)\n");
    }
  }
}

}  // namespace kheap::kernel
