#!/bin/sh
# Build bench/store_bench.c against a configured and built tree and run it.
#
#	sh bench/run-store-bench.sh [BUILD-DIR] [-- store_bench options]
#
# BUILD-DIR is where configure and make ran (default: $BUILD, else the
# source tree itself); it must hold lib/libmaildat.a and config.h.  The
# options after -- go to store_bench (-n RESULTS -l LOCATIONS -b BATCH -d DIR
# -k); by default 100,000 results for 10,000 locations in batches of 100.
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
	echo "run-store-bench.sh: $BUILD/lib/libmaildat.a not found; run" \
	    "configure and make first, or pass the build directory" >&2
	exit 1
fi

out=$(mktemp -d /tmp/store-bench-bin.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$SRC/lib" -I"$BUILD" \
    -I"$BUILD/lib" "$SRC/bench/store_bench.c" "$BUILD/lib/libmaildat.a" \
    $(pkg-config --libs smbclient sqlite3 libevent inih) \
    -o "$out/store_bench"
"$out/store_bench" "$@"
