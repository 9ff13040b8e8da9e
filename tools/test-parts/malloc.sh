# tools/test-parts/malloc.sh — kheap as the malloc of real programs (a part of `make test`).
#
# Each case runs twice, under glibc and under LD_PRELOAD=build/host/libkheap.so
# with KHEAP_STATS=1; the outputs (stdout and exit status) must be identical,
# and the kheap run's stderr must carry at least one "kheap: stats:" line with
# a nonzero allocation count (proof that kheap, not glibc, served the program)
# and no kheap report. Programs: a C contracts check, a 4-thread C++ churn with
# cross-thread frees and a fork, python3 (PYTHONMALLOC=malloc) building and
# sorting big dicts and lists, sqlite3 inserting and querying 60k rows, gcc and
# g++ compiling (objects byte-identical) and the program running, git
# init/add/commit/log/gc/fsck with fixed dates (identical hashes); and bad frees:
# reported and aborted by default, refused with KHEAP_ON_ERROR=continue.
# Logs and scratch files: build/malloc-test/. Run alone: make check-malloc.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
passed=0 failed=0
so=$root/build/host/libkheap.so
src=$root/tools/test-parts/malloc
D=$root/build/malloc-test

tools/install-deps.sh malloc || { echo "malloc: could not install the programs"; echo "0 1" >"${KHEAP_RESULT:-/dev/null}"; exit 1; }
[ -f "$so" ] || make --no-print-directory malloc-lib >/dev/null || true
rm -rf "$D" && mkdir -p "$D"

ok() { passed=$((passed + 1)); echo "[  OK  ] malloc $1"; }
bad() {
  failed=$((failed + 1)); echo "[ FAIL ] malloc $1: $2"
  shift 2; for f in "$@"; do [ -f "$f" ] && { echo "    --- $f"; tail -n 15 "$f" | sed 's/^/    | /'; }; done
}

if [ ! -f "$so" ]; then
  bad build "no $so"; echo "malloc: $passed passed, $failed failed"; echo "$passed $failed" >"${KHEAP_RESULT:-/dev/null}"; exit 1
fi
gcc -O2 -Wall -Wno-alloc-size-larger-than -Wno-use-after-free -o "$D/contracts" "$src/contracts.c" && gcc -O2 -Wall -o "$D/badfree" "$src/badfree.c" &&
  g++ -std=c++20 -O2 -Wall -pthread -o "$D/threads" "$src/threads.cpp" || bad build "could not compile the test programs"

# stats_ok ERRFILE: a "kheap: stats:" line with allocations > 0, and no report.
stats_ok() {
  grep -Eq '^kheap: stats: .*: [1-9][0-9]* allocations' "$1" &&
    ! grep -Eq '^kheap: (invalid free|double free|panic|assertion|bad argument|free-list corruption)' "$1"
}

# case NAME SCRIPT — run SCRIPT (bash) in a fresh directory, once per allocator.
case_() {
  local name=$1 script=$2 t0=$SECONDS
  for a in glibc kheap; do
    mkdir -p "$D/$name.$a"
    if [ $a = glibc ]; then
      (cd "$D/$name.$a" && SRC=$src timeout 120 bash -c "$script") >"$D/$name.$a.out" 2>"$D/$name.$a.err"
    else
      (cd "$D/$name.$a" && SRC=$src LD_PRELOAD=$so KHEAP_STATS=1 timeout 120 bash -c "$script") \
        >"$D/$name.$a.out" 2>"$D/$name.$a.err"
    fi
    echo "exit status $?" >>"$D/$name.$a.out"
  done
  local lines; lines=$(grep -c '^kheap: stats:' "$D/$name.kheap.err")
  if ! diff -u "$D/$name.glibc.out" "$D/$name.kheap.out" >"$D/$name.diff"; then
    bad "$name" "output differs from glibc's" "$D/$name.diff" "$D/$name.kheap.err"
  elif ! grep -q '^exit status 0$' "$D/$name.kheap.out"; then
    bad "$name" "failed (under glibc too)" "$D/$name.kheap.out" "$D/$name.kheap.err"
  elif ! stats_ok "$D/$name.kheap.err"; then
    bad "$name" "no kheap stats line, or a kheap report" "$D/$name.kheap.err"
  else
    ok "$name (same output as glibc; processes under kheap: $lines; $((SECONDS - t0))s)"
  fi
}

# --- the contracts (kheap only: glibc 2.36 differs on aligned_alloc(3, n)) ----
LD_PRELOAD=$so KHEAP_STATS=1 "$D/contracts" >"$D/contracts.out" 2>"$D/contracts.err"
if [ $? = 0 ] && grep -q '^contracts: [0-9]* checks, 0 failed$' "$D/contracts.out" && stats_ok "$D/contracts.err"; then
  ok "contracts ($(sed -n 's/^contracts: \([0-9]*\) checks.*/\1/p' "$D/contracts.out") checks)"
else
  bad contracts "a contract check failed" "$D/contracts.out" "$D/contracts.err"
fi

