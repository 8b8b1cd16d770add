#!/usr/bin/env bash
# The demo: builds dirsyncd and the fake WorkOS server, serves a sample dataset over HTTPS (with
# a throwaway CA), runs `dirsyncd --once` into demo/mirror.db and shows what was mirrored.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== building (first time: a few minutes)"
bash scripts/build.sh release dirsyncd fake-workos

demo=demo
rm -rf "$demo"
mkdir -p "$demo"
bash scripts/make-test-certs.sh "$demo/certs"

key="sk_test_demo_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
echo "== starting the fake WorkOS API (3 directories, 1,500 users, 60 groups)"
build/tests/fake-workos --seed 42 --directories 3 --users 1500 --groups 60 --api-key "$key" \
    --tls-cert "$demo/certs/server.pem" --tls-key "$demo/certs/server.key" \
    --port-file "$demo/port" >"$demo/fake.log" 2>&1 &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s "$demo/port" ]] && break; sleep 0.1; done
port=$(cat "$demo/port")

echo "== dirsyncd --once (log in $demo/dirsyncd.log)"
start=$(date +%s%N)
WORKOS_API_KEY="$key" build/daemon/dirsyncd --once --db "$demo/mirror.db" \
    --api-url "https://localhost:$port" --ca-file "$demo/certs/ca.pem" >"$demo/dirsyncd.log"
end=$(date +%s%N)
grep -E "auto chose|full sync complete|requests:" "$demo/dirsyncd.log" | sed 's/^[^[]*\[info\] /   /'
echo "   wall time: $(((end - start) / 1000000)) ms"

db="$demo/mirror.db"
echo
echo "== what was mirrored ($db)"
sqlite3 -readonly -header -column "$db" "
SELECT d.name AS directory, d.type,
       (SELECT COUNT(*) FROM users u WHERE u.directory_id = d.id) AS users,
       (SELECT COUNT(*) FROM groups g WHERE g.directory_id = d.id) AS groups,
       (SELECT COUNT(*) FROM memberships m WHERE m.directory_id = d.id) AS memberships,
       s.membership_strategy AS strategy
FROM directories d JOIN sync_state s ON s.directory_id = d.id ORDER BY d.name;"
echo
sqlite3 -readonly -header -column "$db" "
SELECT u.email, u.first_name, u.last_name, u.state, u.role,
       json_extract(u.custom_attributes, '$.department') AS department,
       (SELECT group_concat(g.name, ', ') FROM memberships m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = u.id) AS groups
FROM users u ORDER BY u.email LIMIT 5;"
echo
email=$(sqlite3 -readonly "$db" "SELECT upper(email) FROM users ORDER BY id LIMIT 1")
group=$(sqlite3 -readonly "$db" "SELECT name FROM groups ORDER BY id LIMIT 1")
echo "== dirsyncd status (read-only; exit 0: every directory ok)"
build/daemon/dirsyncd --db "$db" status | sed 's/^/   /'
echo
echo "== query it yourself"
echo "   sqlite3 -readonly $db \"SELECT id, email, state FROM users WHERE email = '$email' COLLATE NOCASE\""
echo "   sqlite3 -readonly $db \"SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id WHERE g.name = '$group'\""
echo "   sqlite3 -readonly $db \"SELECT seq, entity, entity_id, op FROM changes ORDER BY seq DESC LIMIT 5\""
echo "   sqlite3 -readonly $db \"SELECT directory_id, state, last_full_sync_finished_at FROM mirror_status\""
