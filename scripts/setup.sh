#!/usr/bin/env bash
# Installs everything dirsyncd needs to build, test and run its demo, from Debian 12 packages only.
# A no-op (no apt call at all) when every package is already installed.
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config ccache git openssl sqlite3
    libboost1.81-dev libboost-json1.81-dev libsqlitecpp-dev libsqlite3-dev libspdlog-dev
    libssl-dev libsystemd-dev libgtest-dev googletest libtomlplusplus-dev
    clang-14 libclang-rt-14-dev clang-format systemd time strace
    prometheus-cpp-dev python3-prometheus-client
    scdoc lintian
    libpq-dev
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi
echo "setup: installing ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
    echo "setup: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
