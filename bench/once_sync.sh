#!/usr/bin/env bash
# Benchmark of `dirsyncd --once` against the fake WorkOS server over HTTPS.
#
#   bench/once_sync.sh [--users N] [--groups N] [--directories N] [--unpaced]
#
# Default: 3 directories, 20,000 users and 1,000 groups in all, the fake enforcing WorkOS's
# published limits (4 req/s per directory on /directory_users, 6,000 req/min overall) and
# dirsyncd its default pacing. --unpaced lifts the limits on both sides, to measure dirsyncd's own
# cost. Runs a first sync into an empty database, then a second one with nothing changed, and
# prints wall time, CPU time, peak RSS and requests by endpoint for each.
set -euo pipefail
cd "$(dirname "$0")/.."
users=20000 groups=1000 directories=3 unpaced=0
while (($#)); do
    case "$1" in
    --users) users=$2; shift 2 ;;
    --groups) groups=$2; shift 2 ;;
    --directories) directories=$2; shift 2 ;;
    --unpaced) unpaced=1; shift ;;
    *) echo "usage: $0 [--users N] [--groups N] [--directories N] [--unpaced]" >&2; exit 2 ;;
    esac
done

bash scripts/setup.sh
bash scripts/build.sh release dirsyncd fake-workos >/dev/null
work=$(mktemp -d)
trap 'kill $fake_pid 2>/dev/null || true; rm -rf "$work"' EXIT
bash scripts/make-test-certs.sh "$work/certs"
key=sk_test_bench_0123456789

fake_args=(--seed 1 --directories "$directories" --users "$users" --groups "$groups" --api-key "$key"
    --tls-cert "$work/certs/server.pem" --tls-key "$work/certs/server.key" --port-file "$work/port")
config="$work/dirsyncd.toml"
: >"$config"
if ((unpaced)); then
    fake_args+=(--no-rate-limit)
    printf 'global_requests_per_second = 100000\ndirectory_users_requests_per_second = 100000\n' >"$config"
fi
build/tests/fake-workos "${fake_args[@]}" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 300); do [[ -s "$work/port" ]] && break; sleep 0.1; done
port=$(cat "$work/port")

run() { # label
    WORKOS_API_KEY=$key /usr/bin/time -f '%e %U %S %M' -o "$work/time" build/daemon/dirsyncd --once \
        --config "$config" --db "$work/mirror.db" --api-url "https://localhost:$port" \
        --ca-file "$work/certs/ca.pem" >"$work/log"
    read -r wall user sys rss <"$work/time"
    local requests strategy
    requests=$(grep -o 'requests: .*' "$work/log" | sed 's/requests: //')
    strategy=$(grep -o 'auto chose [a-z_]*' "$work/log" | sort | uniq -c | sed 's/^ *//' | paste -sd, -)
    printf '| %s | %s s | %s s | %d MiB | %s | %s |\n' "$1" "$wall" "$(awk "BEGIN { print $user + $sys }")" \
        "$((rss / 1024))" "$requests" "${strategy:-}"
}

echo "dirsyncd --once: $directories directories, $users users, $groups groups, $( ((unpaced)) && echo unpaced || echo 'WorkOS limits')"
echo
echo "| run | wall | CPU (user+sys) | peak RSS | requests | membership strategy |"
echo "|---|---|---|---|---|---|"
run "first sync (empty database)"
counts=$(sqlite3 "$work/mirror.db" "SELECT (SELECT COUNT(*) FROM users) || ' users, ' || (SELECT COUNT(*) FROM groups) || ' groups, ' || (SELECT COUNT(*) FROM memberships) || ' memberships, ' || (SELECT COUNT(*) FROM changes) || ' change rows'")
run "second sync (nothing changed)"
changes=$(sqlite3 "$work/mirror.db" "SELECT COUNT(*) FROM changes")
echo
echo "mirror: $counts; after the second sync: $changes change rows; database $(du -h "$work/mirror.db" | cut -f1)"
