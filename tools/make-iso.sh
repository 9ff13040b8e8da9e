#!/usr/bin/env bash
# tools/make-iso.sh OUT.iso [COMMANDS] [KERNEL_OPTIONS]
# Builds a GRUB rescue ISO (BIOS) holding build/kheap.elf. With COMMANDS, the
# multiboot command line carries them after ` -- ` (run by the monitor at boot).
# KERNEL_OPTIONS (e.g. "slub_debug=FZ kheap_panic_on_bug") go before the ` -- `.
set -euo pipefail
out=$1
cmds=${2:-}
kargs=${3:-}
tree=$(mktemp -d "${TMPDIR:-/tmp}/kheap-iso.XXXXXX")
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/boot/grub"
cp build/kheap.elf "$tree/boot/kheap.elf"
if [ -n "$cmds" ] || [ -n "$kargs" ]; then
  # GRUB treats ';' as a separator and expands $: single-quote the script (and escape quotes in it).
  quoted=${cmds//\'/\'\\\'\'}
  script=""
  [ -n "$cmds" ] && script=" -- '$quoted'"
  sed "s|^\(\s*multiboot /boot/kheap.elf\).*|\1${kargs:+ $kargs}$script|" iso/boot/grub/grub.cfg > "$tree/boot/grub/grub.cfg"
else
  cp iso/boot/grub/grub.cfg "$tree/boot/grub/grub.cfg"
fi
mkdir -p "$(dirname "$out")"
if ! grub-mkrescue -o "$out" "$tree" >"$tree.log" 2>&1; then
  cat "$tree.log" >&2
  rm -f "$tree.log"
  exit 1
fi
rm -f "$tree.log"
