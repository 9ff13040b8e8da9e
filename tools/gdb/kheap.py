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
#   kheap slabinfo        /proc/slabinfo 2.1 (same numbers as the monitor's slabinfo), then how
#                         many objects of each kmalloc cache sit in thread-cache magazines
#   kheap cache NAME      a cache's slabs, each slab's in-use count and free objects (next out
#                         first); for a kmalloc cache also how many "in use" are free in magazines
#   kheap tcache [ADDR]   the current thread's cache (or the ThreadCache at ADDR): its non-empty
#                         magazines, counts/capacities, their top objects; and every live cache
#   kheap block ADDR      what an address is: run, slab, cache, object index, allocated or free
#                         (free in its slab, or free in which magazine of which thread cache)
#   kheap heaps           the Win32-style heaps
import gdb

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
MAX_ORDER = 10
NO_FRAME = 0xFFFFFFFF


# --- reading helpers ------------------------------------------------------------

def ev(expr):
    """Evaluate a C++ expression, also where the selected frame is in C or assembly (a libc
    function of another thread, an interrupt stub), whose language cannot parse kheap::names."""
    try:
        return gdb.parse_and_eval(expr)
    except gdb.error:
        lang = gdb.parameter("language")
        if lang == "c++":
            raise
        gdb.execute("set language c++", to_string=True)
        try:
            return gdb.parse_and_eval(expr)
        finally:
            gdb.execute("set language %s" % lang, to_string=True)


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


def page_heap():
    """The page heap the slab layer allocates from: g_roots' (kernel, HostMachine programs), else the
    slab layer's own pointer (the drop-in libkheap.so, which publishes no g_roots)."""
    r = try_ev("kheap::debug::g_roots")
    if r is not None and u(r["page_heap"]) != 0:
        return r["page_heap"].dereference()
    g = try_ev("kheap::slab::g_slab")
    if g is not None and u(g["page_heap"]) != 0:
        return g["page_heap"].dereference()
    roots()  # raises with the explanation
    raise gdb.GdbError("kheap: no page heap yet")


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
    "kheap slabinfo        /proc/slabinfo 2.1 (same numbers as the monitor's slabinfo) + magazine counts",
    "kheap cache NAME      a cache's slabs, each slab's in-use count and free objects (and magazine share)",
    "kheap tcache [ADDR]   the current thread's cache (or the one at ADDR): magazines, counts, top objects",
    "kheap block ADDR      what an address is: run, slab, cache, object index, allocated or free (and where)",
    "kheap heaps           the Win32-style heaps",
    "$kheap_slab(ADDR)     (a function) the SlabPage* of the slab ADDR lies in: print *$kheap_slab(p)",
    "print X               pretty-printed Frame, PageInfo, SlabPage, KmemCache, Magazine, ThreadCache, Heap",
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



# --- intrusive lists (lib/core/list.h) -------------------------------------------

def field_offset(type_name, field):
    t = gdb.lookup_type(type_name)
    for f in t.fields():
        if f.name == field:
            return f.bitpos // 8
    raise gdb.GdbError("kheap: %s has no field %s" % (type_name, field))


def list_items(lst, type_name, field):
    """The elements of a kheap::List (a sentinel head_), as pointers to type_name."""
    head = lst["head_"]
    head_addr = u(head.address)
    off = field_offset(type_name, field)
    ptr_t = gdb.lookup_type(type_name).pointer()
    node = head["next"]
    items = []
    while u(node) != head_addr and len(items) < 100000:
        items.append(gdb.Value(u(node) - off).cast(ptr_t))
        node = node.dereference()["next"]
    return items


# --- slab allocator ----------------------------------------------------------------

def slab_globals():
    g = try_ev("kheap::slab::g_slab")
    if g is None:
        raise gdb.GdbError("kheap: no symbol kheap::slab::g_slab (slab layer not linked?)")
    if not bool(g["ready"]):
        raise gdb.GdbError("kheap: the slab allocator is not initialised yet")
    return g


def caches():
    return list_items(slab_globals()["caches"], "kheap::KmemCache", "cache_link")


