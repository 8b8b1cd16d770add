#!/usr/bin/env python3
"""The floor of a first sync's writes: one insert per row into the contract tables, nothing else.

    bench/insert_floor.py MIRROR.db

Copies the users, groups and memberships of a mirror dirsyncd made into an empty database with
the same tables, indexes and settings, as bulk INSERT ... SELECT statements in one transaction
(no HTTP, no parsing, no staging, no checks), plus one `changes` row per row, and prints the CPU
time SQLite took. Memberships go in twice: in listing order (a group's members, as a sync
receives them) and in primary-key order (the best case). Whatever dirsyncd spends on top of this
number is TLS, parsing, staging and the merge's checks.
"""
import os
import resource
import sqlite3
import sys

TABLES = ("users", "groups", "memberships", "changes", "users_by_directory", "users_by_email",
          "users_by_organization", "groups_by_directory_name", "memberships_by_group",
          "memberships_by_directory")
NOW = "'2026-12-02T00:00:00.000Z'"
# how the memberships are ordered: as a sync lists them (a group's members), and the best case
ORDERS = (("listing order", "directory_id, group_id, user_id"), ("key order", "user_id, group_id"))


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(src, dst, member_order):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    names = ", ".join(f"'{t}'" for t in TABLES)
    with sqlite3.connect(f"file:{src}?mode=ro", uri=True) as con:
        ddl = [r[0] for r in con.execute(
            f"SELECT sql FROM sqlite_master WHERE name IN ({names}) ORDER BY type DESC")]
    c = sqlite3.connect(dst, isolation_level=None)
    for pragma in ("auto_vacuum = INCREMENTAL", "journal_mode = WAL", "synchronous = NORMAL",
                   "secure_delete = FAST", "cache_size = -8192", "temp_store = FILE"):
        c.execute("PRAGMA " + pragma)
    for statement in ddl:
        c.execute(statement)
    c.execute(f"ATTACH 'file:{src}?mode=ro' AS src")
    c.execute("SELECT SUM(LENGTH(raw_json)) FROM src.users").fetchall()  # into the OS cache
    steps = [
        ("users and groups",
         ["INSERT INTO groups (id, directory_id, organization_id, idp_id, name, raw_json, "
          "updated_at_us) SELECT id, directory_id, organization_id, idp_id, name, raw_json, "
          "updated_at_us FROM src.groups ORDER BY directory_id, id",
          "INSERT INTO users (id, directory_id, organization_id, idp_id, email, first_name, "
          "last_name, state, role, raw_json, updated_at_us) SELECT id, directory_id, "
          "organization_id, idp_id, email, first_name, last_name, state, role, raw_json, "
          "updated_at_us FROM src.users ORDER BY directory_id, id"]),
        ("memberships",
         [f"INSERT INTO memberships SELECT user_id, group_id, directory_id FROM src.memberships "
          f"ORDER BY {member_order}"]),
        ("changes",
         [f"INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT {NOW}, "
          f"directory_id, 'group', id, 'upsert' FROM src.groups",
          f"INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT {NOW}, "
          f"directory_id, 'user', id, 'upsert' FROM src.users",
          f"INSERT INTO changes (changed_at, directory_id, entity, entity_id, op) SELECT {NOW}, "
          f"directory_id, 'membership', user_id || ':' || group_id, 'upsert' FROM "
          f"src.memberships ORDER BY {member_order}"]),
        ("commit", ["COMMIT"]),
    ]
    c.execute("BEGIN IMMEDIATE")
    times = {}
    start = cpu()
    for label, statements in steps:
        t = cpu()
        for statement in statements:
            c.execute(statement)
        times[label] = cpu() - t
    total = cpu() - start
    rows = sum(c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
               for t in ("users", "groups", "memberships"))
    c.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    split = ", ".join(f"{k} {v:.2f} s" for k, v in times.items())
    return rows, total, split


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    dst = os.path.join(os.path.dirname(os.path.abspath(src)), "insert-floor.db")
    for what, order in ORDERS:
        rows, total, split = run(src, dst, order)
        print(f"{rows:,} rows, memberships in {what}: {total:.2f} s CPU, "
              f"{1e6 * total / rows:.1f} us per row ({split})")


if __name__ == "__main__":
    main()
