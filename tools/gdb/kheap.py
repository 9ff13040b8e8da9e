# tools/gdb/kheap.py — kheap's gdb extension.
#
# Load it with `source tools/gdb/kheap.py` (make debug and make debug-host do).
# Every command reads kheap's data structures directly through gdb's Python
# API — nothing runs on the target — so they work wherever the program is
# stopped, even inside the allocator, on the i386 kernel and the x86-64 host
# binaries alike. The memory stack is found through kheap::debug::g_roots
# (lib/debug/roots.h); the slab caches and Win32-style heaps through their
# layers' globals.
#
#   kheap meminfo         /proc/meminfo-style totals (same numbers as the monitor's meminfo)
#   kheap buddy [lists]   free blocks per order (with `lists`: each order's free-list heads)
#   kheap brk             the break window, the break, mapped pages
#   kheap pagemap [N]     one character per page of the break window (first N pages)
#   kheap slabinfo        /proc/slabinfo 2.1 (same numbers as the monitor's slabinfo)
#   kheap cache NAME      a cache's slabs, each slab's in-use count and free-list chain
#   kheap block ADDR      what an address is: run, slab, cache, object index, allocated or free
#   kheap heaps           the Win32-style heaps
import gdb

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
MAX_ORDER = 10
NO_FRAME = 0xFFFFFFFF


# --- reading helpers ------------------------------------------------------------

def ev(expr):
    return gdb.parse_and_eval(expr)


def try_ev(expr):
    try:
        return ev(expr)
    except gdb.error:
        return None


def u(value):
    return int(value) & ((1 << 64) - 1)


def ptr_bits():
    return ev("sizeof(void*)") * 8


def fmt_addr(a):
    return "0x%08x" % a if int(ptr_bits()) == 32 else "0x%012x" % a


def roots():
    r = try_ev("kheap::debug::g_roots")
    if r is None:
        raise gdb.GdbError("kheap: no symbol kheap::debug::g_roots — is this a kheap kernel or host binary?")
    if u(r["pmm"]) == 0:
        raise gdb.GdbError("kheap: the memory stack is not up yet (g_roots is empty): "
                           "continue past memory_init() / HostMachine::create()")
    return r


def enum_name(value):
    s = str(value)
    return s.split("::")[-1]


# --- page-frame allocator ---------------------------------------------------

def pmm_numbers(pmm):
    total = u(pmm["total_frames_"])
    free = u(pmm["free_frames_"])
    metadata = (u(pmm["metadata_bytes_"]) + PAGE - 1) // PAGE
    withheld = u(pmm["withheld_frames_"])
    counts = [u(pmm["free_count_"][k]) for k in range(MAX_ORDER + 1)]
    return total, free, metadata, withheld, counts


def meminfo_line(label, kb):
    return "%-12s%8d kB" % (label, kb)


class KheapPrefix(gdb.Command):
    """kheap: commands that read kheap's allocator state. `kheap help` lists them."""

    def __init__(self):
        super().__init__("kheap", gdb.COMMAND_DATA, prefix=True)


