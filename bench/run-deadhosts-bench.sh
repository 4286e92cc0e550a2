#!/bin/sh
# Dead hosts: one maildatd --once round over 10,000 targets that never
# answer, beside live postoffices, against the live postoffices alone.
#
#	sh bench/run-deadhosts-bench.sh [BUILD-DIR] [-- options]
#
# Options: -R REFUSED (5000) -H HUNG (5000) -s SERVERS (2) -m SHARES (50)
#          -r REPEAT (3) -t CONNECT_TIMEOUT (5s) -o order: dead-first (the
#          default: the live targets come after the dead ones in the
#          configuration) or live-first -k (keep the work directory)
#
# Live: SERVERS private smbd on 127.0.0.1 with SHARES postoffice shares
# each (bench/smbfarm.py).  Dead (bench/deadhosts.py), each target with an
# address and port of its own, all in 127.0.0.0/8: REFUSED where nothing
# listens (127.1.x.y, refused at once) and HUNG listeners with a full
# backlog that never accept (127.2.x.y, the SYN goes unanswered until the
# connect timeout).  Then REPEAT times: a round over the live targets
# alone, and a round over the dead and the live ones, each with a fresh
# database, the default workers and connect_timeout = CONNECT_TIMEOUT.
#
# Reports for each round, from the crawl table: dead targets per second
# (the dead targets over the time from the start of maildatd to the last
# dead result), the time from the start of maildatd to the last live
# crawl's end, the median live crawl, wall and CPU (/usr/bin/time), and
# the medians.  Needs root (smbd; maildatd then runs as nobody).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/bench/lib.sh"
bench_build_dir "$@"
shift "$BENCH_NARGS"
REFUSED=5000 HUNG=5000 SERVERS=2 SHARES=50 REPEAT=3 CTO=5s ORDER=dead-first
KEEP=0
while getopts R:H:s:m:r:t:o:k opt; do
	case $opt in
	R) REFUSED=$OPTARG ;;
	H) HUNG=$OPTARG ;;
	s) SERVERS=$OPTARG ;;
	m) SHARES=$OPTARG ;;
	r) REPEAT=$OPTARG ;;
	t) CTO=$OPTARG ;;
	o) ORDER=$OPTARG ;;
	k) KEEP=1 ;;
	*) echo "usage: $0 [BUILD-DIR] [-- -R N -H N -s N -m N -r N -t DUR" \
	       "-o dead-first|live-first -k]" >&2
	   exit 2 ;;
	esac
done
MAILDATD=$(bench_program maildatd)

