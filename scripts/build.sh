#!/usr/bin/env bash
# Configures and builds one flavour of the tree. Usage: scripts/build.sh release|asan [targets...]
#   release  build/        RelWithDebInfo, warnings as errors
#   asan     build-asan/   AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:?usage: scripts/build.sh release|asan [targets...]}
shift
case "$flavour" in
release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DDIRSYNC_SANITIZE=ON) ;;
*) echo "build.sh: unknown flavour '$flavour'" >&2; exit 2 ;;
esac
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S . -B "$dir" -G Ninja -DDIRSYNC_WERROR=ON "${flags[@]}" >/dev/null
# Boost-heavy translation units take ~1.5 GiB each: two jobs fit a 2-core CI machine.
ninja -C "$dir" -j "${DIRSYNC_JOBS:-2}" "$@"
