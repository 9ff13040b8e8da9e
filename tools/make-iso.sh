#!/usr/bin/env bash
# tools/make-iso.sh OUT.iso [COMMANDS]
# Builds a GRUB rescue ISO (BIOS) holding build/kheap.elf. With COMMANDS, the
# multiboot command line carries them after ` -- ` (run by the monitor at boot).
set -euo pipefail
out=$1
cmds=${2:-}
tree=$(mktemp -d "${TMPDIR:-/tmp}/kheap-iso.XXXXXX")
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/boot/grub"
cp build/kheap.elf "$tree/boot/kheap.elf"
if [ -n "$cmds" ]; then
  # GRUB treats ';' as a separator and expands $: single-quote the script (and escape quotes in it).
  quoted=${cmds//\'/\'\\\'\'}
  sed "s|^\(\s*multiboot /boot/kheap.elf\).*|\1 -- '$quoted'|" iso/boot/grub/grub.cfg > "$tree/boot/grub/grub.cfg"
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
