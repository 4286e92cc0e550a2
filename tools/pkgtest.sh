#!/bin/sh
# Build the Debian package, check it with lintian, install it, test what
# it installed, run the demo against the installed programs, purge it and
# check that nothing is left.  Debian 12, as root.
#
#	sh tools/pkgtest.sh
#
# Prints one TAP line per check ("ok N - ..." / "not ok N - ..."), then
# "1..N" and "# pkgtest: N passed, N failed"; exits 1 if a check failed.
#
# The package is built from a copy of the tree (its git-tracked and
# untracked, not ignored, files; all of it outside git), in PKGTEST_DIR
# (default build/pkgtest), which keeps the .deb, .changes and logs.  The
# source tree is not written to.
#
# Environment:
#	MAILDAT_SKIP_DEPS=1	do not install the packaging tools and build
#				dependencies (dpkg-dev, debhelper, lintian,
#				debian/control's Build-Depends) and the demo's
#				(samba, python3)
#	PKGTEST_DIR		where to build (default build/pkgtest)
#
# Whatever happens, the package is purged before the script exits, and a
# maildatd user and group the package created are removed: the machine is
# left as it was found, so that other tests never meet installed programs.

# The checks are functions that check() calls: shellcheck takes them for
# unreachable code.
# shellcheck disable=SC2317
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -ne 0 ]; then
	echo "pkgtest.sh: run as root (it installs and purges a package)" >&2
	exit 2
fi

