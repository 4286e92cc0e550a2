#!/bin/sh
# Set up and run every test: install the Debian packages, build with
# -Werror and run `make check`, then build again with AddressSanitizer and
# UndefinedBehaviorSanitizer and run `make check` under them; then the fuzz
# targets, the Debian package (tools/pkgtest.sh: build, lintian, install,
# the demo with the installed programs, purge) and the soak.  Ends with a
# line "N passed, N failed" counting every test case of them all.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "${MAILDAT_SKIP_DEPS:-0}" = 1 ] || sh tools/deps.sh

autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
status=0

# run_suite NAME CONFIGURE-ARGS...: build in build/NAME and run make check.
run_suite() {
	name=$1
	shift
	dir="$top/build/$name"
	rm -rf "$dir"
	mkdir -p "$dir"
	echo "== $name: configure $*"
	(cd "$dir" && "$top/configure" -q "$@")
	echo "== $name: make"
	(cd "$dir" && make -s -j"$jobs" >/dev/null)
	echo "== $name: make check"
	if ! (cd "$dir" && make -s -j"$jobs" check); then
		status=1
		# Show what failed: the log of each failing test.
		for log in $(cd "$dir" && find tests -name '*.log' ! -name test-suite.log); do
			if grep -qE '^(not ok|FAIL|ERROR)' "$dir/$log" 2>/dev/null; then
				echo "---- $log"
				tail -n 60 "$dir/$log"
			fi
		done
	fi
	if [ -f "$dir/test-suite.log" ]; then
		p=$(sed -n 's/^# PASS: *\([0-9]*\).*/\1/p' "$dir/test-suite.log" | head -n1)
		f=$(sed -n 's/^# FAIL: *\([0-9]*\).*/\1/p' "$dir/test-suite.log" | head -n1)
		e=$(sed -n 's/^# ERROR: *\([0-9]*\).*/\1/p' "$dir/test-suite.log" | head -n1)
		x=$(sed -n 's/^# XPASS: *\([0-9]*\).*/\1/p' "$dir/test-suite.log" | head -n1)
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0} + ${e:-0} + ${x:-0}))
	else
		failed=$((failed + 1))
	fi
}

run_suite werror --enable-werror
# Leak checking on; UBSan findings are fatal so they count as failures.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite sanitizers --enable-werror --enable-sanitizers

# Fuzzing, bounded: each target replays its regression inputs and seeds,
# then runs for FUZZ_SECONDS (default 30).  Each target counts as a test.
echo "== fuzz: ${FUZZ_SECONDS:-30} s per target"
if FUZZ_SECONDS=${FUZZ_SECONDS:-30} sh tools/fuzz.sh po conf ipc url; then
	passed=$((passed + 4))
else
	echo "FAIL: a fuzz target found a crash or failed to build"
	failed=$((failed + 1))
	status=1
fi

# The Debian package, once: tools/pkgtest.sh builds it from a copy of the
# tree, runs lintian, installs it, checks what it installed, runs maildatd
# and the demo with the installed programs, purges it and checks that
# nothing is left.  Each of its checks counts as a test.
echo "== package: tools/pkgtest.sh"
pkglog="$top/build/pkgtest.log"
pkgrc=0
sh tools/pkgtest.sh >"$pkglog" 2>&1 || pkgrc=$?
grep -E '^(not )?ok |^#|^1\.\.|^pkgtest\.sh:' "$pkglog" || :
p=$(grep -c '^ok ' "$pkglog" || :)
f=$(grep -c '^not ok ' "$pkglog" || :)
if [ "$pkgrc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
	f=1
	echo "FAIL: tools/pkgtest.sh exited with status $pkgrc (see $pkglog)"
fi
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
[ "${f:-0}" -eq 0 ] || status=1

# Soak, once, on the -Werror build: SOAK_SECONDS (default 600) of crawling
# every second with faults injected; fails on memory or fd growth.
echo "== soak: ${SOAK_SECONDS:-600} s"
soaklog="$top/build/soak.log"
MAILDAT_BUILDDIR="$top/build/werror" MAILDAT_SRCDIR="$top" \
    SOAK_SECONDS=${SOAK_SECONDS:-600} python3 tests/integration/t_soak.py \
    > "$soaklog" 2>&1 || :
grep -E '^(not )?ok |^# (soak|rss)' "$soaklog" || :
p=$(grep -c '^ok ' "$soaklog" || :)
f=$(grep -c '^not ok ' "$soaklog" || :)
grep -q '^1\.\.[1-9]' "$soaklog" || { f=$((f + 1)); echo "FAIL: the soak did not finish"; }
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
[ "${f:-0}" -eq 0 ] || status=1

echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