class KheapHelp(gdb.Command):
    """List the kheap commands."""

    def __init__(self):
        super().__init__("kheap help", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        print("kheap commands (they read memory only; nothing runs on the target):")
        for line in __doc_commands__:
            print("  " + line)


__doc_commands__ = [
    "kheap meminfo         /proc/meminfo-style totals (same numbers as the monitor's meminfo)",
    "kheap buddy [lists]   free blocks per order (with `lists`: each order's free-list heads)",
    "kheap brk             the break window, the break, mapped pages",
    "kheap pagemap [N]     one character per page of the break window (first N pages)",
    "kheap slabinfo        /proc/slabinfo 2.1 (same numbers as the monitor's slabinfo)",
    "kheap cache NAME      a cache's slabs, each slab's in-use count and free-list chain",
    "kheap block ADDR      what an address is: run, slab, cache, object index, allocated or free",
    "kheap heaps           the Win32-style heaps",
]


class KheapMeminfo(gdb.Command):
    """/proc/meminfo-style totals of the page-frame allocator, read from memory."""

    def __init__(self):
        super().__init__("kheap meminfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        r = roots()
        pmm = r["pmm"].dereference()
        total, free, metadata, withheld, counts = pmm_numbers(pmm)
        kb = PAGE // 1024
        reserved_bytes = 0
        if u(r["memory_map"]) != 0:
            reserved_bytes = u(r["memory_map"].dereference()["reserved_bytes"])
        print(meminfo_line("MemTotal:", total * kb))
        print(meminfo_line("MemFree:", free * kb))
        print(meminfo_line("MemUsed:", (total - free) * kb))
        print(meminfo_line("Reserved:", reserved_bytes // 1024 + (metadata + withheld) * kb))
        print(meminfo_line("KernelImage:", (u(r["kernel_image_bytes"]) + 1023) // 1024))
        print(meminfo_line("PmmMetadata:", metadata * kb))
        print("Buddyinfo: free blocks per order:" + "".join(" %6d" % c for c in counts))


class KheapBuddy(gdb.Command):
    """Free blocks per order; `kheap buddy lists` also walks each free list."""

    def __init__(self):
        super().__init__("kheap buddy", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pmm = roots()["pmm"].dereference()
        first = u(pmm["first_frame_"])
        frames = pmm["frames_"]
        total, free, _, _, counts = pmm_numbers(pmm)
        print("frames [%s, %s), %d managed, %d free" % (
            fmt_addr(first << PAGE_SHIFT), fmt_addr((first + u(pmm["frame_count_"])) << PAGE_SHIFT), total, free))
        for k in range(MAX_ORDER + 1):
            line = "order %2d (%5d KiB blocks): %6d free" % (k, (PAGE << k) // 1024, counts[k])
            if arg.strip() == "lists":
                idx = u(pmm["free_head_"][k])
                shown = []
                while idx != NO_FRAME and len(shown) < 8:
                    shown.append(fmt_addr((first + idx) << PAGE_SHIFT))
                    idx = u(frames[idx]["next"])
                if shown:
                    line += "  -> " + " ".join(shown) + (" ..." if idx != NO_FRAME else "")
            print(line)


class KheapBrk(gdb.Command):
    """The kernel break: window, break, mapped pages, and the page heap inside it."""

    def __init__(self):
        super().__init__("kheap brk", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        r = roots()
        b = r["kernel_break"].dereference()
        ph = r["page_heap"].dereference()
        wb, base, limit, cur, mend = (u(b[f]) for f in ("window_base_", "base_", "limit_", "break_", "mapped_end_"))
        print("window      %s-%s (%d MiB)" % (fmt_addr(wb), fmt_addr(limit), (limit - wb) >> 20))
        print("metadata    %s-%s: %d pages reserved, %d mapped" % (
            fmt_addr(wb), fmt_addr(base), u(ph["metadata_reserved_"]), u(ph["metadata_mapped_"])))
        print("break       %s (base %s, mapped end %s, %d pages mapped above the metadata)" % (
            fmt_addr(cur), fmt_addr(base), fmt_addr(mend), (mend - base) >> PAGE_SHIFT))
        print("page heap   %s-%s: %d runs in use (%d pages), %d free ranges (%d pages)" % (
            fmt_addr(u(ph["data_start_"])), fmt_addr(u(ph["top_"])), u(ph["runs_in_use_"]),
            u(ph["pages_in_use_"]), u(ph["free_ranges_"]), u(ph["free_pages_"])))


OWNER_CHAR = {"Slab": "s", "Large": "L", "Heap": "H", "Test": "t", "None": "r"}


class KheapPagemap(gdb.Command):
    """One character per page of the page heap: s slab, L large kmalloc, H Win32 heap, t test,
r other run, . free (unmapped) range, | a run's first page is shown in upper case for slabs (S)."""

    def __init__(self):
        super().__init__("kheap pagemap", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        r = roots()
        ph = r["page_heap"].dereference()
        info = ph["info_"]
        wb = u(ph["window_base_"])
        start = (u(ph["data_start_"]) - wb) >> PAGE_SHIFT
        end = (u(ph["top_"]) - wb) >> PAGE_SHIFT
        limit = int(arg) if arg.strip() else 2048
        print("legend: S/s slab (first page/rest), L/l large kmalloc, H/h Win32 heap, T/t test, "
              "R/r other run, . free range (unmapped)")
        print("pages %d..%d of the window (%s-%s), 64 per line" % (
            start, end, fmt_addr(wb + (start << PAGE_SHIFT)), fmt_addr(wb + (end << PAGE_SHIFT))))
        chars = []
        i = start
        in_free = 0
        while i < end and len(chars) < limit:
            p = info[i]
            kind = enum_name(p["kind"])
            if kind == "FreeHead":
                n = u(p["pages"])
                chars.extend("." * min(n, limit - len(chars)))
                i += n
                continue
            c = OWNER_CHAR.get(enum_name(p["owner"]), "?")
            chars.append(c.upper() if kind == "RunHead" else c)
            i += 1
        for off in range(0, len(chars), 64):
            print("%s  %s" % (fmt_addr(wb + ((start + off) << PAGE_SHIFT)), "".join(chars[off:off + 64])))
        if i < end:
            print("... %d more pages" % (end - i))


KheapPrefix()
KheapHelp()
KheapMeminfo()
KheapBuddy()
KheapBrk()
KheapPagemap()
