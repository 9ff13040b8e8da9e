// lib/pmm/memory_map.cpp — firmware memory map -> sorted, disjoint, page-aligned usable ranges.
//
// Owns nothing but the algorithm. Two sweeps, both O(n^2) without any buffer:
//   1. over the firmware regions: elementary intervals between consecutive
//      boundaries (region starts/ends and phys_limit) are "RAM" when some usable
//      region covers them and no non-usable region does (non-usable wins).
//      Maximal runs of RAM below phys_limit are trimmed inward to whole pages;
//      RAM at/above phys_limit is counted as ignored.
//   2. inside each trimmed run: the reserved ranges, widened outward to whole
//      pages, are cut out; what is left is emitted, merged with its neighbour
//      when contiguous.
// Accounting invariant (tested): for RAM below phys_limit,
//   usable_bytes + reserved_bytes + trimmed_bytes + dropped_bytes == RAM bytes.
#include "pmm/memory_map.h"

#include "core/bitops.h"

namespace kheap::pmm {

namespace {

constexpr uint64_t kU64Max = ~uint64_t{0};

uint64_t saturating_end(uint64_t base, uint64_t length) {
  uint64_t end;
  return __builtin_add_overflow(base, length, &end) ? kU64Max : end;
}

bool is_usable_type(uint32_t type) { return type == static_cast<uint32_t>(RegionType::Usable); }

// Smallest region boundary (or phys_limit) strictly greater than `pos`; kU64Max if none.
uint64_t next_region_boundary(const MemoryRegion* regions, size_t count, uint64_t phys_limit, uint64_t pos) {
  uint64_t best = phys_limit > pos ? phys_limit : kU64Max;
  for (size_t i = 0; i < count; ++i) {
    if (regions[i].length == 0) continue;
    uint64_t b = regions[i].base, e = saturating_end(b, regions[i].length);
    if (b > pos && b < best) best = b;
    if (e > pos && e < best) best = e;
  }
  return best;
}

// Whether [pos, ...) (an elementary interval starting at pos) is RAM: covered by a
// usable region and by no non-usable one.
bool is_ram_at(const MemoryRegion* regions, size_t count, uint64_t pos) {
  bool usable = false;
  for (size_t i = 0; i < count; ++i) {
    if (regions[i].length == 0) continue;
    uint64_t b = regions[i].base, e = saturating_end(b, regions[i].length);
    if (pos < b || pos >= e) continue;
    if (!is_usable_type(regions[i].type)) return false;
    usable = true;
  }
  return usable;
}

// A reserved range widened outward to whole pages.
void widened(const ReservedRange& r, uint64_t* base, uint64_t* end) {
  *base = align_down64(r.base, kPageSize);
  uint64_t e = saturating_end(r.base, r.length);
  *end = e > kU64Max - (kPageSize - 1) ? align_down64(kU64Max, kPageSize) : align_up64(e, kPageSize);
}

void emit(NormalizedMap* out, uint64_t base, uint64_t end) {
  if (out->count > 0 && out->ranges[out->count - 1].end == base) {
    out->ranges[out->count - 1].end = end;
  } else if (out->count < kMaxUsableRanges) {
    out->ranges[out->count++] = {base, end};
  } else {
    out->overflowed = true;
    out->dropped_bytes += end - base;
    return;
  }
  out->usable_bytes += end - base;
}

// Cut the (widened) reserved ranges out of the page-aligned run [base, end) and emit the rest.
void emit_run(const ReservedRange* reserved, size_t reserved_count, uint64_t base, uint64_t end, NormalizedMap* out) {
  uint64_t pos = base;
  while (pos < end) {
    bool covered = false;
    uint64_t next = end;
    for (size_t i = 0; i < reserved_count; ++i) {
      if (reserved[i].length == 0) continue;
      uint64_t rb, re;
      widened(reserved[i], &rb, &re);
      if (rb <= pos && pos < re) covered = true;
      if (rb > pos && rb < next) next = rb;
      if (re > pos && re < next) next = re;
    }
    if (covered)
      out->reserved_bytes += next - pos;
    else
      emit(out, pos, next);
    pos = next;
  }
}

void finish_run(const ReservedRange* reserved, size_t reserved_count, uint64_t base, uint64_t end, NormalizedMap* out) {
  uint64_t a = align_up64(base, kPageSize), b = align_down64(end, kPageSize);
  if (base > kU64Max - (kPageSize - 1)) a = kU64Max;  // align_up would wrap
  if (a >= b) {
    out->trimmed_bytes += end - base;
    return;
  }
  out->trimmed_bytes += (a - base) + (end - b);
  emit_run(reserved, reserved_count, a, b, out);
}

}  // namespace

const char* region_type_name(uint32_t type) {
  switch (type) {
    case 1: return "usable";
    case 2: return "reserved";
    case 3: return "ACPI reclaimable";
    case 4: return "ACPI NVS";
    case 5: return "bad RAM";
    default: return "unknown (reserved)";
  }
}

void normalize_memory_map(const MemoryRegion* regions, size_t region_count, const ReservedRange* reserved,
                          size_t reserved_count, uint64_t phys_limit, NormalizedMap* out) {
  *out = NormalizedMap{};
  if (region_count == 0) return;

  // Start at the lowest boundary.
  uint64_t pos = kU64Max;
  for (size_t i = 0; i < region_count; ++i)
    if (regions[i].length != 0 && regions[i].base < pos) pos = regions[i].base;
  if (pos == kU64Max) return;  // only zero-length regions

  bool in_run = false;
  uint64_t run_base = 0;
  while (pos != kU64Max) {
    uint64_t next = next_region_boundary(regions, region_count, phys_limit, pos);
    bool ram = is_ram_at(regions, region_count, pos);
    if (ram && pos >= phys_limit) {
      out->ignored_bytes += next - pos;
      ram = false;  // ends any run below the limit
    }
    if (ram && !in_run) {
      in_run = true;
      run_base = pos;
    } else if (!ram && in_run) {
      in_run = false;
      finish_run(reserved, reserved_count, run_base, pos, out);
    }
    pos = next;
  }
  if (in_run) finish_run(reserved, reserved_count, run_base, kU64Max, out);
}

}  // namespace kheap::pmm
