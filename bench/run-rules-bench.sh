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
. "$SRC/bench/lib.sh"
bench_build_dir "$@"
shift "$BENCH_NARGS"

bench_c_run rules_bench "$@"
