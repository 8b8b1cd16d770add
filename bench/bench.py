#!/usr/bin/env python3
"""dirsyncd's benchmarks, side by side with the Node SDK peer, against the fake WorkOS server.

    bench/run [all|compare|limits|scale|events|lag] [--tiny] [--peer DIR | --no-peer] [--out FILE]

compare  dirsyncd --once (a first sync, then one with nothing changed) and the Node script of
         ../shared/peers/node-sdk on the same fake and data, over HTTPS, unpaced: CPU, wall, peak
         RSS, requests, and in a second, traced pass the bytes each file was written.
limits   the same data under WorkOS's published limits, dirsyncd with its defaults: wall time
         against the lower bounds the fake computes from its own data, and the 429s it answered.
scale    a first --once at 100,000 users (CPU per mirrored row) and at 1,000,000 (peak RSS).
events   build/bench/dirsync-bench-events: events per second through decode and apply.
lag      build/bench/dirsync-bench-lag with a 1 s poll: lag from a change upstream to the row.

--tiny runs every benchmark at a size that takes seconds (CI keeps them working with it); the
numbers it prints say nothing. Results go to stdout as Markdown, and with --out to FILE too.
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import insert_floor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
DIRSYNCD = os.path.join(BUILD, "daemon", "dirsyncd")
FAKE = os.path.join(BUILD, "tests", "fake-workos")
API_KEY = "sk_test_bench_0123456789"
UNPACED = "global_requests_per_second = 100000\ndirectory_users_requests_per_second = 100000\n"

# The dataset of issue 11: 5 directories, 10,000 users, 500 groups, users sent with `groups: []`,
# directory sizes and group sizes skewed as in real directories.
FULL = dict(directories=5, users=10000, groups=500, max_groups_per_user=5)
TINY = dict(directories=2, users=400, groups=20, max_groups_per_user=3)

out_lines = []


def say(line=""):
    print(line, flush=True)
    out_lines.append(line)


class Fake:
    """One fake-workos process (a fresh one per measured run, so that its counts are the run's)."""

    def __init__(self, work, data, limited=False, seed=1):
        self.work = work
        self.stats_file = os.path.join(work, "fake-stats.json")
        self.bounds_file = os.path.join(work, "fake-bounds.json")
        port_file = os.path.join(work, "fake-port")
        for f in (self.stats_file, self.bounds_file, port_file):
            if os.path.exists(f):
                os.remove(f)
        certs = os.path.join(work, "certs")
        args = [FAKE, "--seed", str(seed), "--skewed", "--empty-embedded-groups",
                "--directories", str(data["directories"]), "--users", str(data["users"]),
                "--groups", str(data["groups"]),
                "--max-groups-per-user", str(data["max_groups_per_user"]),
                "--api-key", API_KEY, "--tls-cert", os.path.join(certs, "server.pem"),
                "--tls-key", os.path.join(certs, "server.key"), "--port-file", port_file,
                "--bounds-file", self.bounds_file, "--stats-file", self.stats_file]
        if not limited:
            args.append("--no-rate-limit")
        self.log = open(os.path.join(work, "fake.log"), "w")
        started = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.proc.poll() is not None:
                sys.exit(f"fake-workos exited with {self.proc.returncode}: see {self.log.name}")
            if time.monotonic() - started > 1800:
                sys.exit("fake-workos did not start within 30 minutes")
            time.sleep(0.05)
        self.url = "https://localhost:" + open(port_file).read().strip()
        self.start_seconds = time.monotonic() - started
        self.bounds = json.load(open(self.bounds_file))

    def stop(self):
        """Stops the fake; returns what it served (its stats file)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.log.close()
        return json.load(open(self.stats_file))


def run_measured(args, env, log_path, strace_file=None):
    """Runs a command to its end; returns wall s, CPU s (user, sys), peak RSS in KiB."""
    if strace_file:
        # -ff: a file per thread, so that no call is split into "unfinished" and "resumed"
        args = ["strace", "-ff", "-qq", "-y", "-e", "trace=write,pwrite64,writev,pwritev",
                "-e", "signal=none", "-o", strace_file] + args
    with open(log_path, "w") as log:
        started = time.monotonic()
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **env})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(args)} failed ({os.waitstatus_to_exitcode(status)}): see {log_path}\n"
                 + open(log_path).read()[-3000:])
    return dict(wall=wall, user=usage.ru_utime, sys=usage.ru_stime,
                cpu=usage.ru_utime + usage.ru_stime, rss_kib=usage.ru_maxrss)


def written_bytes(strace_file, db):
    """Bytes written to each of the database's files, from strace's logs (one per thread)."""
    by_file = {}
    call = re.compile(r"^(?:write|pwrite64|writev|pwritev)\(\d+<([^>]*)>.*\)\s+=\s+(\d+)$")
    for log in glob.glob(strace_file + ".*"):
        for line in open(log, errors="replace"):
            m = call.match(line.strip())
            if m and m.group(1).startswith(db):
                suffix = m.group(1)[len(db):] or "(main file)"
                by_file[suffix] = by_file.get(suffix, 0) + int(m.group(2))
        os.remove(log)
    return by_file


def db_facts(path):
    """Rows, size, free pages and the users table's bytes per row of a mirror database."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    one = lambda sql: con.execute(sql).fetchone()[0]
    facts = dict(users=one("SELECT COUNT(*) FROM users"), groups=one("SELECT COUNT(*) FROM groups"),
                 memberships=one("SELECT COUNT(*) FROM memberships"),
                 changes=one("SELECT COUNT(*) FROM changes"),
                 page_size=one("PRAGMA page_size"), pages=one("PRAGMA page_count"),
                 free=one("PRAGMA freelist_count"), bytes=os.path.getsize(path))
    if facts["users"]:
        json_bytes = one("SELECT SUM(LENGTH(CAST(raw_json AS BLOB))) FROM users")
        table_bytes = one("SELECT SUM(pgsize) FROM dbstat WHERE name = 'users'")
        facts["user_row_bytes"] = table_bytes / facts["users"]
        facts["user_json_bytes"] = json_bytes / facts["users"]
    con.close()
    facts["rows"] = facts["users"] + facts["groups"] + facts["memberships"]
    return facts


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def dirsyncd_once(fake, work, db, config_text, label, strace=False):
    config = os.path.join(work, "dirsyncd.toml")
    with open(config, "w") as f:
        f.write(config_text)
    trace = os.path.join(work, "strace.log") if strace else None
    m = run_measured([DIRSYNCD, "--once", "--config", config, "--db", db, "--api-url", fake.url,
                      "--ca-file", os.path.join(work, "certs", "ca.pem")],
                     {"WORKOS_API_KEY": API_KEY}, os.path.join(work, f"{label}.log"), trace)
    if trace:
        m["written"] = written_bytes(trace, db)
    return m


def remove_db(db):
    for suffix in ("", "-wal", "-shm", ".staging", ".staging-wal", ".staging-shm", ".lock"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)


def peer_dir(args, work):
    """A copy of the Node peer with its node_modules (npm ci once, kept in build/bench-peer)."""
    source = os.path.abspath(args.peer)
    if not os.path.exists(os.path.join(source, "sync.js")):
        sys.exit(f"no Node peer in {source} (pass --peer DIR, or --no-peer to leave it out)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("the Node peer needs node and npm (apt-get install nodejs npm), or pass --no-peer")
    copy = os.path.join(BUILD, "bench-peer")
    stamp = os.path.join(copy, "node_modules", ".package-lock.json")
    if not os.path.exists(stamp) or open(os.path.join(source, "package-lock.json")).read() != \
            open(os.path.join(copy, "package-lock.json")).read():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy)
        for root, dirs, files in os.walk(copy):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=copy, check=True)
    return copy