# --- thread caches (lib/slab/thread_cache.h) ----------------------------------------

THREAD_CACHE_MAGIC = 0x7CAC4E01
THREAD_CACHES_SYMBOL = "kheap::slab::(anonymous namespace)::g_thread_caches"


def have_thread_caches():
    try:
        gdb.lookup_type("kheap::slab::ThreadCache")
        return True
    except gdb.error:
        return False


def num_classes():
    # The size classes: `freed` has one magazine per class (`alloc` has one more,
    # always empty, that kmalloc's inline path uses while debug mode is on).
    return gdb.lookup_type("kheap::slab::ThreadCache")["freed"].type.range()[1] + 1


def tc_ptr(addr):
    return gdb.Value(addr).cast(gdb.lookup_type("kheap::slab::ThreadCache").pointer())


def read_pointers(addr, n):
    """n pointer-sized words at addr, in one memory read."""
    if n <= 0:
        return []
    size = gdb.lookup_type("uintptr_t").sizeof
    raw = bytes(gdb.selected_inferior().read_memory(addr, n * size))
    return [int.from_bytes(raw[i * size:(i + 1) * size], "little") for i in range(n)]


def magazine(tc, which, cls):
    """(count, capacity, slots bottom..top) of magazine `which` ("alloc"/"freed") of class cls."""
    m = tc.dereference()[which][cls]
    count, cap = u(m["count"]), u(m["capacity"])
    # stack[0] is the bottom sentinel (it points at the thread cache's empty_word); objects are stack[1..count]
    slots_max = m["stack"].type.range()[1]
    return count, cap, read_pointers(u(m["stack"][1].address), min(count, slots_max))


def placeholder_name(addr):
    for n in ("g_no_thread_cache", "g_exited_thread_cache"):
        v = try_ev("&kheap::slab::" + n)
        if v is not None and u(v) == addr:
            return n
    return None


def thread_caches():
    """Every live ThreadCache* (g_thread_caches; if that symbol cannot be read, the objects of the
    kmem_thread cache that carry the thread-cache magic)."""
    if not have_thread_caches():
        return []
    lst = try_ev("'%s'" % THREAD_CACHES_SYMBOL)
    if lst is not None and lst.address is not None:
        return list_items(lst, "kheap::slab::ThreadCache", "link")
    c = find_cache_by_name("kmem_thread")
    if c is None:
        return []
    magic_off = field_offset("kheap::slab::ThreadCache", "magic")
    out = []
    for s, _ in slabs_of_cache(c):
        free = set(free_objects(c, s))
        first = u(s.dereference()["objects"])
        for i in range(u(c["objects_per_slab"])):
            a = first + i * u(c["size"])
            if a not in free and u(gdb.Value(a + magic_off).cast(gdb.lookup_type("uint32_t").pointer()).dereference()) \
                    == THREAD_CACHE_MAGIC:
                out.append(tc_ptr(a))
    return out


def current_thread_cache():
    """(address of the current thread's cache or None, why not). On the host t_thread_cache is a
    thread_local: reading it needs libthread_db (or gdb's own TLS support)."""
    try:
        return u(ev("kheap::slab::t_thread_cache")), None
    except gdb.error as e:
        return None, " ".join(str(e).split())


def magazine_objects(cls):
    """{object address: (ThreadCache address, "alloc"/"freed", slot, count)} over every live thread cache."""
    out = {}
    for tc in thread_caches():
        for which in ("alloc", "freed"):
            count, _, slots = magazine(tc, which, cls)
            for j, a in enumerate(slots):
                out.setdefault(a, (u(tc), which, j, count))
    return out


def class_of(cache):
    """The size class (magazine index) of a kmalloc cache, or None."""
    if not have_thread_caches():
        return None
    try:
        cls = u(cache["tc_class"])
    except gdb.error:
        return None
    return cls if cls < num_classes() else None


# Which word of a free kmalloc object holds the free mark: free_mark_word() in
# lib/slab/thread_cache.h (an inline function, so not readable from the binary).
FREE_MARK_WORD = 0


