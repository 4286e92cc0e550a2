#!/bin/sh
# Install what maildatd needs to build, test and run its demo on Debian 12.
# Run as root (or with sudo available).  Safe to run again.
set -eu

PACKAGES="build-essential autoconf automake pkg-config
libsmbclient-dev libevent-dev libsqlite3-dev
libcmocka-dev samba smbclient sqlite3 python3 passwd procps
valgrind clang libfaketime strace
libkrb5-dev krb5-user samba-ad-dc samba-ad-provision winbind
libnss-wrapper iproute2 util-linux"

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps.sh: run as root or install sudo" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
# libFuzzer and the sanitizer runtimes of the clang just installed: in
# their own package libclang-rt-V-dev where Debian has one for its major
# version V (Debian 12: libclang-rt-14-dev), else already part of clang.
v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
if [ -n "$v" ] && apt-cache show --no-all-versions "libclang-rt-$v-dev" \
    2>/dev/null | grep -q '^Package:'; then
	$SUDO apt-get install -y -qq --no-install-recommends \
	    "libclang-rt-$v-dev" >/dev/null
fi
# Samba's packages start system daemons where an init system runs; the
# tests start their own private smbd and need none of them.
