#!/usr/bin/env bash
# Builds the .deb from the release build (build/) and checks it as CI does:
#   scripts/package.sh          build/package/dirsyncd_<version>_<arch>.deb
#   scripts/package.sh --check  ... then its contents (dpkg-deb -c), lintian (no errors), and the
#                               package unpacked into a scratch root (dpkg -x): the installed
#                               binary's --version, systemd-analyze verify of the installed unit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh release dirsyncd dirsyncd_docs
rm -rf build/package
(cd build && cpack -G DEB -B package >/dev/null)
deb=$(ls build/package/dirsyncd_*.deb)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
[[ "${1:-}" == "--check" ]] || exit 0

contents=$(dpkg-deb -c "$deb")
for path in ./usr/bin/dirsyncd ./usr/lib/systemd/system/dirsyncd.service \
    ./usr/lib/sysusers.d/dirsyncd.conf ./usr/lib/tmpfiles.d/dirsyncd.conf \
    ./etc/dirsyncd/dirsyncd.toml ./usr/share/man/man8/dirsyncd.8.gz \
    ./usr/share/doc/dirsyncd/README.md ./usr/share/doc/dirsyncd/copyright; do
    grep -q " $path\$" <<<"$contents" || { echo "package: $path missing"; echo "$contents"; exit 1; }
done
if grep -q "/usr/local" <<<"$contents"; then echo "package: files under /usr/local"; exit 1; fi
echo "package: contents ok ($(wc -l <<<"$contents") entries)"
dpkg-deb -f "$deb" Depends
# the listing in a variable first: with pipefail, grep -q leaving early can SIGPIPE tar and fail the
# pipeline although the entry is there
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
grep -qx './postinst' <<<"$control" || { echo "package: no postinst"; echo "$control"; exit 1; }

# lintian: errors fail the build, warnings are shown
lintian_out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v "running with root privileges" || true)
echo "${lintian_out:-lintian: clean}"
if grep -q '^E:' <<<"$lintian_out"; then echo "package: lintian reports errors"; exit 1; fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg -x "$deb" "$root"
"$root/usr/bin/dirsyncd" --version
# the sysusers.d file makes the user in its group (in the scratch root's /etc/passwd)
systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/dirsyncd.conf" 2>/dev/null
grep -q '^dirsyncd:x:[0-9]*:[0-9]*:' "$root/etc/passwd" && grep -q '^dirsyncd-readers:' "$root/etc/group" ||
    { echo "package: sysusers.d did not make dirsyncd and dirsyncd-readers"; exit 1; }
unit="$root/usr/lib/systemd/system/dirsyncd.service"
grep -q '^ExecStart=/usr/bin/dirsyncd --config /etc/dirsyncd/dirsyncd.toml$' "$unit" ||
    { echo "package: ExecStart is not the installed binary without --db"; grep ExecStart "$unit"; exit 1; }
# verify looks for the binaries the unit names and its man page: those of the scratch root
sed "s#/usr/bin/dirsyncd#$root/usr/bin/dirsyncd#g" "$unit" >"$root/dirsyncd.service"
MANPATH="$root/usr/share/man" systemd-analyze verify "$root/dirsyncd.service"
echo "package: ok"
