#!/usr/bin/env bash
# fuzz.sh — run wosd's libFuzzer targets (build them first: make fuzz-build).
#
#   scripts/fuzz.sh smoke [--seconds N] [TARGET...]
#       Each target (default: all) for N seconds (default 10) over a temporary copy of its seed
#       corpus, so tests/fuzz/corpus/ is never modified. Exits non-zero if any target crashes,
#       leaks, hits undefined behaviour, times out or breaks an invariant; the reproducer is
#       copied to build/fuzz/artifacts/<target>/.
#   scripts/fuzz.sh run TARGET [--seconds N] [-jobs=J ...]
#       A longer campaign (default 600 s). New inputs accumulate in build/fuzz/corpus/<target>/
#       (seeded from the repository's corpus, outside it); extra arguments go to libFuzzer.
#   scripts/fuzz.sh repro TARGET FILE...
#       Runs the given inputs once each, printing the sanitizer's report.
#
# Environment: FUZZ_DIR (default build/fuzz). Every target name is fuzz_<parser>; "auth" is
# accepted for "fuzz_auth".
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 2
FUZZ_DIR=$(realpath -m "${FUZZ_DIR:-build/fuzz}")
SRC_DIR=$PWD/tests/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

die() { echo "fuzz.sh: $*" >&2; exit 2; }

all_targets() {
    local f
    for f in "$SRC_DIR"/fuzz_*.c; do basename "$f" .c; done
}

target_name() {
    case "$1" in fuzz_*) echo "$1" ;; *) echo "fuzz_$1" ;; esac
}

binary() {
    local bin="$FUZZ_DIR/$1"
    [ -x "$bin" ] || die "$bin is missing: run make fuzz-build"
    echo "$bin"
}

# libFuzzer options every run shares: a dictionary when the target has one, a per-input time
# limit (a slow input is a bug too) and a memory limit well above what a parser needs.
common_opts() {
    local t=$1 opts="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1"
    [ -f "$SRC_DIR/dict/$t.dict" ] && opts="$opts -dict=$SRC_DIR/dict/$t.dict"
    echo "$opts"
}

smoke() {
    local seconds=10 targets=() t
    while [ $# -gt 0 ]; do
        case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        *) targets+=("$(target_name "$1")"); shift ;;
        esac
    done
    [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)

    local failed=() log
    # Global, not local: the EXIT trap runs after this function has returned.
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/wosd-fuzz.XXXXXX") || die "mktemp failed"
    trap 'rm -rf "$tmp"' EXIT
    for t in "${targets[@]}"; do
        local bin corpus="$tmp/$t/corpus" art="$tmp/$t/artifacts/"
        bin=$(binary "$t")
        mkdir -p "$corpus" "$art"
        [ -d "$SRC_DIR/corpus/$t" ] && cp -R "$SRC_DIR/corpus/$t/." "$corpus/"
        log="$tmp/$t/log"
        printf '%-14s %3ss ... ' "$t" "$seconds"
        # shellcheck disable=SC2046
        if "$bin" $(common_opts "$t") -max_total_time="$seconds" -artifact_prefix="$art" "$corpus" >"$log" 2>&1; then
            local runs
            runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
            echo "ok (${runs:-?} runs)"
        else
            echo "FAILED"
            failed+=("$t")
            mkdir -p "$FUZZ_DIR/artifacts/$t"
            cp "$art"* "$FUZZ_DIR/artifacts/$t/" 2>/dev/null
            cp "$log" "$FUZZ_DIR/artifacts/$t/log"
            sed -n '/ERROR: \|invariant violated\|runtime error/,/SUMMARY/p' "$log" | head -60
            echo "  reproducer and log: $FUZZ_DIR/artifacts/$t/"
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz smoke: failed: ${failed[*]}"
        return 1
    fi
    echo "fuzz smoke: all ${#targets[@]} targets ok"
}

run() {
    [ $# -ge 1 ] || die "usage: fuzz.sh run TARGET [--seconds N] [libFuzzer args...]"
    local t seconds=600 extra=()
    t=$(target_name "$1"); shift
    while [ $# -gt 0 ]; do
        case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --seconds=*) seconds=${1#*=}; shift ;;
        *) extra+=("$1"); shift ;;
        esac
    done
    local bin work="$FUZZ_DIR/corpus/$t" art="$FUZZ_DIR/artifacts/$t/"
    bin=$(binary "$t")
    mkdir -p "$work" "$art"
    # With -jobs/-workers libFuzzer writes fuzz-<n>.log into the current directory: keep them
    # out of the source tree.
    cd "$FUZZ_DIR" || exit 2
    # shellcheck disable=SC2046
    exec "$bin" $(common_opts "$t") -max_total_time="$seconds" -artifact_prefix="$art" "${extra[@]}" \
        "$work" "$SRC_DIR/corpus/$t"
}

repro() {
    [ $# -ge 2 ] || die "usage: fuzz.sh repro TARGET FILE..."
    local t bin
    t=$(target_name "$1"); shift
    bin=$(binary "$t")
    exec "$bin" "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
smoke) smoke "$@" ;;
run) run "$@" ;;
repro) repro "$@" ;;
*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
