#!/usr/bin/env python3
"""Splits a `perf record --call-graph dwarf` profile of dirsyncd by where the time goes.

    perf record --call-graph dwarf,16384 -F 999 -o perf.data build/daemon/dirsyncd --once ...
    perf script -i perf.data | bench/profile_split.py [FRAME_SUBSTRING...]

Prints the share of samples by shared object (libsqlite3, libc, kernel, ...), and by the innermost
frame of ours that matches one of FRAME_SUBSTRING (default: the main stages of a sync), so that
"SQLite 44 %" can be told apart into merge, staging and events.
"""
import collections
import re
import sys

stages = sys.argv[1:] or [
    "MirrorStore::merge_directory", "MirrorStore::stage_members", "MirrorStore::stage_users",
    "MirrorStore::stage_groups", "MirrorStore::begin_memberships", "EventStore::apply_page",
    "decode::parse_user_page", "decode::parse_group_page", "decode::parse_member_page",
    "BeastTransport", "ApiClient::request", "store::open_database",
]
frame = re.compile(r"^\s*[0-9a-f]+ (.+?) \((.+)\)$")
by_dso, by_stage = collections.Counter(), collections.Counter()
total = 0
for block in sys.stdin.read().split("\n\n"):
    lines = [l for l in block.split("\n") if l.strip()]
    if len(lines) < 2:
        continue
    frames = [m.groups() for m in (frame.match(l) for l in lines[1:]) if m]
    if not frames:
        continue
    total += 1
    dso = frames[0][1].rsplit("/", 1)[-1]
    by_dso[re.sub(r"\.so[.0-9]*$", "", dso)] += 1
    stage = next((s for sym, _ in frames for s in stages if s in sym), "other")
    by_stage[stage] += 1

print(f"{total} samples")
print("by library (where the time was spent):")
for name, n in by_dso.most_common(12):
    print(f"  {100.0 * n / total:5.1f} %  {name}")
print("by stage (the innermost listed frame of ours on the stack):")
for name, n in by_stage.most_common():
    print(f"  {100.0 * n / total:5.1f} %  {name}")