def row_facts(facts):
    return (f"{facts['users']:,} users, {facts['groups']:,} groups, "
            f"{facts['memberships']:,} memberships")


def bench_compare(args, work):
    data = TINY if args.tiny else FULL
    say("## compare: dirsyncd --once and the Node SDK peer, same fake, same data, HTTPS, unpaced")
    say()
    db = os.path.join(work, "mirror.db")
    remove_db(db)
    runs = []

    repeat = 1 if args.tiny else args.repeat

    def median(runs):
        return sorted(runs, key=lambda m: m["cpu"])[len(runs) // 2]

    firsts, noops, peers = [], [], []
    for _ in range(repeat):
        remove_db(db)
        fake = Fake(work, data)
        m = dirsyncd_once(fake, work, db, UNPACED, "first")
        m["stats"] = fake.stop()
        m["facts"] = db_facts(db)
        firsts.append(m)
        fake = Fake(work, data)
        m = dirsyncd_once(fake, work, db, UNPACED, "noop")
        m["stats"] = fake.stop()
        m["facts"] = db_facts(db)
        noops.append(m)
    first, noop = median(firsts), median(noops)
    say(f"dataset: {data['directories']} directories, {fake.bounds['users']:,} users, "
        f"{fake.bounds['groups']:,} groups, {fake.bounds['memberships']:,} memberships "
        f"(skewed; users carry `groups: []`); each run {repeat} times, the median by CPU shown")
    say()
    runs.append(("dirsyncd --once, first sync", first))
    runs.append(("dirsyncd --once, nothing changed", noop))

    peer = None
    if not args.no_peer:
        peer_copy = peer_dir(args, work)
        peer_db = os.path.join(work, "peer.db")
        for _ in range(repeat):
            remove_db(peer_db)
            fake = Fake(work, data)
            m = run_measured([os.path.join(peer_copy, "peer-dirsyncd"), "--api-url", fake.url,
                              "--db", peer_db, "--ca-file", os.path.join(work, "certs", "ca.pem"),
                              "--once", "--per-group"], {"WORKOS_API_KEY": API_KEY},
                             os.path.join(work, "peer.log"))
            m["stats"] = fake.stop()
            peers.append(m)
        peer = median(peers)
        con = sqlite3.connect(peer_db)
        peer_rows = sum(con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                        for t in ("users", "groups", "memberships"))
        con.close()
        runs.append(("Node SDK peer (`--once --per-group`)", peer))

    say("| client | CPU s (user + sys) | wall s | peak RSS | requests | CPU per mirrored row |")
    say("|---|---|---|---|---|---|")
    rows = first["facts"]["rows"]
    for label, m in runs:
        say(f"| {label} | {m['cpu']:.2f} ({m['user']:.2f} + {m['sys']:.2f}) | {m['wall']:.2f} | "
            f"{m['rss_kib'] / 1024:.0f} MiB | {m['stats']['total']:,} | "
            f"{1e6 * m['cpu'] / rows:.1f} µs |")
    say()
    say(f"mirror: {row_facts(first['facts'])} ({rows:,} rows)")
    if peer:
        say(f"the peer mirrored {peer_rows:,} rows; ratios (peer / dirsyncd first sync): "
            f"CPU {peer['cpu'] / first['cpu']:.1f}×, wall {peer['wall'] / first['wall']:.1f}×, "
            f"peak RSS {peer['rss_kib'] / first['rss_kib']:.1f}×")
    say()

    # The traced pass: strace costs CPU, so it is a run of its own.
    remove_db(db)
    fake = Fake(work, data)
    traced_first = dirsyncd_once(fake, work, db, UNPACED, "first-traced", strace=True)
    fake.stop()
    after_first = db_facts(db)
    fake = Fake(work, data)
    traced_noop = dirsyncd_once(fake, work, db, UNPACED, "noop-traced", strace=True)
    fake.stop()
    after_noop = db_facts(db)

    def wal(written):
        return sum(v for k, v in written.items() if k.endswith("-wal"))

    say("| run | WAL written (mirror + staging) | mirror file written | staging file written | "
        "database after | free pages after |")
    say("|---|---|---|---|---|---|")
    for label, m, facts in (("first sync", traced_first, after_first),
                            ("nothing changed", traced_noop, after_noop)):
        w = m["written"]
        say(f"| {label} | {mib(wal(w))} ({mib(w.get('-wal', 0))} + "
            f"{mib(w.get('.staging-wal', 0))}) | {mib(w.get('(main file)', 0))} | "
            f"{mib(w.get('.staging', 0))} | {mib(facts['bytes'])} | "
            f"{100 * facts['free'] / facts['pages']:.1f} % |")
    say()
    say(f"first sync: WAL / final database = {wal(traced_first['written']) / after_first['bytes']:.2f}; "
        f"nothing changed: the database grew by {after_noop['bytes'] - after_first['bytes']:,} bytes "
        f"and got {after_noop['changes'] - after_first['changes']} `changes` rows")
    if "user_row_bytes" in after_first:
        say(f"users table: {after_first['user_row_bytes']:.0f} bytes per user for "
            f"{after_first['user_json_bytes']:.0f} bytes of JSON as sent "
            f"({after_first['user_row_bytes'] / after_first['user_json_bytes']:.2f}×)")
    floor_db = os.path.join(work, "insert-floor.db")
    for what, order in insert_floor.ORDERS:
        floor_rows, floor_cpu, split = insert_floor.run(db, floor_db, order)
        say(f"floor, one bulk insert per row (bench/insert_floor.py), memberships in {what}: "
            f"{floor_cpu:.2f} s CPU, {1e6 * floor_cpu / floor_rows:.1f} µs per row ({split})")
    say()


def bench_limits(args, work):
    data = TINY if args.tiny else FULL
    say("## limits: under WorkOS's published limits, dirsyncd's default pacing")
    say()
    db = os.path.join(work, "limited.db")
    remove_db(db)
    fake = Fake(work, data, limited=True)
    m = dirsyncd_once(fake, work, db, "", "limited")
    stats = fake.stop()
    b = fake.bounds
    bound = stats["bound_of_requests_seconds"]
    log = open(os.path.join(work, "limited.log")).read()
    chosen = ", ".join(f"{d[-6:]} {how}" for d, how in re.findall(
        r"directory (\S+): membership_source auto chose (\S+)", log)) or "(none logged)"
    say("| wall | bound of its requests | best mix of strategies | all per group | requests | "
        "429s | wall / bound | wall / best mix |")
    say("|---|---|---|---|---|---|---|---|")
    say(f"| {m['wall']:.1f} s | {bound:.1f} s | {b['best_mix_seconds']:.1f} s | "
        f"{b['all_per_group_seconds']:.1f} s | {stats['total']:,} | {stats['throttled']} | "
        f"{m['wall'] / bound:.3f} | {m['wall'] / b['best_mix_seconds']:.3f} |")
    say()
    say("best mix: " + ", ".join(f"{d['id'][-6:]} ({d['users']} users) {d['best_mix']}"
                                 for d in b["directories"]))
    say(f"dirsyncd: {chosen}")
    say()


def bench_scale(args, work):
    sizes = [dict(directories=4, users=4000, groups=200, max_groups_per_user=3)] if args.tiny else [
        dict(directories=10, users=100000, groups=5000, max_groups_per_user=5),
        dict(directories=20, users=1000000, groups=50000, max_groups_per_user=5)]
    say("## scale: a first --once, unpaced")
    say()
    say("| dataset | fake start | wall | CPU s (user + sys) | CPU per mirrored row | peak RSS | "
        "database | free pages |")
    say("|---|---|---|---|---|---|---|---|")
    for data in sizes:
        db = os.path.join(work, "scale.db")
        remove_db(db)
        fake = Fake(work, data)
        m = dirsyncd_once(fake, work, db, UNPACED, "scale")
        fake.stop()
        f = db_facts(db)
        say(f"| {data['directories']} directories, {row_facts(f)} | {fake.start_seconds:.0f} s | "
            f"{m['wall']:.1f} s | {m['cpu']:.1f} ({m['user']:.1f} + {m['sys']:.1f}) | "
            f"{1e6 * m['cpu'] / f['rows']:.1f} µs | {m['rss_kib'] / 1024:.0f} MiB | "
            f"{mib(f['bytes'])} | {100 * f['free'] / f['pages']:.1f} % |")
        remove_db(db)
    say()


def bench_tool(args, work, name, tool_args, title):
    say(f"## {name}: {title}")
    say()
    tool = os.path.join(BUILD, "bench", tool_args[0])
    result = subprocess.run([tool] + tool_args[1:], capture_output=True, text=True, cwd=work)
    say("```")
    for line in result.stdout.strip().splitlines():
        say(line)
    say("```")
    say()
    if result.returncode != 0:
        sys.exit(f"{tool} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def bench_postgres(args, work):
    """dirsyncd --once into PostgreSQL beside SQLite: same fake, same data, one run."""
    data = TINY if args.tiny else FULL
    pg_dir = os.path.join(work, "pg")
    subprocess.run(["bash", os.path.join(ROOT, "tests", "pg", "test_server.sh"), "start", pg_dir],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        conninfo = open(os.path.join(pg_dir, "conninfo")).read().strip()

        def lsn(query, *params):
            out = subprocess.run(["psql", "-X", "-Atq", conninfo, "-c", query % params],
                                 check=True, capture_output=True, text=True).stdout
            return out.strip()

        say("## postgres: `dirsyncd --once` into PostgreSQL and into SQLite, same fake and data")
        say()
        say(f"{data['directories']} directories, {data['users']} users, {data['groups']} groups; "
            "PostgreSQL 15 from tests/pg/test_server.sh on the same machine (loopback, fsync=off: "
            "the WAL bytes are as with fsync). CPU is dirsyncd's alone (the server's is not counted); the server's WAL from "
            "pg_current_wal_insert_lsn().")
        say()
        say("| mirror | run | wall | dirsyncd CPU | peak RSS | WAL written |")
        say("|---|---|---|---|---|---|")
        fake = Fake(work, data)
        try:
            db = os.path.join(work, "pg-compare.db")
            remove_db(db)
            for label in ("first sync", "no-op resync"):
                m = dirsyncd_once(fake, work, db, "", "sqlite-" + label.replace(" ", "-"))
                say(f"| SQLite | {label} | {m['wall']:.2f} s | {m['cpu']:.2f} s | "
                    f"{m['rss_kib'] / 1024:.0f} MiB | (compare: strace) |")
            remove_db(db)
            for label in ("first sync", "no-op resync"):
                before = lsn("SELECT pg_current_wal_insert_lsn()")
                m = dirsyncd_once(fake, work, conninfo, 'database_schema = "dirsyncd_bench"\n',
                                  "pg-" + label.replace(" ", "-"))
                wal = int(float(lsn("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '%s')",
                                    before)))
                say(f"| PostgreSQL | {label} | {m['wall']:.2f} s | {m['cpu']:.2f} s | "
                    f"{m['rss_kib'] / 1024:.0f} MiB | {wal:,} bytes |")
            say()
            bench_takeover(args, work, fake, conninfo, lsn)
        finally:
            fake.stop()
        say()
    finally:
        subprocess.run(["bash", os.path.join(ROOT, "tests", "pg", "test_server.sh"), "stop",
                        pg_dir], check=False)


def bench_takeover(args, work, fake, conninfo, sql):
    """Two daemons on the schema the runs above filled: kill -9 the writer, time until the
    standby has recorded itself as the writer (its pid in daemon_status)."""
    kills = 3 if args.tiny else 10
    config = os.path.join(work, "takeover.toml")
    with open(config, "w") as f:
        f.write('database_schema = "dirsyncd_bench"\npoll_interval_seconds = 1\n')
    logs = []

    def start():
        log = open(os.path.join(work, f"takeover-{len(logs)}.log"), "w")
        logs.append(log)
        return subprocess.Popen([DIRSYNCD, "--config", config, "--db", conninfo, "--api-url",
                                 fake.url, "--ca-file", os.path.join(work, "certs", "ca.pem")],
                                env={"WORKOS_API_KEY": API_KEY, "PATH": os.environ["PATH"]},
                                stdout=log, stderr=subprocess.STDOUT)

    def writer():
        out = sql("SELECT daemon_pid FROM dirsyncd_bench.daemon_status")
        return int(out) if out else None

    def standby(pid):
        return sql("SELECT count(*) FROM dirsyncd_bench.mirror_status WHERE state = 'standby' "
                   "AND daemon_pid = %s", pid) == "1"

    def wait(what, timeout=30):
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                sys.exit("takeover benchmark: timed out; see " + work)
            time.sleep(0.01)

    procs = [start()]
    wait(lambda: writer() == procs[0].pid)
    took = []
    try:
        for _ in range(kills):
            procs.append(start())
            wait(lambda: standby(procs[-1].pid))
            old, new = procs[-2], procs[-1]
            # a random moment of the standby's 1 s cycle, as a real crash would be
            time.sleep(random.uniform(0, 1))
            killed = time.monotonic()
            old.kill()
            wait(lambda: writer() == new.pid)
            took.append(time.monotonic() - killed)
            old.wait()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        for log in logs:
            log.close()
    took.sort()
    say(f"Takeover after `kill -9` of the writer (daemon mode, poll_interval 1 s, a standby "
        f"trying the lease every poll interval), {kills} kills: median "
        f"{took[len(took) // 2] * 1000:.0f} ms, min {took[0] * 1000:.0f} ms, max "
        f"{took[-1] * 1000:.0f} ms (time until the new writer's pid is in daemon_status; "
        f"killed at a random moment of the standby's cycle; psql polls every ~20 ms).")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="all",
                        choices=["all", "compare", "limits", "scale", "events", "lag",
                                 "postgres"])
    parser.add_argument("--tiny", action="store_true", help="seconds, not minutes (for CI)")
    parser.add_argument("--peer", default=os.path.join(ROOT, "..", "shared", "peers", "node-sdk"))
    parser.add_argument("--no-peer", action="store_true", help="leave the Node peer out")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each client in compare (the median by CPU is shown)")
    parser.add_argument("--out", help="also write the results (Markdown) here")
    args = parser.parse_args()
    for binary in (DIRSYNCD, FAKE):
        if not os.path.exists(binary):
            sys.exit(f"{binary} is missing: build first (bench/run does)")

    work = tempfile.mkdtemp(prefix="dirsync-bench-")
    try:
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "make-test-certs.sh"),
                        os.path.join(work, "certs")], check=True, stdout=subprocess.DEVNULL)
        say(f"# dirsyncd benchmarks, {time.strftime('%Y-%m-%d')}"
            f"{' (--tiny: sizes for CI, not results)' if args.tiny else ''}")
        say()
        say(f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}, "
            f"SQLite {sqlite3.sqlite_version}, release build")
        say()
        selected = (["compare", "limits", "events", "lag", "postgres", "scale"]
                    if args.what == "all" else [args.what])
        for what in selected:
            if what == "compare":
                bench_compare(args, work)
            elif what == "limits":
                bench_limits(args, work)
            elif what == "scale":
                bench_scale(args, work)
            elif what == "postgres":
                bench_postgres(args, work)
            elif what == "events":
                size = ["--users", "1000", "--events", "1000"] if args.tiny else []
                bench_tool(args, work, "events", ["dirsync-bench-events", "--db",
                                                  os.path.join(work, "events.db")] + size,
                           "the event applier, pages of 100 (decode + apply, on disk)")
            elif what == "lag":
                size = ["--mutations", "5"] if args.tiny else ["--mutations", "60"]
                bench_tool(args, work, "lag", ["dirsync-bench-lag", "--poll", "1"] + size,
                           "change upstream to row in the mirror, daemon polling every 1 s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(out_lines) + "\n")


if __name__ == "__main__":
    main()
