# bench/callgrind_count.sh — sourced by bench/*_callgrind.sh: instructions per
# operation, counted by callgrind over two iteration counts (the difference
# cancels set-up and start-up).
#   ir BIN MODE N TOGGLE...      total instructions inside the toggled functions
#   per_op BIN MODE TOGGLE...    (ir at 200000 - ir at 100000) / 100000, one decimal
ir() {
  local bin=$1 mode=$2 n=$3; shift 3
  local out; out=$(mktemp)
  local toggles=()
  for t in "$@"; do toggles+=(--toggle-collect="$t"); done
  valgrind --tool=callgrind --callgrind-out-file="$out" "${toggles[@]}" "$bin" "$mode" "$n" >/dev/null 2>&1
  callgrind_annotate "$out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
  rm -f "$out"
}
per_op() {
  local bin=$1 mode=$2; shift 2
  local a b; a=$(ir "$bin" "$mode" 100000 "$@"); b=$(ir "$bin" "$mode" 200000 "$@")
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 100000 }'
}
