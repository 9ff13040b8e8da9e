// kernel/ksyms.cpp — the kernel's own function symbols, for reports ("name+0x1c").
//
// GRUB hands a multiboot (v1) ELF kernel its section headers (info flag bit 5)
// and loads every section, .symtab and .strtab included, somewhere in memory
// that the memory map still calls usable. So ksyms_init runs BEFORE
// memory_init (paging is off: any physical address is readable) and copies the
// function symbols (STT_FUNC) into tables in .bss, names demangled where they
// are plain nested names (kheap::kernel::monitor_cmd_kmalloc); anything the
// small demangler does not know keeps its mangled name. No allocation.
#include "core/format.h"
#include "core/string_util.h"
#include "multiboot.h"

namespace kheap::kernel {

namespace {

constexpr uint32_t kMultibootInfoElfSections = 1u << 5;
constexpr uint32_t kShtSymtab = 2;
constexpr uint8_t kSttFunc = 2;
constexpr size_t kMaxSymbols = 2048;
constexpr size_t kNamePool = 64 * 1024;
constexpr size_t kMaxName = 96;

struct [[gnu::packed]] ElfSection {
  uint32_t name, type, flags, addr, offset, size, link, info, addralign, entsize;
};
struct [[gnu::packed]] ElfSymbol {
  uint32_t name, value, size;
  uint8_t info, other;
  uint16_t shndx;
};

struct Symbol {
  uint32_t start;
  uint32_t size;
  uint32_t name;  // offset in g_names
};

Symbol g_symbols[kMaxSymbols];
size_t g_symbol_count = 0;
char g_names[kNamePool];
size_t g_names_used = 0;

// One <length><identifier> of a mangled name; returns the text after it, or
// nullptr if there is none.
const char* source_name(const char* s, const char** id, size_t* len) {
  size_t n = 0;
  if (*s < '0' || *s > '9') return nullptr;
  while (*s >= '0' && *s <= '9') n = n * 10 + static_cast<size_t>(*s++ - '0');
  for (size_t i = 0; i < n; ++i)
    if (!s[i]) return nullptr;
  *id = s;
  *len = n;
  return s + n;
}

// _ZN<names>E... and _Z<name>... into a::b::c; false if not that shape.
bool demangle(const char* m, char* out, size_t cap) {
  if (m[0] != '_' || m[1] != 'Z') return false;
  const char* s = m + 2;
  bool nested = *s == 'N';
  if (nested) ++s;
  size_t n = 0;
  const char* last = nullptr;
  size_t last_len = 0;
  auto put = [&](const char* text, size_t len) {
    for (size_t i = 0; i < len && n + 1 < cap; ++i) out[n++] = text[i];
  };
  for (bool first = true;; first = false) {
    while (*s == 'K' || *s == 'L' || *s == 'V') ++s;  // qualifiers, internal linkage
    const char* id;
    size_t len;
    if (nested && (s[0] == 'C' || s[0] == 'D') && s[1] >= '0' && s[1] <= '2' && last) {  // constructor, destructor
      put("::", 2);
      if (s[0] == 'D') put("~", 1);
      put(last, last_len);
      s += 2;
    } else {
      const char* next = source_name(s, &id, &len);
      if (!next) return false;
      if (!first) put("::", 2);
      if (len == 12 && id[0] == '_' && id[1] == 'G' && id[2] == 'L') put("(anon)", 6);  // _GLOBAL__N_1
      else put(id, len);
      last = id;
      last_len = len;
      s = next;
    }
    if (!nested) break;
    if (*s == 'E') break;
    if (!*s) return false;
  }
  out[n] = 0;
  return true;
}

void add_symbol(uint32_t start, uint32_t size, const char* mangled) {
  if (g_symbol_count == kMaxSymbols) return;
  char name[kMaxName];
  if (!demangle(mangled, name, sizeof name)) str_copy(name, mangled, sizeof name);
  size_t len = str_length(name);
  if (g_names_used + len + 1 > kNamePool) return;
  str_copy(g_names + g_names_used, name, len + 1);
  g_symbols[g_symbol_count++] = {start, size, static_cast<uint32_t>(g_names_used)};
  g_names_used += len + 1;
}

}  // namespace

// Copy the function symbols out of GRUB's copy of .symtab/.strtab. Returns
// the number kept (0 if the boot loader gave no section headers).
size_t ksyms_init(const MultibootInfo* info) {
  g_symbol_count = 0;
  g_names_used = 0;
  if (!(info->flags & kMultibootInfoElfSections)) return 0;
  uint32_t num = info->syms[0], entsize = info->syms[1], addr = info->syms[2];
  if (entsize < sizeof(ElfSection) || num == 0 || num > 256) return 0;
  auto section = [&](uint32_t i) { return reinterpret_cast<const ElfSection*>(addr + i * entsize); };
  for (uint32_t i = 0; i < num; ++i) {
    const ElfSection* symtab = section(i);
    if (symtab->type != kShtSymtab || symtab->link >= num || !symtab->addr) continue;
    const ElfSection* strtab = section(symtab->link);
    if (!strtab->addr) continue;
    const char* strings = reinterpret_cast<const char*>(strtab->addr);
    size_t count = symtab->size / sizeof(ElfSymbol);
    const auto* syms = reinterpret_cast<const ElfSymbol*>(symtab->addr);
    for (size_t k = 0; k < count; ++k) {
      const ElfSymbol& s = syms[k];
      if ((s.info & 0xf) != kSttFunc || !s.value || s.name >= strtab->size) continue;
      add_symbol(s.value, s.size, strings + s.name);
    }
  }
  return g_symbol_count;
}

size_t ksyms_count() { return g_symbol_count; }

// "name+0x1c" for a code address inside a known function.
bool ksyms_lookup(const void* address, char* buf, size_t cap) {
  uint32_t a = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(address));
  const Symbol* best = nullptr;
  for (size_t i = 0; i < g_symbol_count; ++i) {
    const Symbol& s = g_symbols[i];
    if (s.start <= a && (!best || s.start > best->start)) best = &s;
  }
  if (!best) return false;
  uint32_t off = a - best->start;
  if (best->size ? off >= best->size : off >= 4096) return false;
  format(buf, cap, "%s+0x%x", g_names + best->name, off);
  return true;
}

}  // namespace kheap::kernel
