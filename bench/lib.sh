# shellcheck shell=sh
# Shell functions shared by the bench/run-*.sh scripts, which source this
# file after "set -eu" with SRC set to the top of the source tree.

# bench_build_dir ARGS...: set BUILD to the build directory the script's
# arguments name ([BUILD-DIR] [-- options]; default: $BUILD, else the
# source tree), made absolute, and BENCH_NARGS to how many arguments that
# took (BUILD-DIR and "--"): the caller shifts them off.
bench_build_dir() {
	BUILD=${BUILD:-$SRC}
	BENCH_NARGS=0
	if [ $# -gt 0 ] && [ "$1" != "--" ]; then
		BUILD=$1
		BENCH_NARGS=1
		shift
	fi
	if [ $# -gt 0 ] && [ "$1" = "--" ]; then
		BENCH_NARGS=$((BENCH_NARGS + 1))
	fi
	BUILD=$(cd "$BUILD" && pwd)
}

# bench_program NAME: print the path of program NAME (maildatd, maildatctl)
# built in $BUILD, at its top or in daemon/ or ctl/; fail if there is none.
bench_program() {
	for p in "$BUILD/$1" "$BUILD/daemon/$1" "$BUILD/ctl/$1"; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "$(basename "$0"): no $1 in $BUILD; build first, or pass the" \
	    "build directory" >&2
	return 1
}

# bench_c_run NAME ARGS...: compile bench/NAME.c against the library built
# in $BUILD and run it with ARGS.
bench_c_run() {
	name=$1
	shift
	if [ ! -f "$BUILD/lib/libmaildat.a" ]; then
		echo "$(basename "$0"): $BUILD/lib/libmaildat.a not found; run" \
		    "configure and make first, or pass the build directory" >&2
		exit 1
	fi
	out=$(mktemp -d "/tmp/$name-bin.XXXXXX")
	trap 'rm -rf "$out"' EXIT INT TERM
	# shellcheck disable=SC2046
	cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -I"$SRC/lib" -I"$BUILD" \
	    -I"$BUILD/lib" "$SRC/bench/$name.c" "$BUILD/lib/libmaildat.a" \
	    $(pkg-config --libs smbclient sqlite3 libevent inih) \
	    -o "$out/$name"
	"$out/$name" "$@"
}