# --- real programs --------------------------------------------------------------
export BIN=$D PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
case_ threads '"$BIN/threads"'
case_ python 'PYTHONMALLOC=malloc "$PY" "$SRC/dicts.py"'
case_ sqlite3 'sqlite3 db <"$SRC/workload.sql"; sqlite3 db "PRAGMA integrity_check"'
case_ gcc 'gcc -O2 -c "$SRC/hello.c" -o hello.o && gcc hello.o -o hello && ./hello &&
  g++ -std=c++20 -O2 -c "$SRC/threads.cpp" -o threads.o && sha256sum hello.o threads.o'
case_ git 'export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=kheap GIT_AUTHOR_EMAIL=k@heap GIT_COMMITTER_NAME=kheap \
    GIT_COMMITTER_EMAIL=k@heap GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
  git init -q -b main repo && cd repo &&
  for i in $(seq 300); do mkdir -p d$((i % 13)); seq $i $((i * 3)) >d$((i % 13))/f$i.txt; done &&
  git add -A && git commit -q -m "first: 300 files" &&
  for i in $(seq 1 7 300); do echo changed $i >>d$((i % 13))/f$i.txt; done && git rm -q d3/f3.txt &&
  git commit -q -a -m "second: edits" && git log --stat --format="%H %s" | tail -n 20 &&
  git diff --stat HEAD~1 | tail -n 3 && git gc -q && git fsck --full && git count-objects -v | grep -v size'

# --- bad pointers: reported, then abort (default) or refuse and go on -----------
for kind in foreign interior double; do
  { LD_PRELOAD=$so "$D/badfree" $kind >"$D/badfree-$kind.out" 2>"$D/badfree-$kind.err"; } 2>/dev/null  # no "Aborted" line
  rc=$?
  want=$([ $kind = double ] && echo "double free" || echo "invalid free")
  if [ $rc = 134 ] && grep -q "^kheap: $want" "$D/badfree-$kind.err" && grep -q 'aborting' "$D/badfree-$kind.err" &&
    ! grep -q survived "$D/badfree-$kind.out"; then
    ok "bad free ($kind): reported as $want, aborted"
  else
    bad "bad free ($kind)" "expected a '$want' report and SIGABRT (status 134), got status $rc" "$D/badfree-$kind.err"
  fi
  LD_PRELOAD=$so KHEAP_STATS=1 KHEAP_ON_ERROR=continue "$D/badfree" $kind >"$D/badfree-$kind-continue.out" \
    2>"$D/badfree-$kind-continue.err"
  rc=$?
  if [ $rc = 0 ] && grep -q "^kheap: $want" "$D/badfree-$kind-continue.err" && grep -q '^survived$' "$D/badfree-$kind-continue.out" &&
    grep -q ', 1 bad pointers' "$D/badfree-$kind-continue.err"; then
    ok "bad free ($kind, KHEAP_ON_ERROR=continue): reported, refused, went on"
  else
    bad "bad free ($kind, KHEAP_ON_ERROR=continue)" "status $rc" "$D/badfree-$kind-continue.out" "$D/badfree-$kind-continue.err"
  fi
done

# --- the misuse suite under kheap (tools/misuse.sh; the other allocators' columns
# are `make misuse`'s): every case caught in debug mode; in normal mode every
# case but the ones only debug mode's redzones and poison can see.
debug_only="ovf_1 ovf_8 ovf_large udf_1 udf_8 uaf_write"
if gcc -std=gnu11 -O1 -g -fno-builtin -Wall -Wextra -Werror -pthread -o build/misuse/misuse tools/misuse/misuse.c 2>"$D/misuse-build.err" ||
  { mkdir -p build/misuse && gcc -std=gnu11 -O1 -g -fno-builtin -Wall -Wextra -Werror -pthread -o build/misuse/misuse tools/misuse/misuse.c 2>"$D/misuse-build.err"; }; then
  MISUSE_ALLOCATORS="kheap kheap-debug" tools/misuse.sh >"$D/misuse.md" 2>"$D/misuse.err"
  wrong=()
  while IFS='|' read -r _ num name _ _ normal debug _; do
    name=$(echo "$name" | tr -d ' `') normal=$(echo "$normal" | tr -d ' *') debug=$(echo "$debug" | tr -d ' *')
    [ -n "$name" ] || continue
    want=caught
    [[ " $debug_only " == *" $name "* ]] && want=missed
    [ "$normal" = "$want" ] || wrong+=("$name: kheap $normal (want $want)")
    [ "$debug" = caught ] || wrong+=("$name: kheap debug $debug (want caught)")
  done < <(grep -E '^\| [0-9]+ \|' "$D/misuse.md")
  total=$(grep -cE '^\| [0-9]+ \|' "$D/misuse.md")
  if [ "$total" -ge 40 ] && [ ${#wrong[@]} = 0 ]; then
    ok "misuse suite ($total cases: kheap catches $(grep -o 'caught' <<<"$(grep -E '^\| [0-9]+ \|' "$D/misuse.md" | cut -d'|' -f6)" | wc -l), kheap debug all)"
  else
    printf '%s\n' "${wrong[@]}" >"$D/misuse.wrong"
    bad misuse "$total cases; unexpected cells" "$D/misuse.wrong" "$D/misuse.md"
  fi
else
  bad misuse "could not compile tools/misuse/misuse.c" "$D/misuse-build.err"
fi

echo "malloc: $passed passed, $failed failed"
[ -n "${KHEAP_RESULT:-}" ] && echo "$passed $failed" >"$KHEAP_RESULT"
[ "$failed" = 0 ]
