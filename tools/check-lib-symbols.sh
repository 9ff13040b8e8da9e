#!/usr/bin/env bash
# tools/check-lib-symbols.sh OBJ... — lib/ must stay freestanding: the i386
# objects built from lib/ (outside lib/host) may leave undefined only symbols
# defined by lib/ itself, the documented platform hooks (lib/platform/platform.h)
# and the compiler's helpers. Anything else (printf, malloc, an OS call) fails.
set -uo pipefail
allowed='^(kheap_platform_write|kheap_platform_panic|kheap_platform_yield|kheap_platform_populate|kheap_platform_at_thread_exit|memcpy|memmove|memset|memcmp|__u?(div|mod|divmod)di[34]|__cxa_pure_virtual)$'
defined=$(nm --defined-only -j "$@" 2>/dev/null | sort -u)
undefined=$(nm -u -j "$@" 2>/dev/null | sort -u)
bad=()
while read -r sym; do
  [ -z "$sym" ] && continue
  grep -qxF -- "$sym" <<<"$defined" && continue
  [[ $sym =~ $allowed ]] && continue
  bad+=("$sym")
done <<<"$undefined"
n=$(wc -w <<<"$*")
if [ ${#bad[@]} -gt 0 ]; then
  echo "lib symbols: FAILED — lib/ objects reference symbols outside lib/ and the platform hooks:"
  for s in "${bad[@]}"; do
    printf '  %s (%s)\n' "$s" "$(c++filt "$s")"
    for o in "$@"; do nm -u -j "$o" | grep -qxF -- "$s" && echo "      used by $o"; done
  done
  [ -n "${KHEAP_RESULT:-}" ] && echo "0 1" > "$KHEAP_RESULT"
  exit 1
fi
echo "lib symbols: ok ($n objects; undefined symbols are only the platform hooks and compiler helpers)"
[ -n "${KHEAP_RESULT:-}" ] && echo "1 0" > "$KHEAP_RESULT"
exit 0
