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
. "$SRC/bench/lib.sh"
bench_build_dir "$@"
shift "$BENCH_NARGS"

bench_c_run store_bench "$@"