dir=${PKGTEST_DIR:-$top/build/pkgtest}
case $dir in /*) ;; *) dir=$top/$dir ;; esac
export DEBIAN_FRONTEND=noninteractive
# Wait for the dpkg lock rather than fail when another apt-get runs.
APT="apt-get -y -qq -o DPkg::Lock::Timeout=600"

n=0
npass=0
nfail=0
# ok DESCRIPTION / notok DESCRIPTION [DETAIL FILE]
ok() {
	n=$((n + 1))
	npass=$((npass + 1))
	echo "ok $n - $1"
}
notok() {
	n=$((n + 1))
	nfail=$((nfail + 1))
	echo "not ok $n - $1"
	if [ -n "${2:-}" ] && [ -s "$2" ]; then
		tail -n 40 "$2" | sed 's/^/# /'
	fi
}
# check DESCRIPTION COMMAND...: ok if COMMAND succeeds (its output goes to
# $dir/check.log, shown on failure).
check() {
	desc=$1
	shift
	if "$@" >"$dir/check.log" 2>&1; then
		ok "$desc"
	else
		notok "$desc" "$dir/check.log"
	fi
}
finish() {
	echo "1..$n"
	echo "# pkgtest: $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
	exit $?
}
# bail DESCRIPTION [LOG]: a step the rest depends on failed.
bail() {
	notok "$1" "${2:-}"
	finish
}

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' maildatd 2>/dev/null)" = installed ]
}

# --- the machine before ----------------------------------------------------
if dpkg-query -W -f='${db:Status-Status}' maildatd 2>/dev/null |
    grep -qv '^not-installed$'; then
	echo "pkgtest.sh: the package maildatd is already on this machine" \
	    "($(dpkg-query -W -f='${db:Status-Status}' maildatd));" \
	    "purge it first (apt-get purge maildatd)" >&2
	exit 2
fi
for f in /usr/sbin/maildatd /usr/bin/maildatctl /usr/bin/mkpostoffice \
    /lib/systemd/system/maildatd.service /etc/maildatd; do
	if [ -e "$f" ]; then
		echo "pkgtest.sh: $f exists (make install?): the package would" \
		    "overwrite it and the purge remove it; remove it first" >&2
		exit 2
	fi
done
user_before=no
getent passwd maildatd >/dev/null && user_before=yes
group_before=no
getent group maildatd >/dev/null && group_before=yes

cleanup() {
	if dpkg-query -W -f='${db:Status-Status}' maildatd 2>/dev/null |
	    grep -qv '^not-installed$'; then
		echo "# cleanup: purging maildatd"
		$APT purge maildatd >/dev/null 2>&1 || dpkg --purge maildatd >/dev/null 2>&1 || :
	fi
	if [ "$user_before" = no ] && getent passwd maildatd >/dev/null; then
		userdel maildatd 2>/dev/null || :
	fi
	if [ "$group_before" = no ] && getent group maildatd >/dev/null; then
		groupdel maildatd 2>/dev/null || :
	fi
	[ -z "${listener:-}" ] || kill "$listener" 2>/dev/null || :
	[ -z "${tmp:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' HUP INT TERM

rm -rf "$dir"
mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/maildat-pkgtest.XXXXXX")

# --- a copy of the tree ----------------------------------------------------
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
src=$dir/maildatd-$version
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" status --porcelain >"$dir/status.before"
	git -C "$top" ls-files -co --exclude-standard |
	    while IFS= read -r f; do
		if [ -e "$f" ] || [ -h "$f" ]; then printf '%s\n' "$f"; fi
	    done >"$dir/files"
	tar -cf - -T "$dir/files" | tar -xf - -C "$src"
else
	# A release tarball: everything but the build trees.
	tar -cf - --exclude=./build --exclude=./debian/.debhelper \
	    --exclude=./debian/maildatd --exclude=./debian/tmp . |
	    tar -xf - -C "$src"
fi

# --- build dependencies ----------------------------------------------------
if [ "${MAILDAT_SKIP_DEPS:-0}" != 1 ]; then
	echo "# installing the packaging tools and build dependencies"
	if ! { $APT update &&
	    $APT install --no-install-recommends dpkg-dev debhelper lintian \
	        samba python3 &&
	    $APT build-dep "$src"; } >"$dir/deps.log" 2>&1; then
		bail "install the build dependencies" "$dir/deps.log"
	fi
fi

# --- build -----------------------------------------------------------------
echo "# dpkg-buildpackage -us -uc -b in $src"
start=$(date +%s)
if ! (cd "$src" &&
    DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc 2>/dev/null || echo 2)}" \
    dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1; then
	bail "dpkg-buildpackage -us -uc -b" "$dir/build.log"
fi
arch=$(dpkg --print-architecture)
deb=$dir/maildatd_${version}_$arch.deb
changes=$dir/maildatd_${version}_$arch.changes
ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start)) s)"
if [ -f "$dir/status.before" ]; then
	git -C "$top" status --porcelain >"$dir/status.after"
	check "the source tree is untouched by the build" \
	    cmp "$dir/status.before" "$dir/status.after"
fi
check "dh_auto_configure ran configure with the Debian paths" \
    grep -E -- "--prefix=/usr .*--sysconfdir=/etc .*--localstatedir=/var .*--runstatedir=/run .*--with-systemdsystemunitdir=/lib/systemd/system" \
    "$dir/build.log"

# --- lintian ---------------------------------------------------------------
# Errors and warnings fail; info tags are shown.  (It warns that it runs
# as root, which it need not here: it only reads the files.)
lintian -I --fail-on error,warning "$deb" "$changes" >"$dir/lintian.log" 2>&1 &&
    lint=0 || lint=$?
grep -v 'running with root privileges is not recommended' "$dir/lintian.log" |
    sed 's/^/# lintian: /'
if [ "$lint" -eq 0 ]; then
	ok "lintian: no errors, no warnings"
else
	notok "lintian: errors or warnings (exit $lint)"
fi

# --- install ---------------------------------------------------------------
if ! $APT install "$deb" >"$dir/install.log" 2>&1 || ! installed; then
	bail "apt-get install $(basename "$deb")" "$dir/install.log"
fi
ok "apt-get install $(basename "$deb")"
dpkg -L maildatd | sort >"$dir/files.installed"

# The user and group, from sysusers.d: a system account that cannot log in.
user_ok() {
	ent=$(getent passwd maildatd) || return 1
	echo "$ent"
	uid=$(echo "$ent" | cut -d: -f3)
	gid=$(echo "$ent" | cut -d: -f4)
	home=$(echo "$ent" | cut -d: -f6)
	shell=$(echo "$ent" | cut -d: -f7)
	[ "$uid" -lt 1000 ] &&
	    [ "$(getent group maildatd | cut -d: -f3)" = "$gid" ] &&
	    [ "$home" = /var/lib/maildatd ] &&
	    case $shell in */nologin|*/false) true ;; *) false ;; esac
}
check "the maildatd system user and group exist" user_ok

