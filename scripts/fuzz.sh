#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang-14, ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60) from a seed corpus made of the test fixtures, after replaying the kept
# regression inputs. Fails on the first crash, leak or timeout; the crashing input is left in
# build-fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

work=build-fuzz/corpus
rm -rf "$work"
mkdir -p "$work"/{decode,event_applier,config} build-fuzz/crashes
cp tests/fixtures/python/*.json tests/fixtures/vcr/*.body "$work/decode/"
for f in tests/fixtures/python/dsync_*.json; do
    case "$f" in *_data*) continue ;; esac
    { printf '{"object":"list","data":['; cat "$f"; printf '],"list_metadata":{"after":null}}'; } \
        >"$work/event_applier/$(basename "$f")"
done
cp tests/fixtures/vcr/events__*.body "$work/event_applier/"
cp config/dirsyncd.toml "$work/config/"

for target in decode event_applier config; do
    regressions=tests/fuzz/regressions/$target
    if compgen -G "$regressions/*" >/dev/null; then
        echo "== fuzz_$target: replaying $(ls "$regressions" | wc -l) regression inputs"
        build-fuzz/tests/fuzz/fuzz_$target "$regressions"/*
    fi
    echo "== fuzz_$target: ${seconds} s"
    status=0
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        build-fuzz/tests/fuzz/fuzz_$target -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix=build-fuzz/crashes/"$target"- "$work/$target" \
        >build-fuzz/fuzz_$target.log 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|Test unit written)' \
        build-fuzz/fuzz_$target.log || true
    if ((status != 0)); then
        tail -40 build-fuzz/fuzz_$target.log
        echo "fuzz_$target found a problem (exit $status): see build-fuzz/crashes/" >&2
        exit 1
    fi
done