def free_mark():
    v = try_ev("kheap::slab::g_hot.free_mark")
    return None if v is None else u(v)


def has_free_mark(addr):
    t = gdb.lookup_type("uintptr_t")
    word = u(gdb.Value(addr + FREE_MARK_WORD * t.sizeof).cast(t.pointer()).dereference())
    return word == free_mark()


def free_objects(cache, slab):
    """Addresses of the free objects of `slab`, from the free bitmaps (lib/slab/cache_internal.h),
    in the order the slab hands them out: for the cpu slab, whose current group's bits are in the
    cache, first cur_bits (lowest first), then cur_freed (freed since cur_bits was last refilled,
    which becomes cur_bits when it runs out), then the slab's other words, lowest first (the next
    group is the first non-zero word)."""
    W = gdb.lookup_type("uintptr_t").sizeof * 8
    per = u(cache["objects_per_slab"])
    size = u(cache["size"])
    sd = slab.dereference()
    first = u(sd["objects"])
    is_cpu = u(cache["cpu_slab"]) == u(slab)
    cur = u(sd["cur_word"]) if is_cpu else -1

    def objs(w, bits):
        return [first + (w * W + i) * size for i in range(W) if (bits >> i) & 1 and w * W + i < per]

    out = []
    if is_cpu:
        out += objs(cur, u(cache["cur_bits"])) + objs(cur, u(cache["cur_freed"]))
    for w in range((per + W - 1) // W):
        if w != cur:
            out += objs(w, u(sd["free_bits"][w]))
    return out


def cache_numbers(c):
    per = u(c["objects_per_slab"])
    active = u(c["full_count"]) * per
    for s in list_items(c["partial"], "kheap::slab::SlabPage", "link"):
        active += u(s["inuse"])
    total_slabs = u(c["partial_count"]) + u(c["full_count"]) + u(c["empty_count"]) + u(c["private_count"]) + (
        1 if u(c["cpu_slab"]) else 0)
    active_slabs = u(c["partial_count"]) + u(c["full_count"])
    # The cpu slab and the thread caches' private slabs are frozen (inuse counts every slot): their free bits tell.
    frozen = [c["cpu_slab"]] if u(c["cpu_slab"]) else []
    frozen += list_items(c["private_slabs"], "kheap::slab::SlabPage", "link")
    for s in frozen:
        used = per - len(free_objects(c, s))
        active += used
        if used:
            active_slabs += 1
    return active, total_slabs * per, per, u(c["pages_per_slab"]), active_slabs, total_slabs


class KheapSlabinfo(gdb.Command):
    """/proc/slabinfo 2.1 of every cache, read from memory (same numbers as the monitor's slabinfo)."""

    def __init__(self):
        super().__init__("kheap slabinfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        slab_globals()  # (fails before printing anything)
        print("slabinfo - version: 2.1")
        print("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
              "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>")
        for c in caches():
            active, total, per, pages, aslabs, tslabs = cache_numbers(c.dereference())
            name = c.dereference()["name"].string()
            print("%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d" % (
                name, active, total, u(c.dereference()["size"]), per, pages, 0, 0, 0, aslabs, tslabs, 0))
        # Not in the monitor's slabinfo (which, like /proc/slabinfo with SLUB's per-cpu slabs, counts
        # them as active): the kmalloc objects that are free in thread-cache magazines.
        counts = magazine_counts()
        held = [(g_name, n) for g_name, n in counts if n]
        tcs = thread_caches()
        print("# in thread-cache magazines (free, but counted in <active_objs>; %d thread cache%s): %s" % (
            len(tcs), "" if len(tcs) == 1 else "s",
            ", ".join("%s %d" % (n, k) for n, k in held) if held else "none"))


def magazine_counts():
    """[(kmalloc cache name, objects in all magazines of its class)] in class order."""
    if not have_thread_caches():
        return []
    tcs = thread_caches()
    out = []
    hot = ev("kheap::slab::g_hot")
    for cls in range(num_classes()):
        n = 0
        for tc in tcs:
            d = tc.dereference()
            n += u(d["alloc"][cls]["count"]) + u(d["freed"][cls]["count"])
        out.append((hot["class_cache"][cls].dereference()["name"].string(), n))
    return out


def find_cache_by_name(name):
    for c in caches():
        if c.dereference()["name"].string() == name:
            return c.dereference()
    return None


def slabs_of_cache(c):
    """(SlabPage*, state) for every slab of the cache: cpu, private (a thread cache's own), partial,
    empty from the cache; full ones from the page heap's PageInfo entries (they are on no list)."""
    out = []
    if u(c["cpu_slab"]):
        out.append((c["cpu_slab"], "cpu"))
    for s in list_items(c["private_slabs"], "kheap::slab::SlabPage", "link"):
        out.append((s, "private"))
    for s in list_items(c["partial"], "kheap::slab::SlabPage", "link"):
        out.append((s, "partial"))
    for s in list_items(c["empty"], "kheap::slab::SlabPage", "link"):
        out.append((s, "empty"))
    if u(c["full_count"]):
        ph = page_heap()
        info = ph["info_"]
        wb = u(ph["window_base_"])
        i = (u(ph["data_start_"]) - wb) >> PAGE_SHIFT
        end = (u(ph["top_"]) - wb) >> PAGE_SHIFT
        slab_t = gdb.lookup_type("kheap::slab::SlabPage").pointer()
        cache_addr = u(c.address)
        while i < end:
            p = info[i]
            kind = enum_name(p["kind"])
            n = max(u(p["pages"]), 1) if kind in ("RunHead", "FreeHead") else 1
            if kind == "RunHead" and enum_name(p["owner"]) == "Slab":
                s = p["owner_ptr"].cast(slab_t)
                if u(s.dereference()["cache"]) == cache_addr and enum_name(s.dereference()["state"]) == "Full":
                    out.append((s, "full"))
            i += n
    return out


class KheapCache(gdb.Command):
    """kheap cache NAME: the cache's layout, its slabs, each slab's in-use count and its free objects in
the order they will be handed out (for a kmalloc cache: how many "in use" objects are in magazines)."""

    def __init__(self):
        super().__init__("kheap cache", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        name = arg.strip()
        if not name:
            raise gdb.GdbError("usage: kheap cache NAME (see kheap slabinfo for the names)")
        c = find_cache_by_name(name)
        if c is None:
            raise gdb.GdbError("kheap: no cache named '%s'" % name)
        active, total, per, pages, _, tslabs = cache_numbers(c)
        print("cache %s at %s: slot size %d (object %d, align %d), %d objects per slab, %d pages per slab" % (
            name, fmt_addr(u(c.address)), u(c["size"]), u(c["object_size"]), u(c["align"]), per, pages))
        cls = class_of(c)
        mags = magazine_objects(cls) if cls is not None else {}
        print("  %d of %d objects in use, %d slabs (partial %d, full %d, empty %d, private %d, cpu %s)" % (
            active, total, tslabs, u(c["partial_count"]), u(c["full_count"]), u(c["empty_count"]), u(c["private_count"]),
            fmt_addr(u(c["cpu_slab"])) if u(c["cpu_slab"]) else "none"))
        if cls is not None:
            n_alloc = sum(1 for v in mags.values() if v[1] == "alloc")
            print("  of those in use, %d are free in thread-cache magazines (%d in alloc, %d in freed "
                  "magazines): %d allocated by callers" % (len(mags), n_alloc, len(mags) - n_alloc,
                                                           active - len(mags)))
        size = u(c["size"])
        for s, state in slabs_of_cache(c):
            sd = s.dereference()
            chain = free_objects(c, s)
            # (The cpu and private slabs' inuse counts every object: they are frozen; their free bits tell.)
            inuse = per - len(chain) if state in ("cpu", "private") else u(sd["inuse"])
            shown = " ".join(fmt_addr(a) for a in chain[:6]) + (" ..." if len(chain) > 6 else "")
            first = u(sd["objects"])
            in_mags = sum(1 for a in mags if first <= a < first + per * size)
            print("  slab %s [%s] objects at %s: %d/%d in use%s; %d free, next out first: %s" % (
                fmt_addr(u(s)), state, fmt_addr(first), inuse, per,
                " (%d of them in magazines)" % in_mags if cls is not None else "", len(chain), shown or "none"))


class KheapBlock(gdb.Command):
    """kheap block ADDR: what an address is — page-heap run, slab, cache, object index and offset, allocated or free."""

    def __init__(self):
        super().__init__("kheap block", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: kheap block ADDR")
        a = u(ev(arg)) & ((1 << int(ptr_bits())) - 1)  # a register like $eax may read as negative
        ph = page_heap()
        wb = u(ph["window_base_"])
        top = u(ph["top_"])
        if a < wb or a >= top:
            print("%s: not in the kernel heap (page heap %s-%s)" % (fmt_addr(a), fmt_addr(wb), fmt_addr(top)))
            return
        if a < u(ph["data_start_"]):
            print("%s: page-heap metadata (PageInfo array at %s)" % (fmt_addr(a), fmt_addr(wb)))
            return
        info = ph["info_"]
        i = (a - wb) >> PAGE_SHIFT
        p = info[i]
        kind = enum_name(p["kind"])
        if kind not in ("RunHead", "RunTail"):
            print("%s: free pages of the page heap (unmapped)" % fmt_addr(a))
            return
        head = u(p["head"])
        run = wb + (head << PAGE_SHIFT)
        pages = u(info[head]["pages"])
        owner = enum_name(p["owner"])
        if owner == "Large":
            start = run + (u(info[head]["tag"]) << PAGE_SHIFT)
            print("%s: large kmalloc block at %s (%d bytes asked, run %s, %d pages), offset %d, %s" % (
                fmt_addr(a), fmt_addr(start), u(p["owner_ptr"]), fmt_addr(run), pages, a - start,
                "allocated" if a >= start else "alignment padding"))
            return
        if owner != "Slab":
            print("%s: inside a page-heap run %s (%d pages) owned by %s, offset %d" % (
                fmt_addr(a), fmt_addr(run), pages, owner, a - run))
            return
        s = p["owner_ptr"].cast(gdb.lookup_type("kheap::slab::SlabPage").pointer()).dereference()
        c = s["cache"].dereference()
        size = u(c["size"])
        first = u(s["objects"])
        index = (a - first) // size if a >= first else -1
        name = c["name"].string()
        if index < 0 or index >= u(c["objects_per_slab"]):
            print("%s: slab header/padding of a slab of cache %s (run %s, %d pages), offset %d" % (
                fmt_addr(a), name, fmt_addr(run), pages, a - run))
            return
        obj = first + index * size
        chain = free_objects(c, s.address)
        state = "free" if obj in chain else "allocated"
        cls = class_of(c)
        gone = "; but its free mark is gone: written after it was freed (kmalloc will report it)"
        if state == "allocated" and cls is not None:
            # Allocated for the slab; free for the program if it sits in a magazine. lib's
            # describe_address checks the free mark, then searches; gdb searches every time, so
            # it also finds a magazine object whose mark was overwritten.
            where = magazine_objects(cls).get(obj)
            marked = has_free_mark(obj)
            if where:
                tc, which, slot, count = where
                top = ": the top, the next kmalloc of its size takes it" if which == "alloc" else \
                    ": the top, the latest kfree"
                state = "free (in the %s magazine of thread cache %s, slot %d of %d%s%s)" % (
                    which, fmt_addr(tc), slot, count, top if slot == count - 1 else "", "" if marked else gone)
            elif marked:
                state = "allocated (its word %d happens to equal the free mark)" % FREE_MARK_WORD
        elif cls is not None and not has_free_mark(obj):
            state += gone  # free kmalloc objects in a slab carry the mark too
        print("%s: object %d of cache %s (object size %d) at %s, offset %d, %s; slab run %s (%d pages)" % (
            fmt_addr(a), index, name, size, fmt_addr(obj), a - obj, state, fmt_addr(run), pages))


class KheapTcache(gdb.Command):
    """kheap tcache [ADDR]: a thread cache — the current thread's (kheap::slab::t_thread_cache), or the
ThreadCache at ADDR. The lines the monitor's `tcache` prints (per size class with cached objects: the
alloc and freed magazines' count/capacity; the totals), and, indented by four, what only gdb adds:
which cache this is, every live thread cache, and each non-empty magazine's objects, top first (an
alloc magazine's top is what the next kmalloc of that size returns; a freed one's, the latest kfree)."""

    def __init__(self):
        super().__init__("kheap tcache", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        slab_globals()
        if not have_thread_caches():
            raise gdb.GdbError("kheap: this build has no thread caches (no type kheap::slab::ThreadCache)")
        tcs = thread_caches()
        live_list = "live thread caches: %s" % (" ".join(fmt_addr(u(t)) for t in tcs) or "none")
        if arg.strip():
            addr = u(ev(arg)) & ((1 << int(ptr_bits())) - 1)
            which_tc = "the ThreadCache at %s" % fmt_addr(addr)
        else:
            addr, why = current_thread_cache()
            if addr is None:
                if len(tcs) != 1:
                    raise gdb.GdbError("kheap: cannot read t_thread_cache (%s); %s: use kheap tcache ADDR" % (
                        why, live_list))
                addr = u(tcs[0])
                which_tc = "the only live thread cache (t_thread_cache is unreadable here: %s)" % why
            else:
                which_tc = "the current thread's (kheap::slab::t_thread_cache)"
        ph = placeholder_name(addr)
        if ph == "g_no_thread_cache":
            print("thread cache: none yet (made on the first kmalloc that misses)")
            print("    %s is the placeholder g_no_thread_cache; %s" % (which_tc, live_list))
            return
        if ph == "g_exited_thread_cache":
            print("thread cache: none (released when the thread exited: its kmallocs and kfrees go to the slabs)")
            print("    %s is the placeholder g_exited_thread_cache; %s" % (which_tc, live_list))
            return
        tc = tc_ptr(addr)
        magic = u(tc.dereference()["magic"])
        print("thread cache 0x%x: magazines with objects (alloc: kmalloc pops, kfree pushes; freed: where kfree pushes when alloc is full)" % addr)
        print("    %s; magic %s; %s%s" % (
            which_tc, "ok" if magic == THREAD_CACHE_MAGIC else "BAD (0x%x: not a live ThreadCache)" % magic,
            live_list, "" if any(u(t) == addr for t in tcs) else " (this one is NOT among them)"))
        hot = ev("kheap::slab::g_hot")
        total = nbytes = 0
        for cls in range(num_classes()):
            a = magazine(tc, "alloc", cls)
            f = magazine(tc, "freed", cls)
            if not a[0] and not f[0]:
                continue
            cache = hot["class_cache"][cls].dereference()
            total += a[0] + f[0]
            nbytes += (a[0] + f[0]) * u(cache["size"])
            print("  %-14s alloc %2d/%d  freed %2d/%d" % (cache["name"].string(), a[0], a[1], f[0], f[1]))
            for which, (count, _, slots), role in (("alloc", a, "the next kmalloc"), ("freed", f, "the latest kfree")):
                if count:
                    top = " ".join(fmt_addr(x) for x in reversed(slots[-4:]))
                    print("    %s, top first (%s): %s%s" % (which, role, top, " ..." if count > 4 else ""))
        print("  %d objects cached, %d bytes" % (total, nbytes))


# --- Win32-style heaps ---------------------------------------------------------------

class KheapHeaps(gdb.Command):
    """Every Win32-style heap: handle, flags, committed and maximum sizes, blocks and bytes in use."""

    def __init__(self):
        super().__init__("kheap heaps", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        reg = try_ev("kheap::win32::detail::g_registry")
        if reg is None:
            raise gdb.GdbError("kheap: no symbol kheap::win32::detail::g_registry (heap layer not linked?)")
        heaps = list_items(reg, "kheap::win32::detail::Heap", "registry_link")
        print("%-18s %-8s %12s %12s %8s %12s %12s" % ("heap", "flags", "committed", "maximum", "blocks", "in-use",
                                                    "free"))
        for h in heaps:
            hd = h.dereference()
            slab_pages = 0
            for i in range(hd["caches"].type.range()[1] + 1):
                c = hd["caches"][i]
                if u(c):
                    cd = c.dereference()
                    slabs = u(cd["partial_count"]) + u(cd["full_count"]) + u(cd["empty_count"]) + \
                        (1 if u(cd["cpu_slab"]) else 0)
                    slab_pages += slabs * u(cd["pages_per_slab"])
            committed = (u(hd["reserve_pages"]) + u(hd["large_run_pages"]) + slab_pages) * PAGE
            maximum = u(hd["maximum"])
            in_use = u(hd["bytes_in_use"])
            print("%-18s %08x %12d %12s %8d %12d %12d%s" % (
                fmt_addr(u(h)), u(hd["flags"]), committed, str(maximum) if maximum else "growable",
                u(hd["blocks_in_use"]), in_use, committed - in_use if committed > in_use else 0,
                "  (process heap)" if bool(hd["is_process_heap"]) else ""))
        print("%d heap%s" % (len(heaps), "" if len(heaps) == 1 else "s"))



# --- pretty-printers ---------------------------------------------------------------
# `print` shows a one-line summary of the core types, then their fields as usual.

class _Printer:
    def __init__(self, val):
        self.val = val

    def children(self):
        for f in self.val.type.strip_typedefs().fields():
            if f.is_base_class or f.name is None:
                continue
            v = self.val[f.name]
            t = v.type.strip_typedefs()
            if t.code == gdb.TYPE_CODE_PTR and t.target().strip_typedefs().code == gdb.TYPE_CODE_INT \
                    and t.target().sizeof == 1:
                v = v.cast(gdb.lookup_type("void").pointer())  # an address (slab objects), not a string
            yield f.name, v


class FramePrinter(_Printer):
    def to_string(self):
        v = self.val
        state = enum_name(v["state"])
        order = u(v["order"])
        head = bool(v["is_head"])
        what = ("%s block head, order %d" % (state.lower(), order)) if head else ("%s (tail)" % state.lower())
        return "Frame{%s, owner %d}" % (what, u(v["owner"]))


class PageInfoPrinter(_Printer):
    def to_string(self):
        v = self.val
        kind = enum_name(v["kind"])
        if kind in ("RunHead", "RunTail"):
            return "PageInfo{%s of a %s run, head page %d, %d pages, owner_ptr %s, tag %d}" % (
                kind, enum_name(v["owner"]), u(v["head"]), u(v["pages"]), fmt_addr(u(v["owner_ptr"])), u(v["tag"]))
        if kind == "FreeHead":
            return "PageInfo{free range of %d pages}" % u(v["pages"])
        return "PageInfo{%s}" % kind


class SlabPagePrinter(_Printer):
    def to_string(self):
        v = self.val
        try:
            name = v["cache"].dereference()["name"].string()
        except gdb.error:
            name = "?"
        words = len([1 for _ in range(v["free_bits"].type.range()[1] + 1)])
        free = sum(bin(u(v["free_bits"][w])).count("1") for w in range(words))
        return "SlabPage{cache %s, %s, %d in use, objects at %s, %d free in its bitmap}" % (
            name, enum_name(v["state"]).lower(), u(v["inuse"]), fmt_addr(u(v["objects"])), free)


class KmemCachePrinter(_Printer):
    def to_string(self):
        v = self.val
        return "KmemCache{%s: slot %d, %d objects/slab, %d pages/slab, slabs partial %d full %d empty %d, cpu slab %s}" % (
            v["name"].string(), u(v["size"]), u(v["objects_per_slab"]), u(v["pages_per_slab"]),
            u(v["partial_count"]), u(v["full_count"]), u(v["empty_count"]), fmt_addr(u(v["cpu_slab"])))


class HeapPrinter(_Printer):
    def to_string(self):
        v = self.val
        maximum = u(v["maximum"])
        return "Heap{#%d%s, flags 0x%x, maximum %s, %d blocks, %d bytes in use}" % (
            u(v["serial"]), " process heap" if bool(v["is_process_heap"]) else "", u(v["flags"]),
            str(maximum) if maximum else "growable", u(v["blocks_in_use"]), u(v["bytes_in_use"]))


class MagazinePrinter(_Printer):
    """A magazine shows only its occupied slots (bottom first)."""

    def to_string(self):
        v = self.val
        return "Magazine{%d of %d}" % (u(v["count"]), u(v["capacity"]))

    def children(self):
        n = min(u(self.val["count"]), self.val["stack"].type.range()[1])
        for i in range(1, n + 1):  # (stack[0] is the bottom sentinel, not an object)
            yield "stack[%d]" % i, self.val["stack"][i]


class ThreadCachePrinter(_Printer):
    """A thread cache shows only its non-empty magazines (64 mostly empty ones otherwise)."""

    def to_string(self):
        v = self.val
        n = sum(u(v[w][c]["count"]) for w in ("alloc", "freed") for c in range(num_classes()))
        magic = u(v["magic"])
        return "ThreadCache{%s, %d objects in its magazines}" % (
            "magic ok" if magic == THREAD_CACHE_MAGIC else "BAD magic 0x%x" % magic, n)

    def children(self):
        v = self.val
        for c in range(num_classes()):
            for w in ("alloc", "freed"):
                if u(v[w][c]["count"]):
                    yield "%s[%d]" % (w, c), v[w][c]
        yield "magic", v["magic"]
        yield "link", v["link"]


def build_pretty_printers():
    import gdb.printing
    pp = gdb.printing.RegexpCollectionPrettyPrinter("kheap")
    pp.add_printer("Frame", r"^kheap::pmm::Frame$", FramePrinter)
    pp.add_printer("PageInfo", r"^kheap::vm::PageInfo$", PageInfoPrinter)
    pp.add_printer("SlabPage", r"^kheap::slab::SlabPage$", SlabPagePrinter)
    pp.add_printer("KmemCache", r"^kheap::KmemCache$", KmemCachePrinter)
    pp.add_printer("Magazine", r"^kheap::slab::Magazine$", MagazinePrinter)
    pp.add_printer("ThreadCache", r"^kheap::slab::ThreadCache$", ThreadCachePrinter)
    pp.add_printer("Heap", r"^kheap::win32::detail::Heap$", HeapPrinter)
    return pp


import gdb.printing  # noqa: E402
gdb.printing.register_pretty_printer(None, build_pretty_printers(), replace=True)


class SlabOf(gdb.Function):
    """$kheap_slab(ADDR): the SlabPage* describing the slab that ADDR lies in (slab headers are
off-slab: the page heap's PageInfo of ADDR's page names them). Example: print *$kheap_slab($obj)"""

    def __init__(self):
        super().__init__("kheap_slab")

    def invoke(self, addr):
        a = u(addr) & ((1 << int(ptr_bits())) - 1)
        ph = page_heap()
        wb = u(ph["window_base_"])
        if a < u(ph["data_start_"]) or a >= u(ph["top_"]):
            raise gdb.GdbError("kheap_slab: %s is not in the page heap" % fmt_addr(a))
        p = ph["info_"][(a - wb) >> PAGE_SHIFT]
        if enum_name(p["owner"]) != "Slab" or enum_name(p["kind"]) not in ("RunHead", "RunTail"):
            raise gdb.GdbError("kheap_slab: %s is not in a slab" % fmt_addr(a))
        return p["owner_ptr"].cast(gdb.lookup_type("kheap::slab::SlabPage").pointer())


KheapPrefix()
KheapHelp()
KheapMeminfo()
KheapBuddy()
KheapBrk()
KheapPagemap()
KheapSlabinfo()
KheapCache()
KheapBlock()
KheapTcache()
KheapHeaps()
SlabOf()
