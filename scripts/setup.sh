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
    libpq-dev postgresql-15
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
# postgresql-15 is for the tests, which start a server of their own (tests/pg/test_server.sh):
# no default cluster is made or started by the package.
if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
fi
export UCF_FORCE_CONFFOLD=1 # postgresql-common keeps that file as it is
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