# The directories, from tmpfiles.d: owned by maildatd, mode 0750.
dir_ok() {
	[ -d "$1" ] && [ ! -h "$1" ] &&
	    [ "$(stat -c '%U:%G %a' "$1")" = "maildatd:maildatd 750" ]
}
check "/var/lib/maildatd: maildatd:maildatd 0750" dir_ok /var/lib/maildatd
check "/run/maildatd: maildatd:maildatd 0750" dir_ok /run/maildatd

unit=/lib/systemd/system/maildatd.service
check "the unit is $unit and belongs to the package" \
    grep -qx "$unit" "$dir/files.installed"
check "the unit is enabled (multi-user.target.wants)" \
    test "$(readlink /etc/systemd/system/multi-user.target.wants/maildatd.service)" = "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
	check "systemd-analyze verify $unit" systemd-analyze verify "$unit"
fi
if [ -d /run/systemd/system ]; then
	# systemd runs here: postinst started the daemon.  Stop it so that
	# the tests below can take the database.
	check "postinst started maildatd.service" systemctl is-active --quiet maildatd
	systemctl stop maildatd || :
fi

conf=/etc/maildatd/maildatd.conf
check "$conf is a conffile" \
    sh -c "dpkg-query -W -f='\${Conffiles}\n' maildatd | grep -q '^ $conf '"
check "$conf is the sample" cmp "$conf" /usr/share/doc/maildatd/maildatd.conf.sample
for m in man1/mkpostoffice.1 man5/maildatd.conf.5 man8/maildatd.8 man8/maildatctl.8; do
	check "manual page $m" test -f "/usr/share/man/$m.gz"
done

# maildatd -n with the installed sample configuration.
nconf() {
	out=$(maildatd -n) && echo "$out" && [ "$out" = "configuration OK" ]
}
check "maildatd -n: configuration OK" nconf
# The paths built in are the Debian ones.
# shellcheck disable=SC2016
check "built-in paths: /etc/maildatd, /var/lib/maildatd, /run/maildatd" \
    sh -c 'h=$(maildatctl --help) && echo "$h" |
	grep -q "/etc/maildatd/maildatd.conf" && echo "$h" |
	grep -q "/var/lib/maildatd/maildat.db" && echo "$h" |
	grep -q "/run/maildatd/control.sock"'

# The daemon as systemd starts it (as root, only fds 0 to 2 open, with the
# installed configuration and so the package's database, socket and user):
# one round against one location, on a port that accepts TCP connections
# and closes them, so that the probe passes and a crawl worker must start.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(1)
end = time.time() + 300
while time.time() < end:
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
' "$port" &
listener=$!
cp "$conf" "$tmp/maildatd.conf"
printf '\n[target pkgtest]\nurl = smb://127.0.0.1:%s/pkgtest\ntimeout = 10s\n' \
    "$port" >>"$tmp/maildatd.conf"
