#!/usr/bin/env bash
# Installs, from Debian's packages, whatever kheap needs that is missing.
# Idempotent: silent and fast when everything is there; one line naming the
# packages when it installs something. Usage: tools/install-deps.sh [group...]
# Groups: kernel (default), host, bench, windows, malloc, fuzz, misuse. "all" means every group.
set -euo pipefail

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(kernel host)
[ "${groups[0]}" = all ] && groups=(kernel host bench windows malloc fuzz misuse)

want=()
for g in "${groups[@]}"; do
  case "$g" in
    kernel) want+=(qemu-system-x86 grub-pc-bin grub-common xorriso mtools gcc-multilib g++-multilib gdb netcat-openbsd) ;;
    host)   want+=(g++ make libgtest-dev googletest libbenchmark-dev gdb) ;;
    bench)  want+=(libbenchmark-dev libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev valgrind) ;;
    # mingw-w64 cross g++ (the POSIX thread model, for GoogleTest), GoogleTest's sources, Wine to run the tests
    windows) want+=(make g++-mingw-w64-x86-64-posix googletest wine wine64) ;;
    # clang with libFuzzer and the sanitizer runtimes (the fuzz harness: mk/fuzz.mk)
    fuzz)   want+=(make clang libclang-rt-14-dev) ;;
    # the real programs run under LD_PRELOAD=build/host/libkheap.so (tools/test-parts/malloc.sh)
    malloc) want+=(sqlite3 python3 git gcc g++ time) ;;
    # the misuse suite's other allocators: Scudo (libclang_rt.scudo_standalone), glibc's libc_malloc_debug (libc6)
    misuse) want+=(make gcc libc6 libclang-rt-14-dev) ;;
    *) echo "install-deps: unknown group '$g' (kernel, host, bench, windows, malloc, fuzz, misuse, all)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# de-duplicate
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/kheap-install-deps.log 2>&1; then
  $SUDO apt-get update -qq >>/tmp/kheap-install-deps.log 2>&1
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/kheap-install-deps.log 2>&1 || {
    echo "install-deps: apt-get failed; see /tmp/kheap-install-deps.log" >&2; tail -20 /tmp/kheap-install-deps.log >&2; exit 1; }
fi
