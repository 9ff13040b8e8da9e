// kernel/selftest_pmm.cpp — in-kernel tests of the page-frame allocator (g_pmm)
// as booted: every frame allocated and freed in a shuffled order must bring the
// buddy lists back to exactly their starting shape; misuse is refused.
//
// The tests borrow frames from the live allocator and give every one back; they
// assume nothing else allocates frames while they run (single CPU, no frame
// allocation in interrupt handlers).
#include "core/bitops.h"
#include "core/report.h"
#include "kernel_memory.h"
#include "ktest.h"
#include "platform/platform.h"
#include "pmm/pmm_report.h"

extern "C" char __kernel_start[];
extern "C" char __kernel_end[];

namespace kheap::kernel {

namespace {

// Owner tag of the frames these tests hold, so they are found again without a list.
constexpr uint16_t kOwnerSelftest = 0x5E1F;

struct XorShift32 {
  uint32_t state;
  uint32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
};

struct Shape {
  size_t blocks[pmm::kMaxOrder + 1];
};

Shape shape_of(const pmm::BuddyAllocator& a) {
  Shape s{};
  for (unsigned k = 0; k <= pmm::kMaxOrder; ++k) s.blocks[k] = a.free_blocks(k);
  return s;
}

void check_same_shape(const Shape& before, const Shape& after) {
  for (unsigned k = 0; k <= pmm::kMaxOrder; ++k) KCHECK_EQ(after.blocks[k], before.blocks[k]);
}

// A pseudo-random bijection on [0, 2^bits): invertible steps only (odd multiply,
// add, xorshift right), parameters drawn from a xorshift PRNG.
struct Permutation {
  Permutation(unsigned bits, XorShift32& rng)
      : mask(bits >= 32 ? 0xFFFFFFFFu : (1u << bits) - 1),
        a(rng.next() | 1),
        b(rng.next() | 1),
        c(rng.next()),
        s1(bits / 2 + 1),
        s2(bits / 3 + 1) {}
  uint32_t operator()(uint32_t x) const {
    x = (x * a + c) & mask;
    x ^= x >> s1;
    x = (x * b) & mask;
    x ^= x >> s2;
    return x;
  }
  uint32_t mask, a, b, c;
  unsigned s1, s2;
};

bool held_by_test(const pmm::Frame* f) {
  return f && f->state == pmm::FrameState::Allocated && f->is_head && f->owner == kOwnerSelftest;
}

}  // namespace

KTEST(pmm_invariants_after_boot) {
  KCHECK(g_pmm.check());
  pmm::BuddyStats s = g_pmm.stats();
  KCHECK(s.total_frames > 0);
  KCHECK_EQ(s.free_frames + s.allocated_frames, s.total_frames);
  KCHECK_EQ(g_pmm.free_frame_count(), s.free_frames);
  size_t from_blocks = 0;
  for (unsigned k = 0; k <= pmm::kMaxOrder; ++k) from_blocks += g_pmm.free_blocks(k) << k;
  KCHECK_EQ(from_blocks, s.free_frames);
  // Nothing the boot loader or the kernel occupies is free.
  for (size_t r = 0; r < g_boot_memory.reserved_count; ++r) {
    const pmm::ReservedRange& res = g_boot_memory.reserved[r];
    for (uint64_t a = align_down64(res.base, kPageSize); a < res.base + res.length; a += kPageSize) {
      const pmm::Frame* f = a < (uint64_t{1} << 32) ? g_pmm.frame_info(static_cast<PhysAddr>(a)) : nullptr;
      if (f) KCHECK(f->state == pmm::FrameState::Reserved);
    }
  }
  const pmm::Frame* meta = g_pmm.frame_info(g_pmm.metadata_base());
  KREQUIRE(meta != nullptr);
  KCHECK(meta->state == pmm::FrameState::Reserved);
  KCHECK_EQ(meta->owner, pmm::kOwnerPmmMetadata);
}

KTEST(pmm_meminfo_matches_map) {
  const pmm::NormalizedMap& map = g_boot_memory.normalized;
  pmm::MeminfoNumbers n =
      pmm::meminfo_numbers(g_pmm, map, static_cast<uint64_t>(__kernel_end - __kernel_start));
  KCHECK_EQ(n.free_kb + n.used_kb, n.total_kb);
  KCHECK_EQ(n.total_kb + n.reserved_kb, (map.usable_bytes + map.reserved_bytes) / 1024);
  KCHECK(n.kernel_image_kb > 0);
  KCHECK_EQ(n.metadata_kb * 1024, align_up64(g_pmm.metadata_bytes(), kPageSize));
}

KTEST(pmm_alloc_every_frame_free_shuffled) {
  KCHECK(g_pmm.check());
  Shape start = shape_of(g_pmm);
  size_t free_before = g_pmm.free_frame_count();
  uint32_t reports = report_count();

  size_t taken = 0;
  bool all_aligned = true;
  while (PhysAddr p = g_pmm.alloc_frame(kOwnerSelftest)) {
    all_aligned &= is_aligned(p, kPageSize);
    ++taken;
  }
  KCHECK(all_aligned);
  KCHECK_EQ(taken, free_before);
  KCHECK_EQ(g_pmm.free_frame_count(), 0u);
  KCHECK_EQ(g_pmm.alloc_pages(0), 0u);
  KCHECK_EQ(g_pmm.alloc_pages(3), 0u);
  KCHECK_EQ(report_count(), reports);  // out of memory is not a bug
  KCHECK(g_pmm.check());

  // Free them in a shuffled order: walk a random bijection of the frame indices.
  XorShift32 rng{0x9E3779B9u};
  uint32_t n = g_pmm.frame_count();
  Permutation perm(ceil_log2(n), rng);
  size_t freed = 0;
  for (uint64_t x = 0; x <= perm.mask; ++x) {
    uint32_t i = perm(static_cast<uint32_t>(x));
    if (i >= n) continue;
    PhysAddr a = g_pmm.index_to_addr(i);
    if (!held_by_test(g_pmm.frame_info(a))) continue;
    if (g_pmm.free_frame(a)) ++freed;
  }
  KCHECK_EQ(freed, taken);
  KCHECK_EQ(g_pmm.free_frame_count(), free_before);
  check_same_shape(start, shape_of(g_pmm));
  KCHECK(g_pmm.check());
  KCHECK_EQ(report_count(), reports);
}

KTEST(pmm_mixed_orders_shuffled) {
  constexpr size_t kBlocks = 512;
  static PhysAddr addr[kBlocks];
  static uint8_t order[kBlocks];
  Shape start = shape_of(g_pmm);
  XorShift32 rng{12345};
  size_t got = 0;
  for (size_t i = 0; i < kBlocks; ++i) {
    unsigned k = rng.next() % 6;
    PhysAddr p = g_pmm.alloc_pages(k, kOwnerSelftest);
    if (!p) continue;  // small machines: fine
    KCHECK(is_aligned(p, kPageSize << k));
    const pmm::Frame* f = g_pmm.frame_info(p + (kPageSize << k) - kPageSize);
    KCHECK(f && f->state == pmm::FrameState::Allocated && f->owner == kOwnerSelftest);
    addr[got] = p;
    order[got] = static_cast<uint8_t>(k);
    ++got;
  }
  KCHECK(got > 0);
  KCHECK(g_pmm.check());
  // Fisher-Yates with the same PRNG.
  for (size_t i = got; i > 1; --i) {
    size_t j = rng.next() % i;
    PhysAddr ta = addr[i - 1];
    addr[i - 1] = addr[j];
    addr[j] = ta;
    uint8_t to = order[i - 1];
    order[i - 1] = order[j];
    order[j] = to;
  }
  for (size_t i = 0; i < got; ++i) KCHECK(g_pmm.free_pages(addr[i], order[i]));
  check_same_shape(start, shape_of(g_pmm));
  KCHECK(g_pmm.check());
}

KTEST(pmm_misuse_is_refused) {
  PhysAddr a = g_pmm.alloc_pages(1, kOwnerSelftest);
  PhysAddr b = g_pmm.alloc_frame(kOwnerSelftest);
  KREQUIRE(a != 0 && b != 0);
  KCHECK(g_pmm.free_frame(b));
  pmm::BuddyStats before = g_pmm.stats();
  uint32_t reports = report_count();
  set_report_echo(false);
  struct Case {
    PhysAddr addr;
    unsigned order;
    BugClass expect;
  } cases[] = {
      {b, 0, BugClass::DoubleFree},
      {a, 0, BugClass::WrongOrder},
      {a, 2, BugClass::WrongOrder},
      {a + 1, 1, BugClass::Unaligned},
      {a + kPageSize, 1, BugClass::Unaligned},
      {a + kPageSize, 0, BugClass::InvalidFree},
      {0xFFFFF000u, 0, BugClass::OutOfRange},
      {g_pmm.metadata_base(), 0, BugClass::ReservedFrame},
  };
  for (const Case& c : cases) {
    uint32_t n = report_count();
    KCHECK(!g_pmm.free_pages(c.addr, c.order));
    KCHECK_EQ(report_count(), n + 1);
    KCHECK_EQ(static_cast<int>(last_report().bug_class), static_cast<int>(c.expect));
  }
  set_report_echo(true);
  pmm::BuddyStats after = g_pmm.stats();
  KCHECK(memcmp(&before, &after, sizeof before) == 0);
  KCHECK(g_pmm.check());
  KCHECK_EQ(report_count(), reports + sizeof cases / sizeof cases[0]);
  KCHECK(g_pmm.free_pages(a, 1));
}

}  // namespace kheap::kernel
