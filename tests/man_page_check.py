#!/usr/bin/env python3
"""dirsyncd(8) names every config key, option, subcommand and exit code there is.

usage: man_page_check.py DIRSYNCD_BINARY SOURCE_DIR
The keys come from the example config (every key, set or commented out), the options and
subcommands from `dirsyncd --help`, the exit codes from daemon/exit_codes.hpp.
"""
import re
import subprocess
import sys

binary, source = sys.argv[1], sys.argv[2]
page = open(f"{source}/doc/dirsyncd.8.scd").read()
missing = []

for line in open(f"{source}/config/dirsyncd.toml"):
    m = re.match(r"^#?\s?([a-z_]+) = ", line)
    if m and f"*{m.group(1)}*" not in page:
        missing.append(f"config key {m.group(1)}")

usage = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout
for option in sorted(set(re.findall(r"(--[a-z][a-z-]+)", usage))):
    if f"*{option}*" not in page:
        missing.append(f"option {option}")
for sub in ("status", "check-config", "resync", "evict", "allow-deletions", "reload"):
    if sub not in usage:
        missing.append(f"subcommand {sub} is not in --help")
    if f"*{sub}*" not in page:
        missing.append(f"subcommand {sub}")

codes = re.findall(r"exit_\w+ = (\d+)", open(f"{source}/daemon/exit_codes.hpp").read())
for code in codes:
    if f"\n*{code}*\n" not in page:
        missing.append(f"exit code {code}")
for signal in ("SIGHUP", "SIGUSR1", "SIGTERM"):
    if f"*{signal}*" not in page:
        missing.append(f"signal {signal}")

if missing:
    print("doc/dirsyncd.8.scd does not describe:\n  " + "\n  ".join(missing))
    sys.exit(1)
print(f"dirsyncd(8) names {len(codes)} exit codes, every option, subcommand and config key")
