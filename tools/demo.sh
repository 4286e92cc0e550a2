#!/bin/sh
# The main job on a machine with no MS Mail estate at hand: install what is
# needed, build, serve a demo estate from a private Samba on 127.0.0.1, run
# one maildatd round against it, show what it found, and clean up.
#
# Environment:
#	MAILDAT_SKIP_DEPS=1	do not install packages (tools/deps.sh)
#	MAILDAT_DEMO_BINDIR	a colon-separated list of directories, e.g.
#				/usr/sbin:/usr/bin: run the programs installed
#				there (maildatd, maildatctl, mkpostoffice)
#				instead of building them in build/demo
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "${MAILDAT_SKIP_DEPS:-0}" = 1 ] || sh tools/deps.sh

if [ -n "${MAILDAT_DEMO_BINDIR:-}" ]; then
	# tools/demo.py takes a build tree; give it one made of links to the
	# installed programs.  (maildatd starts its workers from the file
	# /proc/self/exe names, the installed one.)
	bin=$(mktemp -d "${TMPDIR:-/tmp}/maildat-demo-bin.XXXXXX")
	trap 'rm -rf "$bin"' EXIT
	trap 'exit 130' HUP INT TERM
	chmod 755 "$bin"
	for p in maildatd maildatctl mkpostoffice; do
		found=
		oldifs=$IFS
		IFS=:
		for d in $MAILDAT_DEMO_BINDIR; do
			if [ -f "$d/$p" ] && [ -x "$d/$p" ]; then
				found=$d/$p
				break
			fi
		done
		IFS=$oldifs
		if [ -z "$found" ]; then
			echo "demo.sh: no $p in MAILDAT_DEMO_BINDIR=$MAILDAT_DEMO_BINDIR" >&2
			exit 1
		fi
		echo "== $p: $found"
		ln -s "$found" "$bin/$p"
	done
	python3 tools/demo.py "$bin"
	exit 0
fi

autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build/demo
(cd build/demo && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)" >/dev/null)
exec python3 tools/demo.py "$top/build/demo"
