#!/usr/bin/env bash
# tools/misuse.sh — the heap-misuse suite (tools/misuse/misuse.c, built as
# build/misuse/misuse by `make misuse`) under several allocators, one process
# per case and allocator, printed as one markdown table (also written to
# build/misuse/table.md; each run's stdout/stderr under build/misuse/runs/).
#
# Allocators (columns):
#   glibc         the system malloc, defaults
#   glibc check   LD_PRELOAD=libc_malloc_debug.so.0 GLIBC_TUNABLES=glibc.malloc.check=3
#                 (glibc >= 2.34 moved MALLOC_CHECK_ into that library)
#   Scudo         LLVM's hardened allocator, libclang_rt.scudo_standalone-x86_64.so
#                 from Debian's libclang-rt-*-dev, default options
#   kheap         LD_PRELOAD=build/host/libkheap.so
#   kheap debug   the same with KHEAP_DEBUG=1
#
# A cell is decided from how the process ended:
#   caught    killed by SIGABRT (the allocator aborted), or another signal / a
#             nonzero exit with a message on stderr (the program itself writes
#             only to stdout); or, for the contract cases, the program saw the
#             documented error return (VERDICT caught)
#   defeated  ran to its end, no report, and the misuse had no visible effect
#             (VERDICT defeated: a hijack that got no attacker address, or a
#             bad pointer refused by a NULL / 0 return) — safe but silent
#   missed    ran to its end silently (VERDICT missed), or a hang (timeout)
#   crash     SIGSEGV/SIGBUS with no report (counted as missed, shown apart)
#   error     the program's own setup failed (should not happen)
# Usage: tools/misuse.sh [CASE...]   (default: every case)
#   MISUSE_TIMEOUT=seconds per run (default 10)
#   MISUSE_ALLOCATORS="kheap kheap-debug"   only these columns (the malloc part of `make test` does this)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bin=build/misuse/misuse
[ -x "$bin" ] || { echo "misuse: $bin missing (make misuse builds it)" >&2; exit 1; }
timeout_s=${MISUSE_TIMEOUT:-10}
out=build/misuse
runs=$out/runs
rm -rf "$runs"
mkdir -p "$runs"

# The libraries, from the packages that ship them (no guessed version).
debug_so=$(dpkg -L libc6 2>/dev/null | grep -E '/libc_malloc_debug\.so\.0$' | head -n1)
scudo_so=$(dpkg -S 'libclang_rt.scudo_standalone-x86_64.so' 2>/dev/null | sed 's/^.*: //' | grep -E '\.so$' | sort -V | tail -n1)
kheap_so=$PWD/build/host/libkheap.so

read -r -a names <<<"${MISUSE_ALLOCATORS:-glibc glibc-check scudo kheap kheap-debug}"
declare -A title=([glibc]="glibc" [glibc-check]="glibc check=3" [scudo]="Scudo" [kheap]="kheap" [kheap-debug]="kheap debug")
declare -A envs=(
  [glibc]=""
  [glibc-check]="LD_PRELOAD=$debug_so GLIBC_TUNABLES=glibc.malloc.check=3"
  [scudo]="LD_PRELOAD=$scudo_so"
  [kheap]="LD_PRELOAD=$kheap_so"
  [kheap-debug]="LD_PRELOAD=$kheap_so KHEAP_DEBUG=1"
)
allocs=()
for a in "${names[@]}"; do
  case $a in
    glibc-check) [ -f "$debug_so" ] || { echo "misuse: no libc_malloc_debug.so.0 in libc6; column skipped" >&2; continue; } ;;
    scudo) [ -f "$scudo_so" ] || { echo "misuse: no Scudo (tools/install-deps.sh misuse); column skipped" >&2; continue; } ;;
    kheap | kheap-debug) [ -f "$kheap_so" ] || { echo "misuse: no $kheap_so (make malloc-lib); column skipped" >&2; continue; } ;;
  esac
  allocs+=("$a")
done

