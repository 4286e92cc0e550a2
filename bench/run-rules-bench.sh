#!/bin/sh
# Build bench/rules_bench.c against a configured and built tree and run it.
#
#	sh bench/run-rules-bench.sh [BUILD-DIR] [-- rules_bench options]
#
# BUILD-DIR is where configure and make ran (default: $BUILD, else the
# source tree itself); it must hold lib/libmaildat.a and config.h.  The
# options after -- go to rules_bench (-n POSTOFFICES -g GROUPS -m MEMBERS
# -c CHANGES -b BATCH -d DIR -p -k); by default 100,000 postoffices with
# 1,000 groups of 3 sharing a serial, 100 serials changed before the third
# evaluation.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
	BUILD=$1
	shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
BUILD=$(cd "$BUILD" && pwd)

if [ ! -f "$BUILD/lib/libmaildat.a" ]; then
	echo "run-rules-bench.sh: $BUILD/lib/libmaildat.a not found; run" \
	    "configure and make first, or pass the build directory" >&2
	exit 1
fi

out=$(mktemp -d /tmp/rules-bench-bin.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$SRC/lib" -I"$BUILD" \
    -I"$BUILD/lib" "$SRC/bench/rules_bench.c" "$BUILD/lib/libmaildat.a" \
    $(pkg-config --libs smbclient sqlite3 libevent inih) \
    -o "$out/rules_bench"
"$out/rules_bench" "$@"
