#!/bin/sh
# Live postoffices: one maildatd --once round against the raw limit of
# libsmbclient, a shell loop of smbclient and an impacket thread pool.
#
#	sh bench/run-crawl-bench.sh [BUILD-DIR] [-- options]
#
# Options: -s SERVERS (5) -m SHARES per server (100) -r REPEAT (3)
#          -f FOLDERS: instead of SHARES shares, one share per server
#             holding FOLDERS postoffice folders, each a location
#          -w WORKERS (default: maildatd's own default, read from its log)
#          -k (keep the work directory)
#
# Starts SERVERS private smbd on 127.0.0.1 (bench/smbfarm.py, through the
# integration-test harness), each serving SHARES shares, every share a
# postoffice written by mkpostoffice with 2 routes (MASTER.GLB,
# NETWORK.GLB, 2 XTN files) (with -f, one share MAIL of FOLDERS such
# postoffices).  Then, REPEAT times, in this order:
#
#   maildatd   maildatd -d --once with one url = line per location, a fresh
#              database, no workers = line (the default) unless -w;
#   raw        bench/raw_libsmbclient.c with as many processes as maildatd
#              has workers, one SMBCCTX each, reading the same files;
#   smbclient  a sequential shell loop, one smbclient per share:
#              smbclient //HOST/SHARE -p PORT -N -c 'get GLB/MASTER.GLB ...'
#   impacket   bench/impacket_crawl.py, a thread pool of as many threads,
#              one SMBConnection per server per thread, the same files.
#
# Each is timed with /usr/bin/time: wall seconds, and user+sys CPU seconds
# of the client processes and their children (for maildatd the parent and
# every worker; never smbd).  Prints every run and the medians: crawls/s
# and client CPU seconds per 1,000 crawls, and the three targets.
# Needs root (smbd; maildatd then runs as nobody), /usr/bin/time,
# smbclient and python3-impacket (/usr/bin/python3).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
bench_build_dir "$@"
shift "$BENCH_NARGS"
SERVERS=5 SHARES=100 FOLDERS=0 REPEAT=3 WORKERS='' KEEP=0
while getopts s:m:f:r:w:k opt; do
	case $opt in
	s) SERVERS=$OPTARG ;;
	m) SHARES=$OPTARG ;;
	f) FOLDERS=$OPTARG ;;
	r) REPEAT=$OPTARG ;;
	w) WORKERS=$OPTARG ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [BUILD-DIR] [-- -s N -m N -f N -r N -w N -k]" >&2
	   exit 2 ;;
	esac
done

