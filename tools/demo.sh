#!/bin/sh
# The main job on a machine with no MS Mail estate at hand: install what is
# needed, build, serve a demo estate from a private Samba on 127.0.0.1, run
# one maildatd round against it, show what it found, and clean up.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "${MAILDAT_SKIP_DEPS:-0}" = 1 ] || sh tools/deps.sh
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p build/demo
(cd build/demo && { [ -f Makefile ] || "$top/configure" -q; } && make -s -j"$(nproc)" >/dev/null)
exec python3 tools/demo.py "$top/build/demo"
