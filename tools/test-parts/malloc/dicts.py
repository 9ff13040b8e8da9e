# tools/test-parts/malloc/dicts.py — builds and sorts large dicts and lists;
# prints checksums that depend only on the program (run with PYTHONMALLOC=malloc
# so that every Python object goes through the malloc under test).
import hashlib

h = hashlib.sha256()
d = {}
for i in range(200000):
    k = "key-%d-%s" % (i * 7919 % 200003, "x" * (i % 17))
    d[k] = [i, str(i) * (i % 5), (i, i * i)]
items = sorted(d.items(), key=lambda kv: (len(kv[0]), kv[0]))
for k, v in items[::97]:
    h.update(k.encode())
    h.update(repr(v).encode())
nums = [(i * 2654435761) % 1000003 for i in range(300000)]
nums.sort()
words = sorted({str(n)[::-1]: n for n in nums}.items())
h.update(repr(nums[::1000]).encode())
h.update(repr(words[::1000]).encode())
big = []
for i in range(2000):
    big.append(bytearray(i * 37 % 65536))
    if i % 3 == 0:
        big.pop(0)
h.update(repr(sum(len(b) for b in big)).encode())
print("dicts:", len(d), len(nums), len(words), h.hexdigest())