mapfile -t list < <("$bin" list)
if [ $# -gt 0 ]; then
  sel=()
  for l in "${list[@]}"; do
    IFS=$'\t' read -r num name kind desc <<<"$l"
    for want in "$@"; do [ "$want" = "$name" ] || [ "$want" = "$num" ] && sel+=("$l"); done
  done
  list=("${sel[@]}")
fi

# One run: prints the cell.
classify() {
  local rc=$1 o=$2 e=$3
  local v
  if [ "$rc" -eq 0 ]; then
    v=$(sed -n 's/^VERDICT \([a-z]*\):.*/\1/p' "$o" | tail -n1)
    echo "${v:-error}"
  elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo hang
  elif [ "$rc" -eq 134 ]; then
    echo caught
  elif [ "$rc" -eq 139 ] || [ "$rc" -eq 135 ]; then
    echo crash
  elif [ "$rc" -eq 3 ] || [ "$rc" -eq 2 ]; then
    echo error
  elif [ -s "$e" ]; then
    echo caught
  elif [ "$rc" -gt 128 ]; then
    echo crash
  else
    echo error
  fi
}

ulimit -c 0
declare -A cell caught defeated missed crashed
for a in "${allocs[@]}"; do caught[$a]=0 defeated[$a]=0 missed[$a]=0 crashed[$a]=0; done
for l in "${list[@]}"; do
  IFS=$'\t' read -r num name kind desc <<<"$l"
  for a in "${allocs[@]}"; do
    mkdir -p "$runs/$a"
    o=$runs/$a/$name.out e=$runs/$a/$name.err
    # shellcheck disable=SC2086  # envs[] is a list of NAME=VALUE words
    # (the braces' 2>/dev/null silences bash's own "Aborted" notices)
    { LIBC_FATAL_STDERR_=1 timeout -k 2 "$timeout_s" env ${envs[$a]} "$bin" "$name" >"$o" 2>"$e"; rc=$?; } 2>/dev/null
    c=$(classify "$rc" "$o" "$e")
    echo "rc=$rc" >>"$o"
    cell[$name,$a]=$c
    case $c in
      caught) caught[$a]=$((caught[$a] + 1)) ;;
      defeated) defeated[$a]=$((defeated[$a] + 1)) ;;
      crash) crashed[$a]=$((crashed[$a] + 1)); missed[$a]=$((missed[$a] + 1)) ;;
      *) missed[$a]=$((missed[$a] + 1)) ;;
    esac
  done
done

{
  hdr="| # | case | what | kind |"
  sep="|---|---|---|---|"
  for a in "${allocs[@]}"; do hdr+=" ${title[$a]} |"; sep+="---|"; done
  echo "$hdr"
  echo "$sep"
  for l in "${list[@]}"; do
    IFS=$'\t' read -r num name kind desc <<<"$l"
    row="| $num | \`$name\` | $desc | $kind |"
    for a in "${allocs[@]}"; do
      c=${cell[$name,$a]}
      [ "$c" = caught ] && c="**caught**"
      row+=" $c |"
    done
    echo "$row"
  done
  row="| | **caught** (of ${#list[@]}) | | |"
  for a in "${allocs[@]}"; do row+=" **${caught[$a]}** |"; done
  echo "$row"
  row="| | caught or defeated | | |"
  for a in "${allocs[@]}"; do row+=" $((caught[$a] + defeated[$a])) |"; done
  echo "$row"
  row="| | missed (crashes among them) | | |"
  for a in "${allocs[@]}"; do row+=" ${missed[$a]} (${crashed[$a]}) |"; done
  echo "$row"
  echo
  echo "caught: the allocator aborted with a report (contract cases: the documented error return)." \
    "defeated: no report, but the misuse had no effect (no attacker address handed out; NULL or 0 returned)." \
    "missed: ran on silently (a hijack: malloc returned the attacker's address or a live block)." \
    "crash: SIGSEGV/SIGBUS without a report (counted as missed)." \
    "glibc: $(ldd --version | head -n1 | sed 's/^ldd //'); Scudo: ${scudo_so##*/} of $(grep -o 'llvm-[0-9]*' <<<"$scudo_so");" \
    "kheap debug: KHEAP_DEBUG=1; one process per cell, timeout ${timeout_s}s."
} >"$out/table.md"

cat "$out/table.md"
echo
echo "misuse: ${#list[@]} cases x ${#allocs[@]} allocators; table in $out/table.md, runs in $runs/"
echo "  scudo: ${scudo_so:-none}; glibc check: ${debug_so:-none} ($(ldd --version | head -n1))"