sleep 1
round() {
	rc=0
	timeout 120 maildatd -d --once -c "$tmp/maildatd.conf" \
	    3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- >"$dir/round.log" 2>&1 || rc=$?
	cat "$dir/round.log"
	echo "exit status $rc"
	# 1: the location did not crawl cleanly, as it cannot.
	[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || return 1
	grep -q 'round finished: 1 crawls' "$dir/round.log" &&
	    ! grep -q 'cannot start a crawl worker' "$dir/round.log" &&
	    [ "$(stat -c %U /var/lib/maildatd/maildat.db)" = maildatd ] &&
	    maildatctl crawls | grep -q pkgtest
}
check "maildatd --once as root: workers start, drops to maildatd, writes /var/lib/maildatd" round
kill "$listener" 2>/dev/null || :
wait "$listener" 2>/dev/null || :
listener=

# A changed configuration survives reinstalling the package.
echo "# changed by tools/pkgtest.sh" >>"$conf"
check "a changed $conf survives dpkg -i of the package again" \
    sh -c "dpkg -i '$deb' </dev/null && tail -n 1 '$conf' | grep -q 'changed by tools/pkgtest.sh'"

# --- the demo, with the installed programs ---------------------------------
demo() {
	MAILDAT_SKIP_DEPS=1 MAILDAT_DEMO_BINDIR=/usr/sbin:/usr/bin \
	    timeout 600 sh "$top/tools/demo.sh" >"$dir/demo.log" 2>&1 || return 1
	cat "$dir/demo.log"
	grep -q '^== maildatd: /usr/sbin/maildatd$' "$dir/demo.log" &&
	    grep -q '^== maildatctl: /usr/bin/maildatctl$' "$dir/demo.log" &&
	    grep -q '^== mkpostoffice: /usr/bin/mkpostoffice$' "$dir/demo.log" &&
	    grep -q 'alert 1 raised: duplicate-serial' "$dir/demo.log" &&
	    grep -q 'demo finished' "$dir/demo.log"
}
check "tools/demo.sh with MAILDAT_DEMO_BINDIR=/usr/sbin:/usr/bin" demo

# --- purge -----------------------------------------------------------------
if ! $APT purge maildatd >"$dir/purge.log" 2>&1; then
	bail "apt-get purge maildatd" "$dir/purge.log"
fi
ok "apt-get purge maildatd"
check "dpkg knows no maildatd any more" \
    sh -c "! dpkg-query -W -f='\${db:Status-Status}' maildatd 2>/dev/null | grep -qv '^not-installed\$'"
leftover() {
	left=0
	while IFS= read -r f; do
		[ "$f" = /. ] && continue
		if [ -d "$f" ]; then
			# Shared directories (/usr/bin, /lib, ...) stay;
			# ours go.
			case $f in
			*/maildatd) ;;
			*) continue ;;
			esac
		fi
		if [ -e "$f" ] || [ -h "$f" ]; then
			echo "left: $f"
			left=1
		fi
	done <"$dir/files.installed"
	for f in /etc/maildatd /var/lib/maildatd /run/maildatd \
	    /etc/systemd/system/multi-user.target.wants/maildatd.service; do
		if [ -e "$f" ] || [ -h "$f" ]; then
			echo "left: $f"
			left=1
		fi
	done
	if find /var/lib/systemd/deb-systemd-helper-enabled \
	    /var/lib/systemd/deb-systemd-helper-masked -name '*maildatd*' \
	    2>/dev/null | grep .; then
		left=1
	fi
	[ "$left" -eq 0 ]
}
check "no file of the package is left (conffile, state, unit links)" leftover
# Debian keeps system users at purge (files elsewhere may still be owned by
# the uid); the account cannot log in.  We remove it ourselves below.
check "the maildatd user is kept, as Debian does for system users" \
    getent passwd maildatd
if [ "$user_before" = no ]; then
	userdel maildatd 2>/dev/null || :
	[ "$group_before" = yes ] || groupdel maildatd 2>/dev/null || :
	check "the maildatd user and group this test created are removed" \
	    sh -c '! getent passwd maildatd && ! getent group maildatd'
fi

finish
