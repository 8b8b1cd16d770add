#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests: `start DIR` makes a cluster in a new temporary
# directory, starts it on a free loopback port (trust authentication, loopback only) and writes
# its conninfo to DIR/conninfo; `stop DIR` stops it and removes the cluster. The role
# dirsync_password (password test-password) is the one that must authenticate. CTest runs both as
# the fixture "postgres" (tests/CMakeLists.txt). initdb refuses to run as root, so as root the
# server runs as the user postgres (made by Debian's postgresql-common).
set -euo pipefail
cmd=${1:?usage: test_server.sh start|stop DIR}
dir=${2:?usage: test_server.sh start|stop DIR}
bin=/usr/lib/postgresql/15/bin
if [[ ! -x $bin/initdb ]]; then
    echo "test_server.sh: $bin/initdb not found: install postgresql-15 (scripts/setup.sh)" >&2
    exit 1
fi

as_server_user() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop() {
    [[ -f $dir/datadir ]] || return 0
    local data
    data=$(cat "$dir/datadir")
    as_server_user "$bin/pg_ctl" -D "$data/cluster" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$data" "$dir/datadir" "$dir/conninfo"
}

case $cmd in
start)
    stop
    mkdir -p "$dir"
    # Outside the build tree: the server user must reach it, and a clone may be mode 0700.
    data=$(mktemp -d /tmp/dirsync-pg.XXXXXX)
    chmod 0755 "$data"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$data"
    echo "$data" >"$dir/datadir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_server_user "$bin/initdb" -D "$data/cluster" -U dirsync -A trust -E UTF8 --locale=C.UTF-8 \
        >"$data/initdb.log" 2>&1 || { cat "$data/initdb.log" >&2; exit 1; }
    # One role that must give a password (scram-sha-256), for the tests of password files; every
    # other role is trusted.
    as_server_user sed -i '1i host all dirsync_password 127.0.0.1/32 scram-sha-256' \
        "$data/cluster/pg_hba.conf"
    # fsync off: a test server's data need not survive a power cut, and it saves seconds.
    as_server_user "$bin/pg_ctl" -D "$data/cluster" -l "$data/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data \
            -c fsync=off -c max_connections=100" start >/dev/null ||
        { cat "$data/server.log" >&2; exit 1; }
    psql -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$port user=dirsync dbname=postgres" \
        -c "CREATE ROLE dirsync_password LOGIN PASSWORD 'test-password'" \
        -c "GRANT CREATE ON DATABASE postgres TO dirsync_password" >/dev/null
    echo "host=127.0.0.1 port=$port user=dirsync dbname=postgres" >"$dir/conninfo"
    echo "PostgreSQL test server on 127.0.0.1:$port (cluster $data/cluster)"
    ;;
stop) stop ;;
*)
    echo "test_server.sh: unknown command $cmd (start or stop)" >&2
    exit 2
    ;;
esac
