#!/bin/sh
# Build the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan) and
# run each for a while.
#
#	sh tools/fuzz.sh [TARGET...]	TARGET: po conf ipc url (default: all)
#
# Environment:
#	FUZZ_SECONDS	how long each target is fuzzed (default 30); 0 only
#			builds and replays the corpus and regression inputs
#	FUZZ_BUILD_DIR	where to build and run (default build/fuzz)
#	FUZZ_ARGS	more libFuzzer options, e.g. "-jobs=4 -workers=4"
#
# The targets are compiled straight from lib/*.c, so no configure run is
# needed: a clean checkout after `sh tools/deps.sh` is enough (clang is
# installed here when it is missing and we are root).  Each target first
# replays tests/fuzz/regress/TARGET/* and its seed corpus, then fuzzes a
# copy of tests/fuzz/corpus/TARGET (the repository's corpus is never
# written to).  Crash, leak, timeout and out-of-memory inputs are kept in
# BUILD/TARGET/artifacts/ and their paths printed.  Exits 1 if any target
# failed, 2 if the build failed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD_DIR:-$top/build/fuzz}
case $build in /*) ;; *) build=$top/$build ;; esac
all="po conf ipc url"
targets=${*:-$all}
for t in $targets; do
	case " $all " in
	*" $t "*) ;;
	*) echo "fuzz.sh: unknown target '$t' (expected: $all)" >&2; exit 2 ;;
	esac
done
case $seconds in
''|*[!0-9]*) echo "fuzz.sh: FUZZ_SECONDS must be a number" >&2; exit 2 ;;
esac

# --- the compiler -----------------------------------------------------------
CC=${FUZZ_CC:-clang}
probe_fuzzer() {
	printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
	    '{ (void)d; (void)n; return 0; }' >"$build/probe.c"
	"$CC" -fsanitize=fuzzer,address,undefined -o "$build/probe" \
	    "$build/probe.c" >/dev/null 2>&1
}
mkdir -p "$build"
if ! command -v "$CC" >/dev/null 2>&1 || ! probe_fuzzer; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "== installing clang and its libFuzzer runtime"
		export DEBIAN_FRONTEND=noninteractive
		command -v clang >/dev/null 2>&1 ||
		    { apt-get update -qq && apt-get install -y -qq clang >/dev/null; }
		# The runtime of this clang's major version V, in its own
		# package libclang-rt-V-dev where Debian has one (Debian 12),
		# else already in clang's own packages.
		v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
		if ! probe_fuzzer && [ -n "$v" ] &&
		    apt-cache show --no-all-versions "libclang-rt-$v-dev" \
		    2>/dev/null | grep -q '^Package:'; then
			apt-get install -y -qq "libclang-rt-$v-dev" >/dev/null
		fi
	fi
	probe_fuzzer || {
		echo "fuzz.sh: $CC cannot build -fsanitize=fuzzer programs;" \
		    "install clang (and libclang-rt-V-dev, V its major" \
		    "version, where Debian has that package)" >&2
		exit 2
	}
fi

# --- build ------------------------------------------------------------------
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -g -O1 -Wall -Wextra -D_GNU_SOURCE -I$top/lib"
PKGS="smbclient krb5"
# shellcheck disable=SC2086
if ! pkgcflags=$(pkg-config --cflags $PKGS) || ! pkglibs=$(pkg-config --libs $PKGS); then
	echo "fuzz.sh: pkg-config cannot find $PKGS: run sh tools/deps.sh" >&2
	exit 2
fi
# The library code the targets reach.  crawl.c (for the ipc target)
# calls into smbio.c, which needs libsmbclient.
LIBSRC="po xmalloc log errbuf clock location result duration authfile safefile krb confval targets conf ipc crawl smbio"

echo "== build in $build"
mkdir -p "$build/obj"
objs=
for s in $LIBSRC; do
	# shellcheck disable=SC2086
	"$CC" $CFLAGS $pkgcflags $SAN -fsanitize=fuzzer-no-link \
	    -c "lib/$s.c" -o "$build/obj/$s.o" || exit 2
	objs="$objs $build/obj/$s.o"
done
rm -f "$build/libfuzzmaildat.a"
# shellcheck disable=SC2086
ar rcs "$build/libfuzzmaildat.a" $objs || exit 2
for t in $targets; do
	# shellcheck disable=SC2086
	"$CC" $CFLAGS $SAN -fsanitize=fuzzer -o "$build/fuzz_$t" \
	    "tests/fuzz/fuzz_$t.c" "$build/libfuzzmaildat.a" \
	    -Wl,--as-needed $pkglibs || exit 2
done

# --- run --------------------------------------------------------------------
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=
for t in $targets; do
	bin=$build/fuzz_$t
	dir=$build/$t
	rm -rf "$dir/corpus" "$dir/artifacts" "$dir"/replay*.log
	mkdir -p "$dir/corpus" "$dir/artifacts"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
	fi
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=$top/tests/fuzz/$t.dict"
	opts="-rss_limit_mb=1024 -timeout=10 -artifact_prefix=$dir/artifacts/"
	failed=0

	# Known bad inputs, one at a time so that each is reported, then
	# the seeds: each is run once.
	for f in tests/fuzz/regress/"$t"/*; do
		[ -f "$f" ] || continue
		log=$dir/replay-$(basename "$f").log
		# shellcheck disable=SC2086
		if ! "$bin" $opts "$f" >"$log" 2>&1; then
			echo "!! $t: regression input $f still crashes:"
			grep -E '^fuzz_[a-z]*:|^==[0-9]+==ERROR|runtime error:|^SUMMARY' \
			    "$log" | head -n 3 | sed 's/^/   /'
			failed=1
		fi
	done
	replay=
	for f in "$dir"/corpus/*; do
		[ -f "$f" ] && replay="$replay $f"
	done
	if [ -n "$replay" ]; then
		echo "== $t: replaying $(echo "$replay" | wc -w) seed inputs"
		# shellcheck disable=SC2086
		if ! "$bin" $opts $replay >"$dir/replay.log" 2>&1; then
			echo "!! $t: a seed input crashes: see $dir/replay.log"
			grep -E '^fuzz_[a-z]*:|^==[0-9]+==ERROR|runtime error:|^SUMMARY|Running: ' \
			    "$dir/replay.log" | tail -n 8 | sed 's/^/   /'
			failed=1
		fi
	fi

	if [ "$seconds" -gt 0 ]; then
		echo "== $t: fuzzing for ${seconds}s"
		stopped=
		# shellcheck disable=SC2086
		if ! "$bin" $opts -max_total_time="$seconds" \
		    -print_final_stats=1 $dict ${FUZZ_ARGS:-} \
		    "$dir/corpus" >"$dir/fuzz.log" 2>&1; then
			failed=1
			stopped=", stopped by the first crash"
			grep -E '^fuzz_[a-z]*:|^==[0-9]+==ERROR|runtime error:|^SUMMARY|ERROR: libFuzzer' \
			    "$dir/fuzz.log" | head -n 4 | sed 's/^/   /'
		fi
		execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -n1)
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -n1)
		cov=$(grep -E '^#[0-9]+' "$dir/fuzz.log" | grep 'cov:' | tail -n1 |
		    sed 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2 \3/')
		line="$t: ${runs:-?} runs, ${execs:-?} execs/s, ${cov:-no cov line}$stopped"
		echo "   $line"
		summary="$summary
   $line"
	fi
	for a in "$dir"/artifacts/*; do
		[ -f "$a" ] || continue
		echo "!! $t: found $a"
		failed=1
	done
	if [ "$failed" -ne 0 ]; then
		status=1
		summary="$summary
   $t: FAILED (logs in $dir)"
	fi
done

[ -n "$summary" ] && echo "== summary$summary"
exit "$status"
