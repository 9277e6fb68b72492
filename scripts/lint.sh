#!/usr/bin/env bash
# Static analysis of src/: cppcheck, then clang-tidy with the checks in .clang-tidy. Any finding
# fails. docs/RELIABILITY.md ("Static analysis") says which checks run and why the others do not.
#   lint.sh            both tools over every file of src/
#   lint.sh FILE...    both tools over these files only
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find src -name '*.c' | sort)
status=0

# cppcheck: real defects only (warning: undefined behaviour, leaks, null pointers; performance;
# portability); style findings are left to review. jansson.h is force-included so that its
# iteration macros (json_array_foreach…) are known without parsing every system header.
if ! cppcheck -q --language=c --std=c11 -j "$jobs" --enable=warning,performance,portability \
     --inline-suppr --error-exitcode=1 -Isrc -D_GNU_SOURCE --include=/usr/include/jansson.h \
     --template='{file}:{line}: {severity} [{id}] {message}' "${files[@]}"; then
  echo "lint: cppcheck found problems" >&2
  status=1
fi

# clang-tidy: the compiler's view of each file (same flags as the build), files in parallel.
# Its count of the warnings it suppressed (system headers) is dropped; findings are kept.
flags="-std=c17 -D_GNU_SOURCE -Isrc $(pkg-config --cflags libmicrohttpd libssl sqlite3 libxml-2.0 jansson 2>/dev/null)"
export flags
tidy='out=$(clang-tidy --quiet "$@" -- $flags 2>&1); rc=$?
printf "%s\n" "$out" | grep -v "^[0-9]* warnings\{0,1\} generated\.$" | grep -v "^$" || true
exit $rc'
if ! printf '%s\n' "${files[@]}" | xargs -P "$jobs" -n 4 bash -c "$tidy" clang-tidy; then
  echo "lint: clang-tidy found problems" >&2
  status=1
fi
[ "$status" = 0 ] && echo "lint: ${#files[@]} files clean (cppcheck, clang-tidy)"
exit "$status"
