#!/usr/bin/env bash
# Configures and builds one flavour of the tree, a preset of CMakePresets.json:
#   scripts/build.sh release|asan [targets...]
#   release  build/        RelWithDebInfo, warnings as errors
#   asan     build-asan/   AddressSanitizer + UndefinedBehaviorSanitizer
# (the fuzz preset is built by scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/build.sh release|asan [targets...]}
shift
case "$preset" in
release | asan) ;;
*) echo "build.sh: unknown flavour '$preset' (release or asan)" >&2; exit 2 ;;
esac
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake --preset "$preset" >/dev/null
# Boost-heavy translation units take ~1.5 GiB each: two jobs fit a 2-core CI machine.
if (($#)); then
    cmake --build --preset "$preset" -j "${DIRSYNC_JOBS:-2}" --target "$@"
else
    cmake --build --preset "$preset" -j "${DIRSYNC_JOBS:-2}"
fi