work=$(mktemp -d /tmp/deadhosts-bench.XXXXXX)
chmod 755 "$work"
pids=
cleanup() {
	trap - EXIT INT TERM HUP
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null || :
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || :
	done
	if [ "$KEEP" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "run-deadhosts-bench: $REFUSED refused + $HUNG hung targets," \
    "$SERVERS smbd x $SHARES live shares, connect_timeout $CTO, $ORDER," \
    "$REPEAT runs; in $work"
# shellcheck disable=SC3045
echo "ulimit -n: soft $(ulimit -Sn), hard $(ulimit -Hn)" \
    "(maildatd raises its soft limit to the hard one)"
python3 "$SRC/bench/smbfarm.py" "$BUILD" "$work/farm" --servers "$SERVERS" \
    --shares "$SHARES" >"$work/farm.log" 2>&1 &
pids="$pids $!"
python3 "$SRC/bench/deadhosts.py" "$work" --refused "$REFUSED" \
    --hung "$HUNG" >"$work/dead.log" 2>&1 &
pids="$pids $!"
i=0
while [ ! -f "$work/farm/ready" ] || [ ! -f "$work/dead-ready" ]; do
	for p in $pids; do
		kill -0 "$p" 2>/dev/null || {
			echo "a helper died:" >&2
			cat "$work/farm.log" "$work/dead.log" >&2
			exit 1
		}
	done
	i=$((i + 1))
	[ $i -lt 1200 ] || { echo "helpers: no start in 10 min" >&2; exit 1; }
	sleep 0.5
done
echo "dead targets: $(cat "$work/dead-ready")"

mkdir "$work/db"
chown nobody "$work/db" 2>/dev/null || chmod 777 "$work/db"
# conf NAME WITH-DEAD: write $work/NAME.conf
conf() {
	{
		printf '[maildatd]\ndatabase = %s/db/%s.db\n' "$work" "$1"
		printf 'user = nobody\ncontrol_socket = %s/db/%s.sock\n' \
		    "$work" "$1"
		printf 'syslog = udp:127.0.0.1:9\nconnect_timeout = %s\n' "$CTO"
		if [ "$2" = 1 ] && [ "$ORDER" = dead-first ]; then
			printf '[target dead]\n'
			sed 's/^/url = /' "$work/dead-urls"
		fi
		printf '[target live]\n'
		sed 's/^/url = /' "$work/farm/urls"
		if [ "$2" = 1 ] && [ "$ORDER" != dead-first ]; then
			printf '[target dead]\n'
			sed 's/^/url = /' "$work/dead-urls"
		fi
	} >"$work/$1.conf"
}
conf live 0
conf mixed 1

# round NAME RUN: one maildatd --once round; appends a line to $work/runs.
round() {
	rm -f "$work/db/$1.db"*
	start=$(date +%s%N)
	/usr/bin/time -f '%e %U %S' -o "$work/time.out" \
	    "$MAILDATD" -d -c "$work/$1.conf" --once >"$work/$1.$2.log" 2>&1 ||
	    :
	python3 - "$work/db/$1.db" "$start" "$1" "$(tail -1 "$work/time.out")" \
	    <<'EOF' | tee -a "$work/runs"
import sqlite3, statistics, sys
db, start, name, tm = sys.argv[1], int(sys.argv[2]) // 1000, sys.argv[3], \
    sys.argv[4].split()
c = sqlite3.connect(db)
rows = c.execute('SELECT l.host, c.started_us, c.finished_us, c.outcome '
                 'FROM crawl c JOIN location l ON l.id = c.location_id'
                 ).fetchall()
live = [r for r in rows if r[0] == '127.0.0.1']
dead = [r for r in rows if r[0] != '127.0.0.1']
out = {}
for r in rows:
    out[r[3]] = out.get(r[3], 0) + 1
line = '%s wall %s cpu %.2f' % (name, tm[0], float(tm[1]) + float(tm[2]))
if dead:
    t = (max(r[2] for r in dead) - start) / 1e6
    line += ' dead %d in %.2f s = %.0f/s' % (len(dead), t, len(dead) / t)
t = (max(r[2] for r in live) - start) / 1e6
line += ' live %d ok %d last-end %.2f s median-crawl %.1f ms' % (
    len(live), sum(r[3] == 'ok' for r in live), t,
    statistics.median(r[2] - r[1] for r in live) / 1e3)
line += ' outcomes ' + ','.join('%s=%d' % kv for kv in sorted(out.items()))
print(line)
EOF
}

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' \
    /proc/cpuinfo | head -1), $(awk '/MemTotal/ {print $2, $3}' \
    /proc/meminfo) memory, Linux $(uname -r)"
echo "start: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/runs"
r=1
while [ "$r" -le "$REPEAT" ]; do
	round live "$r"
	round mixed "$r"
	r=$((r + 1))
done
echo "end: $(date -u +%Y-%m-%dT%H:%M:%SZ), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work/runs" <<'EOF'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    d = runs.setdefault(f[0], {})
    def add(k, v):
        d.setdefault(k, []).append(float(v))
    add('wall', f[2]); add('cpu', f[4])
    m = re.search(r'dead (\d+) in ([\d.]+) s = (\d+)/s', line)
    if m:
        add('dead_s', m.group(2)); add('dead_rate', m.group(3))
    m = re.search(r'last-end ([\d.]+) s median-crawl ([\d.]+) ms', line)
    add('live_end', m.group(1)); add('live_crawl', m.group(2))
med = {n: {k: statistics.median(v) for k, v in d.items()}
       for n, d in runs.items()}
print('\nmedians:')
for n in ('live', 'mixed'):
    m = med[n]
    print('  %-6s wall %.2f s, CPU %.2f s, live crawls done %.2f s after '
          'start (median crawl %.1f ms)%s' % (
              n, m['wall'], m['cpu'], m['live_end'], m['live_crawl'],
              ', dead targets done %.2f s after start: %.0f/s'
              % (m['dead_s'], m['dead_rate']) if 'dead_s' in m else ''))
rate = med['mixed']['dead_rate']
print('targets:\n  dead targets/s %.0f (>= 1000: %s)' %
      (rate, 'met' if rate >= 1000 else 'NOT met'))
print('  live crawls done %.2f s after start with the dead ones, %.2f s '
      'without' % (med['mixed']['live_end'], med['live']['live_end']))
EOF
