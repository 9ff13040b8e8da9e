# tools/gdb/walkthrough.gdb — the README walkthrough: a kmalloc object leaves this CPU's thread
# cache (the top of its kmalloc-64 `alloc` magazine) and comes back, through kfree, onto the top
# of the same magazine — while its slab counts it as allocated all along.
# Run: tools/debug.sh --cmds "kmalloc 64; kmalloc 64; kfree last" --batch tools/gdb/walkthrough.gdb
set trace-commands on
#
# 1. The first kmalloc(64): the CPU has no thread cache yet; the miss creates one and refills
#    its alloc magazine (all 61 slots) from the cpu slab.
break kheap::kmalloc if size == 64
continue
kheap tcache
delete
finish
kheap tcache
kheap cache kmalloc-64
# 2. The second kmalloc(64) pops the magazine's top: no lock, no slab touched.
break kheap::kmalloc if size == 64
continue
delete
finish
set $obj = $
kheap tcache
kheap block $obj
printf "first word of $obj: %#x (the free mark: %#x)\n", *(uintptr_t*)$obj, kheap::slab::g_hot.free_mark
print *$kheap_slab($obj)
# 3. kfree pushes it back onto the alloc magazine (it has room; the `freed` magazine takes frees
#    only when that one is full) and writes the free mark into its first word; the slab is not
#    touched. The next kmalloc(64) gets this very object again, still in the cache.
break kheap::kfree
continue
delete
finish
kheap tcache
kheap block $obj
printf "first word of $obj: %#x (the free mark: %#x)\n", *(uintptr_t*)$obj, kheap::slab::g_hot.free_mark
kheap cache kmalloc-64
