# tools/gdb/walkthrough.gdb — the README walkthrough: an object leaves a cache's free list and comes back.
# Run: tools/debug.sh --cmds "cache_create things 200; cache_alloc things; cache_alloc things; cache_free things last" --batch tools/gdb/walkthrough.gdb
break *kheap::kmem_cache_alloc if $_streq(c->name, "things")
continue
finish
continue
kheap cache things
finish
set $obj = $
kheap cache things
kheap block $obj
print *$kheap_slab($obj)
break *kheap::kmem_cache_free
continue
finish
kheap cache things
kheap block $obj
