#!/usr/bin/env bash
# tools/qemu-run.sh — boot kheap's ISO in QEMU, the one way every test and `make run` do it.
#
#   tools/qemu-run.sh [--mem 128M] [--cmds "selftest; exit"] [--timeout SEC] [--log FILE]
#                     [--interactive] [--gdb PORT] [--serial-port PORT] [--quiet]
#                     [--kargs "slub_debug kheap_panic_on_bug"]
#
# --cmds builds an ISO whose multiboot command line carries the commands (run at
# boot). Non-interactive runs send the serial console to --log (and to the
# terminal unless --quiet), have a timeout (default 120 s), and turn QEMU's
# status into the kernel's exit code: isa-debug-exit gives code*2+1; anything
# else (0 = triple fault or reset, 124 = timeout) is a failure. The script's own
# status: the kernel's `exit` code, or 100 for a hang, 101 for a triple
# fault/reset, 102 for a QEMU error. On failure the serial log is shown.
set -uo pipefail
cd "$(dirname "$0")/.."

mem=128M cmds="" kargs="" timeout_s=120 log="" interactive=0 gdb_port="" quiet=0 serial_port=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) mem=$2; shift 2 ;;
    --cmds) cmds=$2; shift 2 ;;
    --kargs) kargs=$2; shift 2 ;;  # kernel options before ` -- ` (e.g. slub_debug)
    --timeout) timeout_s=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --interactive) interactive=1; shift ;;
    --gdb) gdb_port=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --serial-port) serial_port=$2; shift 2 ;;  # serial also on 127.0.0.1:PORT (type at the monitor with nc)
    *) echo "qemu-run: unknown option $1" >&2; exit 2 ;;
  esac
done

iso=build/kheap.iso
if [ -n "$cmds" ] || [ -n "$kargs" ]; then
  mkdir -p build/iso-runs
  iso=$(mktemp build/iso-runs/run.XXXXXX.iso)
  trap 'rm -f "$iso"' EXIT
  tools/make-iso.sh "$iso" "$cmds" "$kargs" || exit 102
fi

qemu=(qemu-system-i386 -m "$mem" -cdrom "$iso" -boot d -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04)
[ -n "$gdb_port" ] && qemu+=(-gdb "tcp::$gdb_port" -S)

if [ "$interactive" = 1 ]; then
  if [ -n "${DISPLAY:-}" ]; then qemu+=(-serial mon:stdio); else qemu+=(-display none -serial mon:stdio); fi
  echo "kheap: booting $iso in QEMU ($mem). Leave with 'exit [code]' at the kheap> prompt, or Ctrl-A X." >&2
  "${qemu[@]}"
  status=$?
  if [ $((status % 2)) = 1 ]; then exit $(((status - 1) / 2)); fi
  exit $status
fi

[ -n "$log" ] || log=build/logs/qemu-$$.log
mkdir -p "$(dirname "$log")"
: > "$log"
if [ -n "$serial_port" ]; then
  qemu+=(-display none -monitor none
         -chardev "socket,id=serial0,host=127.0.0.1,port=$serial_port,server=on,wait=off,logfile=$log"
         -serial chardev:serial0)
else
  qemu+=(-display none -serial "file:$log" -monitor none)
fi
if [ "$quiet" = 1 ]; then
  timeout "$timeout_s" "${qemu[@]}" </dev/null
  status=$?
else
  timeout "$timeout_s" "${qemu[@]}" </dev/null &
  qpid=$!
  tail -n +1 -f "$log" --pid=$qpid 2>/dev/null | tr -d '\r'
  wait $qpid
  status=$?
fi

show_log() { echo "----- serial log ($log) -----" >&2; tr -d '\r' < "$log" | tail -n 80 >&2; echo "-----" >&2; }
if [ $status = 124 ]; then
  echo "qemu-run: TIMEOUT after ${timeout_s}s (kernel hung or waited for input)" >&2; [ "$quiet" = 1 ] && show_log; exit 100
elif [ $status = 0 ]; then
  echo "qemu-run: QEMU exited with status 0: triple fault or reset, not a clean exit" >&2; [ "$quiet" = 1 ] && show_log; exit 101
elif [ $((status % 2)) = 1 ]; then
  exit $(((status - 1) / 2))
else
  echo "qemu-run: QEMU failed with status $status" >&2; [ "$quiet" = 1 ] && show_log; exit 102
fi
