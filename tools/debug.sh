#!/usr/bin/env bash
# tools/debug.sh — `make debug`: QEMU stopped at the first instruction with a
# gdb stub, and gdb attached with the kernel's symbols, kheap's gdb extension
# (tools/gdb/kheap.py) and a breakpoint at kernel_entry.
#
#   tools/debug.sh [--mem 128M] [--cmds "..."] [--batch GDB_SCRIPT] [--port N]
#
# --batch runs gdb non-interactively with the given command file (the tests use
# it). QEMU always runs under a timeout, so a failed gdb never leaves it waiting.
set -uo pipefail
cd "$(dirname "$0")/.."
mem=128M cmds="" batch="" port=$((20000 + RANDOM % 10000)) timeout_s=3600
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) mem=$2; shift 2 ;;
    --cmds) cmds=$2; shift 2 ;;
    --batch) batch=$2; timeout_s=120; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) echo "debug: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p build/logs
log=build/logs/debug-qemu.log
args=(--mem "$mem" --gdb "$port" --log "$log" --quiet --timeout "$timeout_s")
# Interactive: the serial console is also on a TCP port, so you can type at the monitor from another terminal.
serial_port=$((port + 1))
[ -z "$batch" ] && args+=(--serial-port "$serial_port")
[ -n "$cmds" ] && args+=(--cmds "$cmds")
tools/qemu-run.sh "${args[@]}" 2>"$log.err" &
qemu_pid=$!
# qemu-run.sh runs `timeout qemu-system-i386 ...`: stop that chain by PID (timeout passes the signal on).
# Also on a hangup or a signal (a closed terminal), so no QEMU is left running behind us.
# (A hangup may already have killed qemu-run.sh, orphaning its `timeout`: so also match QEMU by
# its gdb port, which is unique to this run.)
cleanup() {
  pkill -TERM -P $qemu_pid 2>/dev/null; kill $qemu_pid 2>/dev/null
  pkill -TERM -f -- "-gdb tcp::$port -S" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# Wait for the stub to listen.
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

gdb_args=(-q build/kheap.elf -ex "set pagination off" -ex "set confirm off"
          -ex "target remote 127.0.0.1:$port" -x tools/gdb/kheap.py)
if [ -n "$batch" ]; then
  gdb -batch "${gdb_args[@]}" -x "$batch"
  status=$?
else
  echo "kheap: QEMU is stopped at the first instruction; the serial console is logged to $log" >&2
  echo "kheap: to type at the kheap> prompt, in another terminal: nc 127.0.0.1 $serial_port" >&2
  echo "kheap: try 'continue', then Ctrl-C, then 'kheap meminfo'. 'kheap help' lists the commands." >&2
  gdb "${gdb_args[@]}" -ex "break kernel_entry" -ex "kheap help"
  status=$?
fi
exit $status
