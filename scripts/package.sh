#!/usr/bin/env bash
# Build a Debian package of fetchd with dpkg-deb, and prove the layout of
# both ways to install it:
#
#   1. make install PREFIX=/usr into a staging tree, plus the DEBIAN/ control
#      files, then dpkg-deb --build; check the package's file list, owners,
#      modes and fields, and that the packaged binary runs; install and
#      remove it with dpkg in a private root (its postinst creates the
#      fetchd user there);
#   2. make install DESTDIR=… with the default PREFIX=/usr/local, check the
#      tree, then make uninstall and check that it removed everything.
#
#   scripts/package.sh [OUTDIR]      the .deb goes to OUTDIR (default: a temp
#                                    dir, removed on exit)
#
# Needs dpkg-deb, make and go; runs lintian when it is installed (not
# required: its report is printed, not enforced). Takes about 15 s with a warm
# build cache; the first run compiles everything once more, static
# (CGO_ENABLED=0) and with -trimpath, which CI's other builds do not share.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/fetchd-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=${1:-$work/out}
mkdir -p "$out"

failures=0
fail() {
	echo "package.sh: FAIL: $*" >&2
	failures=$((failures + 1))
}

# A Debian version must start with a digit; git describe gives v1.2.3,
# v1.2.3-4-gHASH or a bare HASH, each maybe with -dirty.
describe=$(git describe --tags --always --dirty 2>/dev/null || echo unknown)
version=${describe#v}
version=${version//-/+}
# Only a tag (v1.2.3…) gives a release version: an untagged hash that
# happens to start with a digit must still sort below every release.
[[ $describe =~ ^v[0-9] ]] || version="0~git$version"
arch=$(dpkg --print-architecture)
bin="$work/fetchd"
# Static whatever the environment says (scripts/test.sh exports
# CGO_ENABLED=1 for -race): the package declares no Depends.
make -s BIN="$bin" VERSION="$describe" CGO_ENABLED=0 >/dev/null

# --- 1. the .deb -------------------------------------------------------------
root="$work/deb"
make -s install BIN="$bin" DESTDIR="$root" PREFIX=/usr ZSHCOMPDIR=/usr/share/zsh/vendor-completions >/dev/null
# Debian policy: man pages and changelogs compressed with gzip -9n.
gzip -9n "$root/usr/share/man/man1/fetchd.1" "$root/usr/share/man/man5/fetchd.toml.5"
doc="$root/usr/share/doc/fetchd"
{
	echo "fetchd $version; built from git $describe."
	echo
	echo " * The changes are in the git log of the source tree."
} | gzip -9n >"$doc/changelog.gz"
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fetchd
Comment: fetchd is built from its source tree with `make install`.
 Its licence is the one stated in that tree.
EOF
chmod 644 "$doc/copyright"

mkdir -p "$root/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: fetchd
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-fetchd developers <fetchd@localhost>}
Installed-Size: $installed_size
Section: mail
Priority: optional
Description: POP3 mail retrieval daemon that never loses a message
 fetchd polls POP3 accounts and delivers their mail to maildirs, mbox
 files, MDAs (procmail, maildrop), an SMTP relay or LMTP, deleting it on
 the server only after it is delivered and recorded. It replaces
 fetchmail, getmail and mpop, and imports their configuration and state.
 .
 The package installs systemd units (fetchd.service, fetchd@.service and a
 user unit), none enabled: write /etc/fetchd/config.toml (see
 /usr/share/doc/fetchd/config.example.toml), then
 systemctl enable --now fetchd.
EOF
# The system user fetchd.service runs as; running daemons restart on
# upgrade (each finishes the message in flight first) and stop on removal.
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers ${DPKG_ROOT:+--root="$DPKG_ROOT"} fetchd.conf
	fi
	if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload
		if [ -n "$2" ]; then
			systemctl try-restart fetchd.service 'fetchd@*.service' || true
		fi
	fi
fi
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
	systemctl stop fetchd.service 'fetchd@*.service' 2>/dev/null || true
fi
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
EOF
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
deb="$out/fetchd_${version}_${arch}.deb"
# gzip rather than dpkg-deb's default xz: a few seconds instead of half a
# minute, for a package a tenth larger.
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
echo "package.sh: built $deb ($(du -h "$deb" | cut -f1))"

# What the package must hold, with its mode.
want_deb=(
	"-rwxr-xr-x ./usr/bin/fetchd"
	"-rw-r--r-- ./usr/share/man/man1/fetchd.1.gz"
	"-rw-r--r-- ./usr/share/man/man5/fetchd.toml.5.gz"
	"-rw-r--r-- ./usr/lib/systemd/system/fetchd.service"
	"-rw-r--r-- ./usr/lib/systemd/system/fetchd@.service"
	"-rw-r--r-- ./usr/lib/systemd/user/fetchd.service"
	"-rw-r--r-- ./usr/lib/sysusers.d/fetchd.conf"
	"-rw-r--r-- ./usr/share/bash-completion/completions/fetchd"
	"-rw-r--r-- ./usr/share/zsh/vendor-completions/_fetchd"
	"-rw-r--r-- ./usr/share/doc/fetchd/config.example.toml"
	"-rw-r--r-- ./usr/share/doc/fetchd/copyright"
	"-rw-r--r-- ./usr/share/doc/fetchd/changelog.gz"
)
listing=$(dpkg-deb -c "$deb")
for w in "${want_deb[@]}"; do
	mode=${w%% *} path=${w#* }
	grep -qE "^${mode//-/\\-} root/root .* ${path//./\\.}$" <<<"$listing" || fail ".deb lacks $path with mode $mode, owner root/root"
done
if grep -vE ' root/root ' <<<"$listing" | grep -q .; then fail ".deb holds files not owned by root/root"; fi
if grep -qE ' \./etc/' <<<"$listing"; then fail ".deb installs into /etc (the config is the admin's)"; fi
for field in Package:fetchd "Version:$version" "Architecture:$arch"; do
	got=$(dpkg-deb -f "$deb" "${field%%:*}")
	[[ $got == "${field#*:}" ]] || fail ".deb field ${field%%:*} is '$got', want '${field#*:}'"
done
# A static binary needs no Depends; a cgo one would need libc6.
if ! go version -m "$bin" | grep -q 'CGO_ENABLED=0'; then fail "the binary is not static (CGO_ENABLED=0): the control file would need Depends: libc6"; fi

extract="$work/extract"
dpkg-deb -x "$deb" "$extract"
"$extract/usr/bin/fetchd" --version | grep -qF "fetchd $describe" || fail "the packaged binary does not print its version $describe"
grep -qx 'ExecStart=/usr/bin/fetchd run -c /etc/fetchd/config.toml' "$extract/usr/lib/systemd/system/fetchd.service" ||
	fail "fetchd.service in the .deb does not run /usr/bin/fetchd"
if grep -rq /usr/local "$extract/usr/lib/systemd"; then fail "a unit in the .deb still names /usr/local"; fi
zcat "$extract/usr/share/man/man5/fetchd.toml.5.gz" | grep -q '^\.TH FETCHD\.TOML 5' || fail "fetchd.toml.5.gz is not the man page"
# Install and remove it for real, into a private dpkg root: the maintainer
# scripts run (chrootless, with $DPKG_ROOT set, so they touch nothing of
# this machine) and must create the fetchd user there.
droot="$work/droot"
mkdir -p "$droot/var/lib/dpkg/info" "$droot/var/lib/dpkg/updates" "$droot/etc"
touch "$droot/var/lib/dpkg/status" "$droot/etc/passwd" "$droot/etc/group"
if ! dpkg --root="$droot" --force-script-chrootless --log=/dev/null -i "$deb" >"$work/dpkg.log" 2>&1; then
	fail "dpkg -i into a private root failed: $(cat "$work/dpkg.log")"
fi
[[ -x $droot/usr/bin/fetchd ]] || fail "dpkg -i did not install /usr/bin/fetchd"
if command -v systemd-sysusers >/dev/null 2>&1; then
	grep -q '^fetchd:x:[0-9]*:[0-9]*:[^:]*:/var/lib/fetchd:/usr/sbin/nologin$' "$droot/etc/passwd" ||
		fail "the postinst did not create the system user fetchd (home /var/lib/fetchd)"
fi
if ! dpkg --root="$droot" --force-script-chrootless --log=/dev/null -r fetchd >"$work/dpkg.log" 2>&1; then
	fail "dpkg -r in the private root failed: $(cat "$work/dpkg.log")"
fi
left=$(find "$droot" -type f ! -path "$droot/etc/*" ! -path "$droot/var/lib/dpkg/*")
[[ -z $left ]] || fail "dpkg -r left: $left"

if command -v lintian >/dev/null 2>&1; then
	echo "package.sh: lintian (informational):"
	lintian --no-tag-display-limit "$deb" || true
fi

# --- 2. make install / uninstall under /usr/local ----------------------------
dest="$work/dest"
make -s install BIN="$bin" DESTDIR="$dest" >/dev/null
want_install=(
	usr/local/bin/fetchd
	usr/local/share/man/man1/fetchd.1
	usr/local/share/man/man5/fetchd.toml.5
	usr/local/lib/systemd/system/fetchd.service
	usr/local/lib/systemd/system/fetchd@.service
	usr/local/lib/systemd/user/fetchd.service
	usr/local/lib/sysusers.d/fetchd.conf
	usr/local/share/bash-completion/completions/fetchd
	usr/local/share/zsh/site-functions/_fetchd
	usr/local/share/doc/fetchd/config.example.toml
)
for f in "${want_install[@]}"; do
	[[ -f $dest/$f ]] || fail "make install DESTDIR=… did not install /$f"
done
[[ -x $dest/usr/local/bin/fetchd ]] || fail "make install: the binary is not executable"
grep -qx 'ExecStart=/usr/local/bin/fetchd run -c %E/fetchd/config.toml' "$dest/usr/local/lib/systemd/user/fetchd.service" ||
	fail "make install: the user unit does not run /usr/local/bin/fetchd"
if [[ -e $dest/etc ]]; then fail "make install wrote under /etc"; fi
make -s uninstall BIN="$bin" DESTDIR="$dest" >/dev/null 2>&1
left=$(find "$dest" -type f)
[[ -z $left ]] || fail "make uninstall left: $left"

if [[ $failures -gt 0 ]]; then
	echo "package.sh: $failures check(s) failed" >&2
	exit 1
fi
echo "package.sh: ok: the .deb and make install hold the expected files"