MAILDATD=$(bench_program maildatd)
for t in /usr/bin/time smbclient /usr/bin/python3; do
	command -v "$t" >/dev/null || { echo "run-crawl-bench.sh: $t" \
	    "missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/crawl-bench.XXXXXX)
chmod 755 "$work"
farm=
cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$farm" ]; then
		kill -TERM "$farm" 2>/dev/null || :
		wait "$farm" 2>/dev/null || :
	fi
	if [ "$KEEP" = 1 ]; then
		echo "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# shellcheck disable=SC2046
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra "$SRC/bench/raw_libsmbclient.c" \
    $(pkg-config --cflags --libs smbclient) -o "$work/raw_libsmbclient"

if [ "$FOLDERS" -gt 0 ]; then
	echo "run-crawl-bench: $SERVERS smbd x 1 share of $FOLDERS postoffice" \
	    "folders on 127.0.0.1, $REPEAT runs each; in $work"
else
	echo "run-crawl-bench: $SERVERS smbd x $SHARES shares on 127.0.0.1, " \
	    "$REPEAT runs each; in $work"
fi
python3 "$SRC/bench/smbfarm.py" "$BUILD" "$work/farm" --servers "$SERVERS" \
    --shares "$SHARES" --folders "$FOLDERS" >"$work/farm.log" 2>&1 &
farm=$!
i=0
while [ ! -f "$work/farm/ready" ]; do
	if ! kill -0 "$farm" 2>/dev/null; then
		echo "run-crawl-bench: the smbd farm did not start:" >&2
		cat "$work/farm.log" >&2
		exit 1
	fi
	i=$((i + 1))
	[ $i -lt 1200 ] || { echo "smbd farm: no start in 10 min" >&2; exit 1; }
	sleep 0.5
done
URLS=$work/farm/urls
N=$(wc -l <"$URLS")

mkdir "$work/db"
chown nobody "$work/db" 2>/dev/null || chmod 777 "$work/db"
{
	printf '[maildatd]\ndatabase = %s/db/maildat.db\n' "$work"
	printf 'user = nobody\ncontrol_socket = %s/db/control.sock\n' "$work"
	# Alerts to the discard port of the loopback: nothing listens.
	printf 'syslog = udp:127.0.0.1:9\n'
	if [ -n "$WORKERS" ]; then printf 'workers = %s\n' "$WORKERS"; fi
	printf '[target farm]\n'
	sed 's/^/url = /' "$URLS"
} >"$work/maildatd.conf"

# time_cmd NAME LOG CMD...: run CMD under /usr/bin/time, output to LOG;
# appends "NAME WALL CPU" to $work/runs.
time_cmd() {
	name=$1 log=$2
	shift 2
	/usr/bin/time -f '%e %U %S' -o "$work/time.out" "$@" >"$log" 2>&1 ||
	    echo "  ($name exited with status $?, see $log)"
	tail -1 "$work/time.out" | awk -v n="$name" \
	    '{ printf "%s %s %.2f\n", n, $1, $2 + $3 }' >>"$work/runs"
}
last() {
	tail -1 "$work/runs" | awk -v n="$N" \
	    '{ printf "%.2f s wall, %.1f crawls/s, %.2f s CPU, %.2f CPU s per 1000 crawls", $2, n / $2, $3, $3 * 1000 / n }'
}

# The admins' loop: one smbclient per share, one after the other.
# shellcheck disable=SC2016
LOOP='while read -r u; do
	hp=${u#smb://}; host=${hp%%:*}; rest=${hp#*:}
	port=${rest%%/*}; sp=${rest#*/}; share=${sp%%/*}
	case $sp in */*) dir=${sp#*/}/ ;; *) dir= ;; esac
	smbclient "//$host/$share" -p "$port" -N \
	    -c "get ${dir}GLB/MASTER.GLB /dev/null" >/dev/null 2>&1 ||
	    echo "smbclient failed: $u"
done <"$1"'

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' \
    /proc/cpuinfo | head -1), $(awk '/MemTotal/ {print $2, $3}' \
    /proc/meminfo) memory, Linux $(uname -r), $(smbd --version)"
echo "start: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/runs"
r=1
while [ "$r" -le "$REPEAT" ]; do
	rm -f "$work"/db/maildat.db*
	time_cmd maildatd "$work/maildatd.$r.log" \
	    "$MAILDATD" -d -c "$work/maildatd.conf" --once
	W=$(sed -n 's/.*started: .*, \([0-9]*\) workers.*/\1/p' \
	    "$work/maildatd.$r.log" | head -1)
	[ -n "$W" ] || { cat "$work/maildatd.$r.log"; exit 1; }
	# shellcheck disable=SC2046
	set -- $(python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
print(*c.execute("select count(*), total(outcome = \"ok\"), "
 "(max(finished_us)-min(started_us))/1e6 from crawl").fetchone())' \
	    "$work/db/maildat.db" 2>/dev/null || echo 0 0 0)
	echo "run $r maildatd  ($W workers): $(last); $1 crawls, $2 ok," \
	    "first crawl start to last crawl end $3 s"

	time_cmd raw "$work/raw.$r.log" "$work/raw_libsmbclient" -n "$W" \
	    "$URLS"
	echo "run $r raw       ($W processes): $(last)"
	grep -v '^raw_libsmbclient: [0-9]* locations' "$work/raw.$r.log" |
	    head -3 || :
	sed -n 's/.*\([0-9][0-9]* failed\).*/  \1/p' "$work/raw.$r.log"

	time_cmd smbclient "$work/smbclient.$r.log" sh -c "$LOOP" sh "$URLS"
	echo "run $r smbclient (sequential): $(last);" \
	    "$(grep -c failed "$work/smbclient.$r.log" || :) failed"

	time_cmd impacket "$work/impacket.$r.log" /usr/bin/python3 \
	    "$SRC/bench/impacket_crawl.py" -t "$W" "$URLS"
	echo "run $r impacket  ($W threads): $(last)"
	sed -n 's/.*\([0-9][0-9]* failed\).*/  \1/p' "$work/impacket.$r.log"
	r=$((r + 1))
done
echo "end: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"

# Medians (of wall time and of CPU, each on its own).
awk -v n="$N" -v reps="$REPEAT" '
function median(a, k,    i, j, t) {
	for (i = 2; i <= k; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{ c = ++cnt[$1]; wall[$1, c] = $2; cpu[$1, c] = $3 }
END {
	printf "\nmedian of %d runs, %d locations:\n", reps, n
	printf "  %-10s %10s %12s %22s\n", "client", "wall s", "crawls/s", \
	    "CPU s per 1000 crawls"
	split("maildatd raw smbclient impacket", names, " ")
	for (i = 1; i <= 4; i++) {
		m = names[i]
		for (j = 1; j <= cnt[m]; j++) { w[j] = wall[m, j]; u[j] = cpu[m, j] }
		mw[m] = median(w, cnt[m]); mc[m] = median(u, cnt[m])
		printf "  %-10s %10.2f %12.1f %22.2f\n", m, mw[m], n / mw[m], \
		    mc[m] * 1000 / n
	}
	printf "targets:\n"
	printf "  maildatd rate / raw rate        = %5.1f%%  (>= 90%%: %s)\n", \
	    100 * mw["raw"] / mw["maildatd"], \
	    (mw["raw"] / mw["maildatd"] >= 0.9 ? "met" : "NOT met")
	printf "  maildatd rate / smbclient rate  = %5.1fx  (>= 5x: %s)\n", \
	    mw["smbclient"] / mw["maildatd"], \
	    (mw["smbclient"] / mw["maildatd"] >= 5 ? "met" : "NOT met")
	printf "  maildatd CPU / impacket CPU     = %5.3f   (<= 0.2: %s)\n", \
	    mc["maildatd"] / mc["impacket"], \
	    (mc["maildatd"] / mc["impacket"] <= 0.2 ? "met" : "NOT met")
}' "$work/runs"
