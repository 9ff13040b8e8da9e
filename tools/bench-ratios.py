#!/usr/bin/env python3
"""tools/bench-ratios.py — turn the side-by-side benchmarks' JSON (build/bench/*.json)
into ratio tables: for every benchmark named WORKLOAD/ALLOCATOR, the median time of
kheap against each other allocator in the same run. Also compares the slab benchmark
with and without the always-on free checks (slab_nochecks_bench)."""
import json
import os
import sys

def medians(path):
    out = {}
    if not os.path.exists(path):
        return out
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name") == "median":
            out[b["run_name"]] = b["real_time"] if b["time_unit"] == "ns" else b["real_time"] * {"us": 1e3, "ms": 1e6}[b["time_unit"]]
    return out

def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    slab = medians(os.path.join(d, "slab_bench.json"))
    workloads = sorted({k.split("/")[0] for k in slab if "/" in k})
    if workloads:
        print("Side by side (median ns per alloc+free pair; ratio < 1 means kheap is faster):")
        print("  %-10s %10s %10s %10s %16s %14s" % ("workload", "kheap", "mimalloc", "glibc", "kheap/mimalloc", "glibc/kheap"))
        for w in workloads:
            k, m, g = (slab.get("%s/%s" % (w, a)) for a in ("kheap", "mimalloc", "glibc"))
            if None in (k, m, g):
                continue
            print("  %-10s %10.2f %10.2f %10.2f %16.2f %14.2f" % (w, k, m, g, k / m, g / k))
    nochecks = medians(os.path.join(d, "slab_nochecks_bench.json"))
    if nochecks and slab:
        print("Cost of the always-on free checks (kheap with / without, same run of make bench):")
        for w in workloads:
            a, b = slab.get(w + "/kheap"), nochecks.get(w + "/kheap")
            if a and b:
                print("  %-10s %8.2f ns with, %8.2f ns without: x%.3f" % (w, a, b, a / b))

if __name__ == "__main__":
    main()
