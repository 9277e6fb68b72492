#!/usr/bin/env bash
# Runs the test suites and ends with one line "N passed, N failed".
#   run-tests.sh all          unit + integration on build/, then on build/asan/
#   run-tests.sh unit DIR     unit tests of one build directory
#   run-tests.sh valgrind DIR unit tests of one build directory under Valgrind memcheck: any
#                             memory error or leak (definite, indirect, possible) fails the test
#   run-tests.sh integ DIR    integration tests against DIR/wosd
#   run-tests.sh fuzz         every fuzz target for FUZZ_SECONDS (5) each
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
passed=0; failed=0

# Valgrind memcheck, for run_unit: exit status 99 on any memory error or leak worth a report
# (still-reachable blocks are the libraries' own one-time allocations, not leaks).
VALGRIND=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible
          --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)

run_unit() {   # $1 = build dir; $2 = "valgrind" to run each test under memcheck
  local b=$1 t out p f label=unit
  local -a runner=()
  if [ "${2:-}" = valgrind ]; then runner=("${VALGRIND[@]}"); label="unit+valgrind"; fi
  for t in "$b"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d) continue;; esac
    out=$("${runner[@]}" "$t" 2>&1); local rc=$?
    printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED) |^\[  ERROR|^\[ +FAILED +\] [a-z_]' || true
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; printf '%s\n' "$out" | tail -20; fi
    echo "$label $(basename "$t") [$b]: $p passed, $f failed"
    passed=$((passed + p)); failed=$((failed + f))
  done
}

run_integ() {  # $1 = build dir
  local b=$1 log rc p f e
  log=$(mktemp)
  WOSD_BIN="$PWD/$b/wosd" $PY -m pytest -q -p no:cacheprovider tests/integration 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+'); p=${p:-0}
  f=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+'); f=${f:-0}
  e=$(grep -Eo '[0-9]+ errors?' "$log" | tail -1 | grep -Eo '[0-9]+'); e=${e:-0}
  f=$((f + e))
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # crash, no tests collected (rc 5), …
  rm -f "$log"
  echo "integration [$b]: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

run_fuzz() {  # each fuzz target briefly, over its seed corpus
  local out rc t
  out=$(FUZZ_DIR=build/fuzz bash scripts/fuzz.sh smoke --seconds "${FUZZ_SECONDS:-5}" 2>&1); rc=$?
  printf '%s\n' "$out"
  t=$(printf '%s\n' "$out" | grep -c ' ok (')
  local f; f=$(printf '%s\n' "$out" | grep -c 'FAILED$')
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  echo "fuzz: $t passed, $f failed"
  passed=$((passed + t)); failed=$((failed + f))
}

case "${1:-all}" in
  unit)  run_unit "${2:-build}" ;;
  valgrind) run_unit "${2:-build}" valgrind ;;
  integ) run_integ "${2:-build}" ;;
  all)
    run_unit build
    run_integ build
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_unit build/asan
    run_integ build/asan
    run_fuzz
    ;;
  fuzz) run_fuzz ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
