# Kernel cases for the slab allocator (sourced by tools/kernel-tests.sh).

# kfree twice at the prompt: reported as a double free naming the cache and
# object, refused, and the kernel goes on (the later commands still run).
check_double_free() {
  expect '^0x[0-9a-f]{8} kmalloc\(64\): usable 64, cache kmalloc-64, object [0-9]+'
  expect '^kfree: freed 0x'
  expect '^kheap: double free$'
  expect 'kmalloc-64' 'the report names the cache'
  expect 'object [0-9]+' 'the report names the object index'
  expect '^kheap: invalid free$' 'an interior pointer'
  expect '^slabinfo - version: 2\.1$'
  expect '^# name +<active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>$'
  expect '^kmalloc-64 +[0-9]+ +[0-9]+ +64 +[0-9]+ +[0-9]+ : tunables +0 +0 +0 : slabdata +[0-9]+ +[0-9]+ +0$'
  expect ': object [0-9]+ of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 0, allocated' 'block of a live object'
  expect ': object [0-9]+ of cache kmalloc-[0-9]+ \(object size [0-9]+\) at 0x[0-9a-f]{8}, offset 8, allocated' 'block inside an object'
}

run_case kfree-twice 64M 60 0 \
  "kmalloc 64; kmalloc 64; block last; kfree last; kfree last; kmalloc 100; kfree last+4; block last+8; slabinfo; exit 0" \
  check_double_free

# The CPU's thread cache: a freed object waits on top of the `alloc` magazine
# it came from, for the next kmalloc of its size (the slab still counts it in
# use); `block` and `tcache` say so, and freeing it again is a double free
# found in that magazine.
check_thread_cache() {
  expect ': object [0-9]+ of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 0, allocated' 'block of the new object'
  expect '^kfree: freed 0x'
  expect ": object [0-9]+ of cache kmalloc-64 \(object size 64\) at 0x[0-9a-f]{8}, offset 0, free \(in the CPU's thread cache\)" 'block after kfree'
  expect '^thread cache 0x[0-9a-f]{8}: magazines with objects' 'tcache header'
  expect '^  kmalloc-64 +alloc +61/61 +freed +0/61$' 'the freed object is back on the alloc magazine (refilled full, one pop, one push)'
  expect '^kheap: double free$'
  expect 'already free \(in the calling thread cache' 'found in the magazine'
}

run_case thread-cache 64M 60 0 \
  "kmalloc 64; block last; kfree last; block last; tcache; kfree last; exit 0" \
  check_thread_cache
