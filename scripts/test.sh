#!/usr/bin/env bash
# The whole test suite: set-up, format check, release build + tests, the .deb and its checks, a
# tiny benchmark run, ASan/UBSan build + tests, short fuzz runs. What CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

section() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

section "format check"
if ! clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp') 2>/tmp/dirsync-format.log; then
    head -20 /tmp/dirsync-format.log
    echo "clang-format: files are not formatted (run: clang-format -i \$(git ls-files '*.cpp' '*.hpp'))"
    exit 1
fi

section "release build"
bash scripts/build.sh release
section "release tests"
ctest --test-dir build --output-on-failure -j 2

section "package (.deb: contents, lintian, unpacked binary and unit)"
bash scripts/package.sh --check

section "benchmarks, tiny sizes (a smoke run of bench/: each benchmark still works)"
python3 bench/bench.py all --tiny --no-peer >/tmp/dirsync-bench-tiny.md
tail -n 12 /tmp/dirsync-bench-tiny.md

section "sanitizer build (ASan + UBSan)"
bash scripts/build.sh asan
section "sanitizer tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 2
section "fuzzing (libFuzzer, ${FUZZ_SECONDS:-60} s per target)"
bash scripts/fuzz.sh
section "done"
